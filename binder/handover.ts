// A released address goes straight to a worker that waits for one: Karpenter
// launches a replacement before it drains the node it replaces, so with a pool
// the fleet's size the new worker finds it exhausted, and its event comes back
// only after a delay. The waitlist (one item) says who waits; binding goes
// through the same protocol as any bind, so a waiting worker that an event binds
// at the same moment still ends with one binding.
import { bindEach, BindResult, newPoolView, PoolView } from "./bind";
import { fnv1a } from "./candidates";
import { Context, hasTags } from "./context";
import { Address } from "./ec2";
import { observedPhase } from "./lifecycle";
import { ownPool } from "./ownership";

/**
 * After releases freed addresses (those of the `released` workers): binds as many
 * of the longest-waiting running workers, skipping `busy` (the batch's own).
 * Invocations that release at the same moment each take their share of the
 * workers first in line, in an order of their own (a hash of what they
 * released), so they seldom bind the same one twice. Workers that hold an
 * address by now, or no longer run, leave the list. Costs one read when nobody
 * waits. Never throws: a failure leaves the workers to their events.
 */
export async function handOver(ctx: Context, released: string[], busy: Set<string>): Promise<BindResult[]> {
    const log = ctx.log.with({ action: "hand-over" });
    try {
        const waiting = (await ctx.store.waiting()).filter(w => !busy.has(w.instanceId));
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
        // The workers first in line, one per free address, in this invocation's own order, then the rest in line.
        const key = released.join(",");
        const head = running.slice(0, freeIn(pool))
            .map(instance => ({ instance, rank: fnv1a(`${key}/${instance.instanceId}`) }))
            .sort((a, b) => a.rank - b.rank)
            .map(({ instance }) => instance);
        const queue = [...head, ...running.slice(head.length)];
        // In rounds: a worker that turns out to be draining takes no address, so the next one may.
        const results: BindResult[] = [];
        const handed: string[] = [];
        const share = () => Math.min(released.length - handed.length, freeIn(view.addresses));
        for (let want = share(); want > 0 && queue.length > 0; want = share()) {
            const round = await bindEach(ctx, queue.splice(0, want), view);
            results.push(...round);
            handed.push(...round.flatMap(r => ("outcome" in r && r.outcome === "bound" ? [r.instanceId] : [])));
            if (round.every(r => "error" in r)) break;
        }
        const settled = results.flatMap(r => ("outcome" in r ? [r.instanceId] : []));
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
