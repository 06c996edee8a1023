import { candidateOrder } from "./candidates";
import { claimFor, Context, describeTags, hasTags } from "./context";
import { hasTimeToStart, waitBudgetSeconds } from "./deadline";
import { IN_SYNC_WAIT } from "./dns";
import { Address, Attachment, Instance, isAttachedTo } from "./ec2";
import { namedError } from "./errors";
import { Logger } from "./log";
import { release } from "./release";
import { Claim } from "./store";

export type BindOutcome = "bound" | "already-bound" | "not-a-target" | "not-running" | "unknown-instance" | "released";

/** No pool address could be had. Thrown, so the event is retried and finally dead-lettered. */
const poolExhausted = (message: string) => namedError("PoolExhaustedError", message);

/** Another invocation changed this instance's claim under us; a retry will see the new state. */
const claimRace = (instanceId: string) =>
    namedError("ClaimRaceError", `the claim of ${instanceId} changed while it was being bound; retrying`);

const GOING_AWAY = ["shutting-down", "terminated"];

/** How binding one instance of a batch ended: its outcome, or the error that fails its events. */
export type BindResult = { instanceId: string; outcome: BindOutcome } | { instanceId: string; error: unknown };

/**
 * What a batch knows of the pool: read from EC2 once, when the first instance
 * needs it, then kept current with the batch's own associations and with the
 * locks a collision showed, so that later instances do not pick those.
 */
interface PoolView {
    addresses?: Address[];
    /** Lock owners by allocation id, as of the last read of the locks. */
    locks: Map<string, string>;
}

/**
 * Gives each running target instance in `instanceIds` one pool address, its name
 * and its server row, one instance after another. The instances are read in one
 * call and the pool in at most one, which is what makes a batch cheaper than its
 * events one by one. One instance's failure does not stop the others; it never
 * throws, a failure is in the instance's result. Near the invocation's timeout it
 * stops starting binds: the instances it did not get to have no result.
 */
export async function bindAll(ctx: Context, instanceIds: string[]): Promise<BindResult[]> {
    if (!hasTimeToStart(ctx.timeLeft())) return [];
    let instances: Instance[];
    try {
        instances = await ctx.ec2.instances(instanceIds);
    } catch (error) {
        return instanceIds.map(instanceId => ({ instanceId, error }));
    }
    const view: PoolView = { locks: new Map() };
    const results: BindResult[] = [];
    for (const instanceId of instanceIds) {
        if (!hasTimeToStart(ctx.timeLeft())) break;
        try {
            const instance = instances.find(i => i.instanceId === instanceId);
            results.push({ instanceId, outcome: await bindInstance(ctx, instanceId, instance, view) });
        } catch (error) {
            results.push({ instanceId, error });
        }
    }
    return results;
}

/**
 * Claim (DynamoDB, one per instance) → lock (DynamoDB, one per address) →
 * associate (EC2, fails if the address is taken) → name (per-binding only) → row.
 * Every step is safe to repeat, so a retry after a failure anywhere finishes the
 * same binding.
 */
async function bindInstance(ctx: Context, instanceId: string, instance: Instance | undefined, view: PoolView): Promise<BindOutcome> {
    const log = ctx.log.with({ instanceId, action: "bind" });
    const started = ctx.now().getTime();
    if (!instance) {
        log.info("instance not found; nothing to bind", { outcome: "unknown-instance" });
        return "unknown-instance";
    }
    if (GOING_AWAY.includes(instance.state)) {
        log.info("instance is going away; releasing instead", { state: instance.state });
        await release(ctx, instanceId);
        return "released";
    }
    if (instance.state !== "running") {
        log.info("instance is not running; nothing to bind", { outcome: "not-running", state: instance.state });
        return "not-running";
    }
    if (!hasTags(instance.tags, ctx.settings.instanceTags)) {
        log.info("instance lacks the instance tags; not a target", { outcome: "not-a-target" });
        return "not-a-target";
    }
    if (!instance.primary) throw new Error(`running instance ${instanceId} has no primary network interface`);
    const target = instance.primary;

    const pool = view.addresses ??= await ctx.ec2.pool(ctx.settings.addressTags);
    const free = pool.filter(address => !address.association).length;
    const held = pool.find(address => isAttachedTo(address, target));
    if (held?.association) {
        const claim = await adoptHeld(ctx, instanceId, held);
        await publish(ctx, claim, held.association.associationId, log, "already-bound");
        ctx.metrics.pool(pool.length, free);
        return "already-bound";
    }
    const { claim, associationId } = await claimAndAssociate(ctx, instanceId, target, pool, view, log);
    view.addresses = pool.map(address => address.allocationId === claim.allocationId
        ? { ...address, association: { ...target, associationId, instanceId } }
        : address);
    await publish(ctx, claim, associationId, log, "bound");
    ctx.metrics.pool(pool.length, free - 1);
    ctx.metrics.bound(ctx.now().getTime() - started);
    return "bound";
}

/** Makes sure the instance's claim and the address's lock name the address it already holds. */
async function adoptHeld(ctx: Context, instanceId: string, held: Address): Promise<Claim> {
    const now = ctx.now().toISOString();
    if (!(await ctx.store.lock(held.allocationId, instanceId, now))) await ctx.store.takeLock(held.allocationId, instanceId, now);
    const claim = claimFor(ctx, instanceId, held);
    if (await ctx.store.writeClaim(claim)) return claim;
    const existing = await ctx.store.claim(instanceId);
    if (existing?.allocationId === held.allocationId) return existing;
    if (!existing) throw claimRace(instanceId);
    // The claim names another address, but EC2 says this one is on the instance (one
    // address per private IP): the other was replaced, so its row goes and the claim follows.
    await ctx.store.withdraw(existing.publicIp, existing.dnsName, instanceId);
    if (!(await ctx.store.writeClaim(claim, existing.allocationId))) throw claimRace(instanceId);
    return claim;
}

/**
 * Claims a free address, locks it and associates it. Candidates are tried in the
 * instance's own order; an address another instance has locked (a DynamoDB write,
 * cheap) or has been given by hand (an EC2 call) moves the claim to the next one.
 * Duplicate invocations for one instance share the claim and the lock, so they
 * associate the same address.
 */
async function claimAndAssociate(
    ctx: Context, instanceId: string, target: Attachment, pool: Address[], view: PoolView, log: Logger,
): Promise<{ claim: Claim; associationId: string }> {
    const lockedByOthers = (address: Address) => {
        const owner = view.locks.get(address.allocationId);
        return owner !== undefined && owner !== instanceId;
    };
    const candidates = candidateOrder(instanceId, pool.filter(address => !address.association && !lockedByOthers(address)));
    const skipped = new Set<string>();
    const exhausted = () => poolExhausted(
        `no free pool address for ${instanceId}: 0 of ${pool.length} addresses tagged ${describeTags(ctx.settings.addressTags)} are free`);

    const first = await firstClaim(ctx, instanceId, candidates);
    if (!first) throw exhausted();
    let { claim, adopted } = first;
    for (;;) {
        const { allocationId } = claim;
        if (await ctx.store.lock(allocationId, instanceId, ctx.now().toISOString())) {
            // A claim another invocation made may be bound already (this view of the
            // pool can be older than its association): look before spending a mutating call.
            const done = adopted ? associationOn(await ctx.ec2.address(allocationId), target) : undefined;
            if (done) return { claim, associationId: done };
            const associationId = await ctx.ec2.associate(allocationId, target);
            if (associationId !== "taken") return { claim, associationId };
            const ours = associationOn(await ctx.ec2.address(allocationId), target);
            if (ours) return { claim, associationId: ours };
            await ctx.store.unlock(allocationId, instanceId);
            log.info("address associated outside the binder; trying the next", { allocationId, conflict: true });
        } else {
            log.info("address locked by another instance; trying the next", { allocationId, conflict: true });
            // Locks do not show in EC2's view of the pool: read them, so that the next
            // choice is not locked too (and an exhausted pool is known at once).
            const { locks } = await ctx.store.bookkeeping();
            view.locks = new Map(locks.map(lock => [lock.allocationId, lock.instanceId]));
        }
        skipped.add(allocationId);
        const next = candidates.find(address => !skipped.has(address.allocationId) && !lockedByOthers(address));
        if (!next) {
            await ctx.store.dropClaim(instanceId, allocationId);
            throw exhausted();
        }
        const moved = claimFor(ctx, instanceId, next);
        if (await ctx.store.writeClaim(moved, allocationId)) {
            claim = moved;
            adopted = false;
        } else {
            // A concurrent invocation for this instance moved the claim first: follow it.
            const current = await ctx.store.claim(instanceId);
            if (!current) throw claimRace(instanceId);
            claim = current;
            adopted = true;
        }
    }
}

/** Claims the first candidate, or adopts the claim this instance already has. */
async function firstClaim(ctx: Context, instanceId: string, candidates: Address[]): Promise<{ claim: Claim; adopted: boolean } | undefined> {
    if (candidates.length > 0) {
        const fresh = claimFor(ctx, instanceId, candidates[0]);
        if (await ctx.store.writeClaim(fresh)) return { claim: fresh, adopted: false };
    }
    const existing = await ctx.store.claim(instanceId);
    if (!existing && candidates.length > 0) throw claimRace(instanceId);
    return existing && { claim: existing, adopted: true };
}

/** The association id when `address` sits on `target`, else undefined. */
function associationOn(address: Address | undefined, target: Attachment): string | undefined {
    return isAttachedTo(address, target) ? address?.association?.associationId : undefined;
}

/** Makes the name resolve (per-binding) and then publishes the server row. */
async function publish(ctx: Context, claim: Claim, associationId: string, log: Logger, outcome: BindOutcome): Promise<void> {
    const { allocationId, publicIp, dnsName, instanceId } = claim;
    if (ctx.settings.dnsRecords === "per-binding") {
        await ctx.dns.point(dnsName, publicIp, waitBudgetSeconds(ctx.timeLeft(), IN_SYNC_WAIT.maxWaitTime));
    }
    await ctx.store.publish({ publicIp, dnsName, associationId, instanceId, allocationId }, ctx.now().toISOString());
    log.info(outcome === "bound" ? "bound" : "already bound; binding confirmed", { outcome, allocationId, publicIp, dnsName, associationId });
}
