// One batch of events, instance by instance: one read of the batch's instances,
// then for each the verdict of lifecycle.ts carried out with the same bind,
// release and withdraw the reconciler uses.
import { bind, newPoolView, PoolView } from "./bind";
import { Context, hasTags } from "./context";
import { hasTimeToStart } from "./deadline";
import { Instance } from "./ec2";
import { Announcement, decide, observedPhase, Phase } from "./lifecycle";
import { release, withdraw } from "./release";

export interface InstanceWork {
    instanceId: string;
    announcements: Announcement[];
}

/** How one instance's work ended: its outcome and which messages wait or are done, or the error that fails them all. */
export type Settled =
    | { instanceId: string; outcome: string; wait: string[]; done: string[] }
    | { instanceId: string; error: unknown };

/** Releases first, so that an address freed in the batch can go to a launch in it. */
const ORDER: Record<Phase, number> = { gone: 0, stopped: 1, running: 2, starting: 3, unknown: 3 };

/**
 * Settles each instance of a batch. Never throws; stops starting work near the
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
    const view = newPoolView();
    const observed = work
        .map(w => ({ ...w, instance: instances.find(i => i.instanceId === w.instanceId) }))
        .sort((a, b) => ORDER[observedPhase(a.instance)] - ORDER[observedPhase(b.instance)]);
    const results: Settled[] = [];
    for (const { instanceId, announcements, instance } of observed) {
        if (!hasTimeToStart(ctx.timeLeft())) break;
        try {
            results.push({ instanceId, ...(await settle(ctx, instanceId, instance, announcements, view)) });
        } catch (error) {
            results.push({ instanceId, error });
        }
    }
    return results;
}

/** One instance: what EC2 shows is done, and the messages that disagree with it wait. */
async function settle(
    ctx: Context, instanceId: string, instance: Instance | undefined, announcements: Announcement[], view: PoolView,
): Promise<{ outcome: string; wait: string[]; done: string[] }> {
    const log = ctx.log.with({ instanceId });
    if (instance && !hasTags(instance.tags, ctx.settings.instanceTags)) {
        // One read and nothing else for an instance that is not ours (a binding left on an
        // instance that lost its tags is the reconciler's).
        log.info("instance lacks the instance tags; not a target", { outcome: "not-a-target", state: instance.state });
        return { outcome: "not-a-target", wait: [], done: announcements.map(a => a.messageId) };
    }
    const { act, wait, done } = decide(observedPhase(instance), announcements);
    const observed = instance?.state ?? "not found";
    if (act && wait.length > 0) log.info("other events for this instance disagree with EC2; they will come again", { outcome: "waiting", observed });
    switch (act) {
        case "bind": return { outcome: await bind(ctx, instance!, view), wait, done };
        case "release": return { outcome: await release(ctx, instanceId), wait, done };
        case "withdraw": return { outcome: await withdraw(ctx, instanceId, instance?.launchedAt), wait, done };
    }
    if (wait.length > 0) {
        log.info("EC2 does not show what the event says yet; the event will come again", { outcome: "waiting", observed, announced: announcements.map(a => a.phase) });
        return { outcome: "waiting", wait, done };
    }
    log.info("EC2 never showed what the event says; nothing to do (the reconciler checks again)", { outcome: "unconfirmed", observed });
    return { outcome: "unconfirmed", wait, done };
}
