// A released address goes straight to a worker that waits for one: Karpenter
// launches a replacement before it drains the node it replaces, so with a pool
// the fleet's size the new worker finds it exhausted, and its event comes back
// only after a delay. The waitlist (one item) says who waits; binding goes
// through the same protocol as any bind, so a waiting worker that an event binds
// at the same moment still ends with one binding.
import { bindEach, BindResult, newPoolView } from "./bind";
import { Context, hasTags } from "./context";
import { observedPhase } from "./lifecycle";
import { ownPool } from "./ownership";

/**
 * After a release freed addresses: binds the longest-waiting running workers, as
 * many as there are free addresses, skipping `busy` (the batch's own). Workers
 * that hold an address by now, or no longer run, leave the list. Costs one read
 * when nobody waits. Never throws: a failure leaves the workers to their events.
 */
export async function handOver(ctx: Context, busy: Set<string>): Promise<BindResult[]> {
    const log = ctx.log.with({ action: "hand-over" });
    try {
        const waiting = (await ctx.store.waiting()).filter(w => !busy.has(w.instanceId));
        if (waiting.length === 0) return [];
        const view = { ...newPoolView(), addresses: await ownPool(ctx) };
        const pool = view.addresses;
        const holding = new Set(pool.flatMap(a => a.association?.instanceId ?? []));
        const instances = await ctx.ec2.instances(waiting.filter(w => !holding.has(w.instanceId)).map(w => w.instanceId));
        const shown = (instanceId: string) => instances.find(i => i.instanceId === instanceId);
        const running = waiting.flatMap(w => {
            const instance = shown(w.instanceId);
            return instance && observedPhase(instance) === "running" && hasTags(instance.tags, ctx.settings.instanceTags) ? [instance] : [];
        });
        // A worker EC2 does not show at all may be one a lagging read has not caught up with: it stays (the reconciler prunes it).
        const leaving = waiting.filter(w => {
            const instance = shown(w.instanceId);
            return holding.has(w.instanceId) || (instance !== undefined && (!hasTags(instance.tags, ctx.settings.instanceTags) || ["gone", "stopped"].includes(observedPhase(instance))));
        });
        const free = pool.filter(a => !a.association).length;
        const results = await bindEach(ctx, running.slice(0, free), view);
        const bound = results.flatMap(r => ("outcome" in r ? [r.instanceId] : []));
        bound.forEach(() => ctx.metrics.handedOver());
        if (bound.length > 0) log.info("freed addresses handed to waiting workers", { outcome: "handed-over", instanceIds: bound });
        await ctx.store.stopWaiting([...new Set([...leaving.map(w => w.instanceId), ...bound])]);
        return results;
    } catch (error) {
        log.warn("could not hand freed addresses to waiting workers; their events will bind them", { error });
        return [];
    }
}
