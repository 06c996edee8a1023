// A released address goes straight to a worker that waits for one: Karpenter
// launches a replacement before it drains the node it replaces, so with a pool
// the fleet's size the new worker finds it exhausted, and its event comes back
// only after a delay. The waitlist (an item per worker, and an index) says who waits; binding goes
// through the same protocol as any bind, so a waiting worker that an event binds
// at the same moment still ends with one binding.
import { bindEach, BindResult, newPoolView, PoolView } from "./bind";
import { Context, hasTags } from "./context";
import { Address } from "./aws/ec2";
import { observedPhase } from "./lifecycle";
import { ownPool } from "./ownership";

/**
 * After a release freed `freed` addresses: binds the longest-waiting running
 * workers, as many as there are free addresses, skipping `busy` (the batch's
 * own). Workers that hold an address by now, or no longer run, leave the list.
 * Reads at most `freed` places from the waitlist's index, and as many more as the
 * batch has instances (skipped; the spare ones serve when one in line drains): one
 * Query, which finds nothing when nobody waits, whatever the length of the line.
 * Never throws: a failure leaves the workers to their events.
 */
export async function handOver(ctx: Context, busy: Set<string>, freed: number): Promise<BindResult[]> {
    const log = ctx.log.with({ action: "hand-over" });
    try {
        const waiting = (await ctx.store.waiting(freed + busy.size)).filter(w => !busy.has(w.instanceId));
        if (waiting.length === 0) return [];
        const view: PoolView & { addresses: Address[] } = { ...newPoolView(), addresses: await ownPool(ctx) };
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
        // In rounds: a worker that turns out to be draining takes no address, so the next one may.
        const results: BindResult[] = [];
        const queue = [...running];
        for (let free = freeIn(view.addresses); free > 0 && queue.length > 0; free = freeIn(view.addresses)) {
            const round = await bindEach(ctx, queue.splice(0, free), view);
            results.push(...round);
            if (round.every(r => "error" in r)) break;
        }
        const settled = results.flatMap(r => ("outcome" in r ? [r.instanceId] : []));
        const handed = results.flatMap(r => ("outcome" in r && r.outcome === "bound" ? [r.instanceId] : []));
        handed.forEach(() => ctx.metrics.handedOver());
        if (handed.length > 0) log.info("freed addresses handed to waiting workers", { outcome: "handed-over", instanceIds: handed });
        await ctx.store.stopWaiting([...new Set([...leaving.map(w => w.instanceId), ...settled])]);
        return results;
    } catch (error) {
        log.warn("could not hand freed addresses to waiting workers; their events will bind them", { error });
        return [];
    }
}

const freeIn = (pool: Address[]) => pool.filter(a => !a.association).length;
