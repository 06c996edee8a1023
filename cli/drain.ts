// `drain <instance-id>` and `undrain <instance-id>`: an operator takes a worker off
// the scheduler's list for maintenance, and puts it back. A draining worker keeps
// its address, name and claim, so the streams already on it go on.
import { Context, describeTags, hasTags } from "../binder/context";
import { drain, undrain } from "../binder/drain";
import { Instance } from "../binder/aws/ec2";
import { observedPhase } from "../binder/lifecycle";
import { Claim, DrainSignal, drainHolds, holdingSignals } from "../binder/aws/store";
import { refusal } from "./errors";
import { age } from "./format";

/** The instance EC2 shows, if it is one to drain; else a refusal that says why not. */
function drainable(ctx: Context, instanceId: string, instance: Instance | undefined): Instance {
    if (!instance) throw refusal(`EC2 does not show ${instanceId} in this account and region; nothing drained`);
    const { instanceTags } = ctx.settings;
    if (!hasTags(instance.tags, instanceTags)) {
        throw refusal(`${instanceId} is not one of this stack's workers: it lacks the instance tags ${describeTags(instanceTags)}; nothing drained`);
    }
    const phase = observedPhase(instance);
    if (phase === "gone") throw refusal(`${instanceId} is ${instance.state}: it is going away already; the binder releases it`);
    // A drain holds for the run it was signalled in: a stopped worker's next start would be served again.
    if (phase === "stopped") {
        throw refusal(`${instanceId} is ${instance.state}: the binder withdraws its row while it is stopped, and a drain would not outlast its next start; nothing drained`);
    }
    return instance;
}

/** "operator, signalled 3m ago; spot-interruption, signalled 1m ago" */
const described = (signals: DrainSignal[], now: Date) =>
    signals.map(signal => `${signal.cause}, signalled ${age(now.getTime() - Date.parse(signal.signalledAt))} ago`).join("; ");

/** What a draining worker keeps. */
const keeps = (claim: Claim | undefined) =>
    (claim ? `it keeps ${claim.publicIp} (${claim.dnsName}) and its claim until it terminates` : "it holds no pool address");

export async function drainCommand(ctx: Context, instanceId: string, out: (text: string) => void): Promise<number> {
    const shown = (await ctx.ec2.instances([instanceId])).find(instance => instance.instanceId === instanceId);
    const instance = drainable(ctx, instanceId, shown);
    const signalledAt = ctx.now().toISOString();
    if (!drainHolds({ signalledAt }, instance.launchedAt)) {
        // The drain would be of a run before this one: only a clock behind EC2's says so.
        throw refusal(`${instanceId} started at ${instance.launchedAt}, later than this machine's clock says it is (${signalledAt}): check the clock; nothing drained`);
    }
    const outcome = await drain(ctx, instance, [{ cause: "operator", signalledAt }]);
    const [claim, mark] = await Promise.all([
        ctx.store.claim(instanceId),
        outcome === "already-draining" ? ctx.store.drainOf(instanceId) : undefined,
    ]);
    const holding = holdingSignals(mark, instance.launchedAt);
    const done = outcome === "drained" ? `drained ${instanceId}` : `${instanceId} is already draining${holding.length > 0 ? ` (${described(holding, ctx.now())})` : ""}`;
    out(`${done}: not on the servers table while it drains; ${keeps(claim)}; undo with: eip-dns-binder undrain ${instanceId}\n`);
    return 0;
}

/** Exit code 1 when the worker is not published again for a failure, or because a newer drain holds. */
export async function undrainCommand(ctx: Context, instanceId: string, out: (text: string) => void): Promise<number> {
    const { outcome, mark, bind } = await undrain(ctx, instanceId);
    if (outcome === "not-draining") {
        out(`${instanceId} is not draining\n`);
        return 0;
    }
    if (outcome === "draining") {
        out(`${instanceId} is still draining: a drain signal came in since it was read; not published\n`);
        return 1;
    }
    const undrained = `undrained ${instanceId}${mark ? ` (${described(mark.signals, ctx.now())})` : ""}`;
    if (bind === undefined || "error" in bind) {
        out(`${undrained}, but publishing it failed; the reconciler tries again on its next run\n`);
        if (bind) throw bind.error;
        return 1;
    }
    switch (bind.outcome) {
        case "bound":
        case "already-bound": {
            const claim = await ctx.store.claim(instanceId);
            const server = claim ? `${claim.publicIp} (${claim.dnsName})` : "its server";
            const again = bind.outcome === "already-bound" ? " again" : "";
            out(`${undrained}: ${server} is on the servers table${again}\n`);
            return 0;
        }
        case "not-running":
            out(`${undrained}: not published, EC2 does not show it running\n`);
            return 0;
        case "not-a-target":
            out(`${undrained}: not published, it lacks the instance tags ${describeTags(ctx.settings.instanceTags)}\n`);
            return 0;
        case "draining":
            out(`${instanceId} is still draining: a newer drain signal came in; not published\n`);
            return 1;
        case "holds-other-address":
            out(`${undrained}: not published, it holds an Elastic IP outside the pool\n`);
            return 0;
    }
}
