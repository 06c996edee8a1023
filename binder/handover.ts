// A released address goes straight to a worker that waits for one: Karpenter
// launches a replacement before it drains the node it replaces, so with a pool
// the fleet's size the new worker finds it exhausted, and its event comes back
// only after a delay. The waitlist (an item per worker, and an index) says who waits; binding goes
// through the same protocol as any bind, so a waiting worker that an event binds
// at the same moment still ends with one binding.
import { bindEach, BindResult, newPoolView, PoolView } from "./bind";
import { Context, hasTags } from "./context";
import { Address, Instance } from "./aws/ec2";
import { Waiting } from "./aws/store";
import { observedPhase } from "./lifecycle";
import { ownPool } from "./ownership";

/**
 * After a release freed `freed` addresses: binds the longest-waiting running
 * workers, as many as there are free addresses, skipping `busy` (the batch's
 * own). Hand-overs after releases at the same moment read the same head of the
 * line, so each takes a worker's place (a conditional delete) before binding it:
 * one hand-over per worker, the others read on down the line. Workers that hold an
 * address by now, or no longer run, leave the list. Each read of the waitlist's
 * index is one Query of twice as many places as are still to fill, and as many
 * more as the batch has instances (skipped): when nobody waits it finds nothing,
 * whatever the length of the line, and it reads further only as far as other
 * hand-overs got ahead of it. Never throws: a failure leaves the workers to their events.
 */
export async function handOver(ctx: Context, busy: Set<string>, freed: number): Promise<BindResult[]> {
    const log = ctx.log.with({ action: "hand-over" });
    try {
        const line = new Line(ctx, busy);
        if (!await line.read(freed)) return [];
        // In rounds: a worker that turns out to be draining takes no address, so the next one may.
        const results: BindResult[] = [];
        for (let free = freeIn(line.view.addresses); free > 0; free = freeIn(line.view.addresses)) {
            const taken = await line.take(free);
            if (taken.length === 0) break;
            const round = await bindEach(ctx, taken.map(t => t.instance), line.view);
            results.push(...round);
            // A bind that failed, or never started for want of time, gives its worker its place back.
            const failed = taken.filter(t => !round.some(r => r.instanceId === t.instance.instanceId && "outcome" in r));
            await Promise.all(failed.map(({ place }) => ctx.store.wait([place.instanceId], place.since)));
            if (failed.length === taken.length) break;
        }
        const handed = results.flatMap(r => ("outcome" in r && r.outcome === "bound" ? [r.instanceId] : []));
        handed.forEach(() => ctx.metrics.handedOver());
        if (handed.length > 0) log.info("freed addresses handed to waiting workers", { outcome: "handed-over", instanceIds: handed });
        await ctx.store.stopWaiting(line.leaving);
        return results;
    } catch (error) {
        log.warn("could not hand freed addresses to waiting workers; their events will bind them", { error });
        return [];
    }
}

/** Reads beyond the first this many times at most: only as many hand-overs as run at once can be ahead. */
const MORE_READS = 4;

interface InLine {
    place: Waiting;
    instance: Instance;
}

/** The waitlist from its head, read a page at a time as far as a hand-over needs, with EC2's word on each worker. */
class Line {
    /** The pool as read once, updated by the binds (see PoolView). */
    readonly view: PoolView & { addresses: Address[] } = { ...newPoolView(), addresses: [] };
    /** Workers that hold an address by now, or no longer run as targets: they leave the list. */
    readonly leaving: string[] = [];
    private readonly running: InLine[] = [];
    private last?: Waiting;
    private reads = 0;
    private exhausted = false;

    constructor(private readonly ctx: Context, private readonly busy: Set<string>) {}

    /** Reads the next page for `wanted` places; false when it found nobody (the line ends there). */
    async read(wanted: number): Promise<boolean> {
        const { ctx } = this;
        const page = await ctx.store.waiting(2 * wanted + this.busy.size, this.last);
        this.reads++;
        this.last = page[page.length - 1] ?? this.last;
        if (page.length < 2 * wanted + this.busy.size) this.exhausted = true;
        const waiting = page.filter(w => !this.busy.has(w.instanceId));
        if (waiting.length === 0) return false;
        if (this.reads === 1) this.view.addresses = await ownPool(ctx);
        const holding = new Set(this.view.addresses.flatMap(a => a.association?.instanceId ?? []));
        const instances = await ctx.ec2.instances(waiting.filter(w => !holding.has(w.instanceId)).map(w => w.instanceId));
        const target = (instance: Instance) => hasTags(instance.tags, ctx.settings.instanceTags);
        for (const place of waiting) {
            const instance = instances.find(i => i.instanceId === place.instanceId);
            if (instance && observedPhase(instance) === "running" && target(instance)) this.running.push({ place, instance });
            // A worker EC2 does not show at all may be one a lagging read has not caught up with: it stays (the reconciler prunes it).
            else if (holding.has(place.instanceId) || (instance && (!target(instance) || ["gone", "stopped"].includes(observedPhase(instance))))) this.leaving.push(place.instanceId);
        }
        return true;
    }

    /** Takes up to `count` places from the head of the line, passing over those another hand-over took first. */
    async take(count: number): Promise<InLine[]> {
        const taken: InLine[] = [];
        while (taken.length < count) {
            if (this.running.length === 0) {
                if (this.exhausted || this.reads > MORE_READS || !await this.read(count - taken.length)) break;
                continue;
            }
            const tried = this.running.splice(0, count - taken.length);
            const won = await Promise.all(tried.map(t => this.ctx.store.takeFromWaitlist(t.place.instanceId)));
            taken.push(...tried.filter((_, i) => won[i]));
        }
        return taken;
    }
}

const freeIn = (pool: Address[]) => pool.filter(a => !a.association).length;
