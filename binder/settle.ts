// One batch of events: one read of the batch's instances, then for each the
// verdict of lifecycle.ts, carried out with the same binds, releases and
// withdrawals the reconciler uses.
import { bindEach, newPoolView } from "./bind";
import { Context, hasTags } from "./context";
import { hasTimeToStart } from "./deadline";
import { Instance } from "./ec2";
import { Announcement, decide, observedPhase } from "./lifecycle";
import { releaseAll, withdraw } from "./release";

export interface InstanceWork {
    instanceId: string;
    announcements: Announcement[];
}

/** How one instance's work ended: its outcome and which messages wait or are done, or the error that fails them all. */
export type Settled =
    | { instanceId: string; outcome: string; wait: string[]; done: string[] }
    | { instanceId: string; error: unknown };

/** What EC2 shows for one instance of the batch: what is to be done, or the outcome when nothing is. */
type Verdict = { instanceId: string; wait: string[]; done: string[] } & (
    | { act: "bind" | "release" | "withdraw"; instance?: Instance }
    | { act?: undefined; outcome: string }
);

/**
 * Settles each instance of a batch: withdrawals and releases first, so that an
 * address freed in the batch can go to a launch in it, then the binds, whose
 * names go to Route53 together. Never throws; stops starting work near the
 * invocation's timeout, and the instances it did not get to have no result.
 */
export async function settleAll(ctx: Context, work: InstanceWork[]): Promise<Settled[]> {
    if (!hasTimeToStart(ctx.timeLeft())) return [];
    let instances: Instance[];
    try {
        instances = await ctx.ec2.instances(work.map(w => w.instanceId));
    } catch (error) {
        return work.map(({ instanceId }) => ({ instanceId, error }));
    }
    const verdicts = work.map(w => judge(ctx, w, instances.find(i => i.instanceId === w.instanceId)));
    const results: Settled[] = verdicts.flatMap(v => (v.act ? [] : [{ instanceId: v.instanceId, outcome: v.outcome, wait: v.wait, done: v.done }]));
    const settled = (acted: { instanceId: string; outcome: string } | { instanceId: string; error: unknown }) => {
        const { wait, done } = verdicts.find(v => v.instanceId === acted.instanceId)!;
        results.push("error" in acted ? acted : { ...acted, wait, done });
    };
    for (const v of verdicts) {
        if (v.act !== "withdraw") continue;
        if (!hasTimeToStart(ctx.timeLeft())) return results;
        const { instanceId } = v;
        await withdraw(ctx, instanceId, v.instance?.launchedAt).then(outcome => settled({ instanceId, outcome }), error => settled({ instanceId, error }));
    }
    (await releaseAll(ctx, verdicts.filter(v => v.act === "release").map(v => v.instanceId))).forEach(settled);
    (await bindEach(ctx, verdicts.flatMap(v => (v.act === "bind" ? [v.instance!] : [])), newPoolView())).forEach(settled);
    return results;
}

/** One instance: what EC2 shows is to be done, and the messages that disagree with it wait. */
function judge(ctx: Context, { instanceId, announcements }: InstanceWork, instance: Instance | undefined): Verdict {
    const log = ctx.log.with({ instanceId });
    if (instance && !hasTags(instance.tags, ctx.settings.instanceTags)) {
        // One read and nothing else for an instance that is not ours (a binding left on an
        // instance that lost its tags is the reconciler's).
        log.info("instance lacks the instance tags; not a target", { outcome: "not-a-target", state: instance.state });
        return { instanceId, outcome: "not-a-target", wait: [], done: announcements.map(a => a.messageId) };
    }
    const { act, wait, done } = decide(observedPhase(instance), announcements);
    const observed = instance?.state ?? "not found";
    if (act) {
        if (wait.length > 0) log.info("other events for this instance disagree with EC2; they will come again", { outcome: "waiting", observed });
        return { instanceId, instance, act, wait, done };
    }
    if (wait.length > 0) {
        log.info("EC2 does not show what the event says yet; the event will come again", { outcome: "waiting", observed, announced: announcements.map(a => a.phase) });
        return { instanceId, outcome: "waiting", wait, done };
    }
    log.info("EC2 never showed what the event says; nothing to do (the reconciler checks again)", { outcome: "unconfirmed", observed });
    return { instanceId, outcome: "unconfirmed", wait, done };
}
