// Draining: a worker that is about to go (a Spot interruption, a scheduled
// change, an operator's word) leaves the scheduler's list at once, but keeps its
// address, name and claim for the streams already on it, until EC2 shows it
// going away. The mark goes first and the row after it: a bind still on its way
// cannot publish once the mark is there (a row write checks it), and a row
// published before it is the one taken away.
import { bindAll, BindResult } from "./bind";
import { Context } from "./context";
import { Instance } from "./aws/ec2";
import { DrainCause, drainHolds, DrainMark } from "./aws/store";

export type DrainOutcome = "drained" | "already-draining" | "earlier-run";

/** What says the worker goes: its cause, when it was sent, and when it says the worker goes. */
export interface DrainNotice {
    cause: DrainCause;
    signalledAt: string;
    deadline?: string;
}

/**
 * Drains the run of `instance` that EC2 showed: records the mark (a duplicate
 * signal finds it there and changes nothing), then withdraws the row of every run
 * the signal concerns. A signal sent before the run EC2 shows began (a stop and
 * start since) drains only that earlier run: its row, which the stop's own
 * withdrawal may not have taken yet, goes, and a late bind of it cannot publish
 * it again; the run EC2 shows is served. Repeating it after a failure finishes
 * the same drain.
 */
export async function drain(ctx: Context, instance: Instance, notice: DrainNotice): Promise<DrainOutcome> {
    const { instanceId, launchedAt } = instance;
    const log = ctx.log.with({ instanceId, action: "drain" });
    const holds = drainHolds(notice, launchedAt);
    // Marked even for an earlier run: a bind of that run still on its way must not publish it.
    const fresh = await ctx.store.markDrain({ instanceId, ...notice, recordedAt: ctx.now().toISOString() }, launchedAt);
    const claim = await ctx.store.claim(instanceId);
    if (claim) await ctx.store.withdrawSignalled(claim.publicIp, claim.dnsName, instanceId, notice.signalledAt);
    // A worker about to go has no use for an address a release frees.
    else if (holds) await ctx.store.stopWaiting([instanceId]);
    if (!holds) {
        log.info("the signal is of an earlier run of the instance; nothing to drain", { outcome: "earlier-run", cause: notice.cause, signalledAt: notice.signalledAt, launchedAt });
        return "earlier-run";
    }
    const outcome = fresh ? "drained" : "already-draining";
    if (fresh) ctx.metrics.drained(notice.cause);
    log.info(fresh ? "draining: row withdrawn; address, name and claim kept until it goes" : "already draining; row withdrawn", {
        outcome, cause: notice.cause, deadline: notice.deadline, publicIp: claim?.publicIp,
    });
    return outcome;
}

export type UndrainOutcome = "undrained" | "not-draining";

/**
 * Ends a drain an operator started (or a signal that proved false): forgets the
 * mark, then binds the instance again, which publishes its row if it still runs
 * and holds its address. Only the mark that was read goes, not a newer signal's.
 */
export async function undrain(ctx: Context, instanceId: string): Promise<{ outcome: UndrainOutcome; mark?: DrainMark; bind?: BindResult }> {
    const log = ctx.log.with({ instanceId, action: "undrain" });
    const mark = await ctx.store.drainOf(instanceId);
    if (!mark) {
        log.info("not draining", { outcome: "not-draining" });
        return { outcome: "not-draining" };
    }
    await ctx.store.forgetDrain(instanceId, mark.signalledAt);
    log.info("drain ended; publishing the server again", { outcome: "undrained", cause: mark.cause });
    const [bind] = await bindAll(ctx, [instanceId]);
    return { outcome: "undrained", mark, bind };
}
