import { candidateOrder } from "./candidates";
import { errorCode } from "./aws/clients";
import { claimFor, Context, describeTags, hasTags } from "./context";
import { ASSOCIATE_WITHIN_MS, hasTimeToStart, LOCK_SETTLED_MS, waitBudgetSeconds } from "./deadline";
import { IN_SYNC_WAIT } from "./aws/dns";
import { Address, Attachment, Instance, isAttachedTo, TOO_LATE_TO_ASSOCIATE } from "./aws/ec2";
import { isNamedError, namedError } from "./errors";
import { observedPhase } from "./lifecycle";
import { Logger } from "./log";
import { ownPool } from "./ownership";
import { Claim, DRAINING, LOCKS_PER_READ, Placement, RUN_STOPPED } from "./aws/store";

export type BindOutcome = "bound" | "already-bound" | "not-a-target" | "not-running" | "draining" | "holds-other-address";

/** No pool address could be had. Thrown, so the event is retried and finally dead-lettered; the worker waits for a release meanwhile. */
export const POOL_EXHAUSTED = "PoolExhaustedError";
const poolExhausted = (message: string) => namedError(POOL_EXHAUSTED, message);

/** Another invocation changed this instance's claim under us; a retry will see the new state. */
const claimRace = (instanceId: string) =>
    namedError("ClaimRaceError", `the claim of ${instanceId} changed while it was being bound; retrying`);

/** EC2 shows the address on the instance, but its lock names another: one of the two views is behind. */
const addressLocked = (instanceId: string, allocationId: string) =>
    namedError("AddressLockedError", `EC2 shows ${allocationId} on ${instanceId}, but another instance holds its lock; retrying once EC2 and the lock agree`);

/** Association errors that belong to the instance, not to the address: no other address would fare better. */
const INSTANCE_ERRORS = ["IncorrectInstanceState", "InvalidNetworkInterfaceID.NotFound", "InvalidInstanceID.NotFound"];

/**
 * EC2's answers to AssociateAddress that say it did nothing with this address (EC2
 * API reference, "Error codes"): the bind may let it go and try another. Any other
 * failure (no answer, a 5xx the SDK gave up retrying, a code not listed) may have
 * come after the association took effect.
 */
const REFUSALS = [
    "InvalidAllocationID.NotFound", "InvalidAddress.NotFound", "InvalidAddress.Locked", "InvalidIPAddress.InUse",
    "InvalidParameterValue", "InvalidParameterCombination", "UnauthorizedOperation", "AuthFailure", "Gateway.NotAttached",
];

/** How a bind of one instance ended: its outcome, or the error that fails its events. */
export type BindResult = { instanceId: string; outcome: BindOutcome } | { instanceId: string; error: unknown };

/** A binding whose address is associated and recorded; its name and row come next. */
interface Associated {
    instance: Instance;
    claim: Claim;
    associationId: string;
    outcome: "bound" | "already-bound";
    /** When its bind started (ms since the epoch). */
    started: number;
}

/**
 * Per binding, at most this many associated binds wait for their names to go to
 * Route53 in one change: a whole SQS batch on the event path, and for the
 * reconciler, which may bind hundreds, a bounded wait for the first of them.
 */
const NAMES_PER_CHANGE = 50;

/**
 * What a batch knows of the pool: read from EC2 once, when the first instance
 * needs it, then kept current with the batch's own associations and with the
 * locks a collision showed, so that later instances do not pick those.
 */
export interface PoolView {
    addresses?: Address[];
    /** Lock owners by allocation id, as the batch's collisions read them. */
    locks: Map<string, string>;
}

export const newPoolView = (): PoolView => ({ locks: new Map() });

/**
 * Binds each of `instanceIds` that EC2 shows running (the reconciler's batch),
 * over one read of the instances and at most one of the pool, up to `lanes` at once.
 */
export async function bindAll(ctx: Context, instanceIds: string[], lanes = 1): Promise<BindResult[]> {
    if (!hasTimeToStart(ctx.timeLeft())) return [];
    let instances: Instance[];
    try {
        instances = await ctx.ec2.instances(instanceIds);
    } catch (error) {
        return instanceIds.map(instanceId => ({ instanceId, error }));
    }
    const running = instances.filter(instance => instanceIds.includes(instance.instanceId) && observedPhase(instance) === "running");
    const notRunning = instanceIds.filter(id => !running.some(instance => instance.instanceId === id));
    return [
        ...notRunning.map(instanceId => ({ instanceId, outcome: "not-running" as const })),
        ...await bindEach(ctx, running, newPoolView(), lanes),
    ];
}

/**
 * Binds running instances in their order, one after another in each of `lanes`
 * (one, on the event path: a batch is one lane, and `binderConcurrency` bounds the
 * batches), then names them and publishes their rows: per binding, the names of up
 * to NAMES_PER_CHANGE binds go to Route53 in one change with one wait, whichever
 * lane associated them; per address, each row follows its association at once.
 * The lanes share one view of the pool, so an association or a lock one of them
 * learns is passed over by the others. One instance's failure does not stop the
 * others; it never throws, a failure is in the instance's result. Near the
 * invocation's timeout it stops starting binds: the instances it did not get to
 * have no result.
 */
export async function bindEach(ctx: Context, instances: Instance[], view: PoolView, lanes = 1): Promise<BindResult[]> {
    const perChange = ctx.settings.dnsRecords === "per-binding" ? NAMES_PER_CHANGE : 1;
    const results: BindResult[] = [];
    const pending: Associated[] = [];
    if (lanes > 1 && instances.length > 1 && !view.addresses) {
        // Read once for all lanes, not once by each.
        try {
            view.addresses = await ownPool(ctx);
        } catch (error) {
            return instances.map(({ instanceId }) => ({ instanceId, error }));
        }
    }
    let next = 0;
    const lane = async () => {
        while (next < instances.length && hasTimeToStart(ctx.timeLeft())) {
            const instance = instances[next++];
            const { instanceId } = instance;
            try {
                const associated = await associate(ctx, instance, view);
                if (typeof associated === "string") results.push({ instanceId, outcome: associated });
                else pending.push(associated);
            } catch (error) {
                const held = heldBack(error);
                if (!held) results.push({ instanceId, error });
                else {
                    ctx.log.with({ instanceId, action: "bind" }).info(held === "draining" ? "draining: not bound" : "the run stopped since it was read: not bound", { outcome: held });
                    results.push({ instanceId, outcome: held });
                }
            }
            if (pending.length >= perChange) results.push(...await publishAll(ctx, pending.splice(0)));
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, instances.length)) }, lane));
    results.push(...await publishAll(ctx, pending));
    await waitForRelease(ctx, results.flatMap(r => ("error" in r && isNamedError(r.error, POOL_EXHAUSTED) ? [r.instanceId] : [])));
    return results;
}

/** The outcome of a bind a drain or a fence held back (not a failure: its events are settled), or undefined for a failure. */
function heldBack(error: unknown): "draining" | "not-running" | undefined {
    return isNamedError(error, DRAINING) ? "draining" : isNamedError(error, RUN_STOPPED) ? "not-running" : undefined;
}

/**
 * Puts workers that found the pool exhausted on the waitlist, so that the first
 * release hands them its address. Their events still come again: the list only
 * makes them quicker, and losing this write loses nothing else.
 */
async function waitForRelease(ctx: Context, instanceIds: string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    await ctx.store.wait(instanceIds, ctx.now().toISOString()).catch(error =>
        ctx.log.warn("could not put workers on the waitlist; their events will bind them", { action: "bind", instanceIds, error }));
}

/**
 * Gives a running instance one pool address: claim (DynamoDB, one per instance)
 * → lock (DynamoDB, one per address) → associate (EC2, fails if the address is
 * taken); publishAll then names it (per-binding only) and writes its row. Every
 * step is safe to repeat, so a retry after a failure anywhere finishes the same
 * binding; every takeover is conditional on what was read.
 */
async function associate(ctx: Context, instance: Instance, view: PoolView): Promise<Associated | "not-a-target" | "holds-other-address"> {
    const { instanceId } = instance;
    const log = ctx.log.with({ instanceId, action: "bind" });
    const started = ctx.now().getTime();
    if (!hasTags(instance.tags, ctx.settings.instanceTags)) {
        log.info("instance lacks the instance tags; not a target", { outcome: "not-a-target" });
        return "not-a-target";
    }
    if (!instance.primary) throw new Error(`running instance ${instanceId} has no primary network interface`);
    const target = instance.primary;

    const pool = view.addresses ??= await ownPool(ctx);
    const free = pool.filter(address => !address.association).length;
    const seen = pool.find(address => isAttachedTo(address, target));
    if (!seen && instance.elasticIp !== undefined && !pool.some(address => address.publicIp === instance.elasticIp)) {
        // An Elastic IP outside the pool (an operator's, or one that left the pool): a pool
        // address on the same private IP would silently replace it, so it is left alone.
        log.info("holds an Elastic IP outside the pool; not bound while it does", { outcome: "holds-other-address", publicIp: instance.elasticIp });
        return "holds-other-address";
    }
    if (seen) {
        // The view can be older than a release of this address and a binding of it
        // to another instance: look again before adopting it.
        const held = await ctx.ec2.address(seen.allocationId);
        if (held?.association && isAttachedTo(held, target)) {
            const claim = await adopt(ctx, instanceId, held);
            if (claim) {
                ctx.metrics.pool(pool.length, free);
                return { instance, claim, associationId: held.association.associationId, outcome: "already-bound", started };
            }
            log.info("the claim names another address, which an invocation may be associating; binding that one", { allocationId: held.allocationId, conflict: true });
        }
        // From the view as it is now: another lane may have changed it since it was read.
        view.addresses = (view.addresses ?? pool).flatMap(address => (address.allocationId === seen.allocationId ? (held ? [held] : []) : [address]));
    }
    const { claim, associationId } = await claimAndAssociate(ctx, instance, target, view, log);
    view.addresses = view.addresses.map(address => address.allocationId === claim.allocationId
        ? { ...address, association: { ...target, associationId, instanceId } }
        : address);
    ctx.metrics.pool(pool.length, free - 1);
    return { instance, claim, associationId, outcome: "bound", started };
}

/**
 * Makes the names of associated bindings resolve (per-binding: one change, one
 * wait) and then publishes each server row for its run of the instance. A name
 * Route53 refuses fails only its own binding; a failed change or wait fails them all.
 */
async function publishAll(ctx: Context, bindings: Associated[]): Promise<BindResult[]> {
    if (bindings.length === 0) return [];
    let refused = new Map<string, unknown>();
    if (ctx.settings.dnsRecords === "per-binding") {
        const names = bindings.map(({ claim }) => ({ name: claim.dnsName, ip: claim.publicIp, instanceId: claim.instanceId }));
        try {
            refused = await ctx.dns.pointAll(names, waitBudgetSeconds(ctx.timeLeft(), IN_SYNC_WAIT.maxWaitTime));
        } catch (error) {
            return bindings.map(({ instance }) => ({ instanceId: instance.instanceId, error }));
        }
    }
    // The rows are independent writes (one item and one lock each): they go at once.
    return Promise.all(bindings.map(async (binding): Promise<BindResult> => {
        const { instanceId } = binding.instance;
        const error = refused.get(binding.claim.dnsName);
        try {
            if (error !== undefined) throw error;
            await publish(ctx, binding);
            return { instanceId, outcome: binding.outcome };
        } catch (error) {
            const held = heldBack(error);
            if (!held) return { instanceId, error };
            const why = held === "draining" ? "bound, but draining" : "bound, but the run stopped since it was read (its address stays for the next run)";
            ctx.log.with({ instanceId, action: "bind" }).info(`${why}: its row is not published`, { outcome: held, allocationId: binding.claim.allocationId });
            return { instanceId, outcome: held };
        }
    }));
}

/**
 * Makes the instance's claim and the address's lock name the address EC2 shows on
 * the instance. The lock is taken only if it is free or already the instance's:
 * another holder means one of the two views is behind, and a retry looks again.
 * Undefined when the claim names another address that an invocation for the
 * instance may still be associating: the caller binds that one, as the claim says.
 */
export async function adopt(ctx: Context, instanceId: string, held: Address): Promise<Claim | undefined> {
    if (!(await ctx.store.lock(held.allocationId, instanceId, ctx.now().toISOString()))) throw addressLocked(instanceId, held.allocationId);
    const claim = claimFor(ctx, instanceId, held);
    if (await ctx.store.writeClaim(claim)) return claim;
    const existing = await ctx.store.claim(instanceId);
    if (existing?.allocationId === held.allocationId) return existing;
    if (!existing) throw claimRace(instanceId);
    // The claim names another address, but EC2 has this one on the instance (one
    // address per private IP). Either this one replaced the other, or its
    // association was answered with an error, let go, and the claim moved on: then
    // the invocation that moved it may be about to associate the other address,
    // which would replace this one. Only the instance's lock on the other address
    // tells them apart: none, or one written too long ago for any association to
    // follow it, means nothing is on its way. Otherwise this address goes back, and
    // the claim is followed.
    const settledBefore = new Date(ctx.now().getTime() - LOCK_SETTLED_MS).toISOString();
    const lock = await ctx.store.lockOf(existing.allocationId);
    if (lock?.instanceId === instanceId && !(lock.lockedAt < settledBefore)) {
        await ctx.store.unlock(held.allocationId, instanceId);
        return undefined;
    }
    // The other was replaced: its row and name go, the claim follows, and the other address's lock is let go last.
    await ctx.store.withdraw(existing.publicIp, existing.dnsName, instanceId);
    if (ctx.settings.dnsRecords === "per-binding" && existing.dnsName !== claim.dnsName && lock?.instanceId === instanceId) {
        await ctx.dns.removeAll([{ name: existing.dnsName, ip: existing.publicIp, instanceId, ownerless: true }]);
    }
    if (!(await ctx.store.adoptClaim(claim, existing.allocationId, settledBefore))) throw claimRace(instanceId);
    await ctx.store.unbind(existing.publicIp, existing.dnsName, existing.allocationId, instanceId);
    return claim;
}

/**
 * Claims a free address, locks it and associates it. Candidates are tried in the
 * instance's own order; an address another instance has locked (a DynamoDB write,
 * cheap) or has been given by hand (an EC2 call) moves the claim to the next one,
 * and so does one address EC2 refuses for a reason of the address's own.
 * Duplicate invocations for one instance share the claim and the lock, so they
 * associate the same address.
 */
async function claimAndAssociate(
    ctx: Context, instance: Instance, target: Attachment, view: PoolView, log: Logger,
): Promise<{ claim: Claim; associationId: string }> {
    const { instanceId } = instance;
    const pool = view.addresses ?? [];
    const lockedByOthers = (address: Address) => {
        const owner = view.locks.get(address.allocationId);
        return owner !== undefined && owner !== instanceId;
    };
    const candidates = candidateOrder(instanceId, pool.filter(address => !address.association && !lockedByOthers(address)));
    const skipped = new Set<string>();
    const exhausted = () => poolExhausted(
        `no free pool address for ${instanceId}: 0 of ${pool.length} addresses tagged ${describeTags(ctx.settings.addressTags)} are free`);

    const first = await firstClaim(ctx, instance, candidates);
    if (!first) throw exhausted();
    let { claim, adopted } = first;
    let refused = false;
    // Work on what the claim names: follow it wherever another invocation for the instance moves it.
    const follow = async () => {
        const current = await ctx.store.claim(instanceId);
        if (!current) throw claimRace(instanceId);
        claim = current;
        adopted = true;
    };
    for (;;) {
        const { allocationId } = claim;
        const lockedAt = ctx.now();
        const lock = await ctx.store.lockClaimed(claim, lockedAt.toISOString());
        if (lock === "moved") {
            await follow();
            continue;
        }
        if (lock === "locked") {
            // The batch's other lanes pass it over.
            view.locks.set(allocationId, instanceId);
            const result = await associateLocked(ctx, claim, target, adopted, lockedAt, log);
            if ("associationId" in result) return { claim, associationId: result.associationId };
            // Let go: no longer locked, as far as the batch knows.
            view.locks.delete(allocationId);
            if ("refused" in result) {
                // One more address is worth a try; a second refusal fails the bind.
                if (refused) {
                    await ctx.store.moveClaim(instanceId, allocationId, undefined);
                    throw result.refused;
                }
                refused = true;
            }
        } else {
            log.info("address locked by another instance; trying the next", { allocationId, conflict: true });
            // Locks do not show in EC2's view of the pool: read the one lost and the next
            // few candidates' at once, by key, so that this bind and the batch's later ones
            // pass over those taken (or, freed meanwhile, may take them). One read whatever
            // the fleet's size; nothing takes a lock over, so nothing else about a holder
            // would change what happens next.
            const ahead = candidates.filter(address => address.allocationId !== allocationId && !skipped.has(address.allocationId) && !lockedByOthers(address));
            const owners = await ctx.store.lockOwners([allocationId, ...ahead.slice(0, LOCKS_PER_READ - 1).map(address => address.allocationId)]);
            for (const [id, holder] of owners) {
                if (holder === undefined) view.locks.delete(id);
                else view.locks.set(id, holder);
            }
        }
        skipped.add(allocationId);
        const next = candidates.find(address => !skipped.has(address.allocationId) && !lockedByOthers(address));
        const moved = next && claimFor(ctx, instanceId, next);
        if (await ctx.store.moveClaim(instanceId, allocationId, moved)) {
            if (!moved) throw exhausted();
            claim = moved;
            adopted = false;
        } else {
            // A concurrent invocation for this instance moved the claim first, or won
            // this address meanwhile: follow it.
            await follow();
        }
    }
}

/**
 * With the claimed address locked: associates it, or finds it on the instance
 * already. Otherwise the address has been let go: `taken` (it is on something
 * else) or `refused` (EC2 refused it for a reason that is not the instance's, and
 * that the SDK did not retry). An error of the instance's own (stopped, gone) is
 * thrown, and the binding stays as it is for the retry or the release to find.
 */
async function associateLocked(
    ctx: Context, claim: Claim, target: Attachment, adopted: boolean, lockedAt: Date, log: Logger,
): Promise<{ associationId: string } | { taken: true } | { refused: unknown }> {
    const { allocationId } = claim;
    // A claim another invocation made may be bound already (this view of the
    // pool can be older than its association): look before spending a mutating call.
    const done = adopted ? associationOn(await ctx.ec2.address(allocationId), target) : undefined;
    if (done) return { associationId: done };
    let associationId: string;
    try {
        // Never later than ASSOCIATE_WITHIN_MS after the lock: an adopt may move the claim on after that.
        associationId = await ctx.ec2.associate(allocationId, target, () => ctx.now().getTime() - lockedAt.getTime() < ASSOCIATE_WITHIN_MS);
    } catch (error) {
        const code = errorCode(error) ?? "";
        if (INSTANCE_ERRORS.includes(code) || isNamedError(error, TOO_LATE_TO_ASSOCIATE)) throw error;
        if (!REFUSALS.includes(code)) {
            // Without EC2's word that it did nothing, the address may be on the instance by now:
            // look, and never let go of what may be ours. A read that lags fails the bind with
            // claim and lock kept; the retry finds the address on the instance, or associates it.
            const ours = associationOn(await ctx.ec2.address(allocationId), target);
            if (ours) {
                log.info("the association took effect though its answer was an error", { allocationId, associationId: ours, error });
                return { associationId: ours };
            }
            throw error;
        }
        log.warn("address could not be associated; letting it go", { allocationId, error });
        await letGo(ctx, claim);
        return { refused: error };
    }
    if (associationId !== "taken") return { associationId };
    const ours = associationOn(await ctx.ec2.address(allocationId), target);
    if (ours) return { associationId: ours };
    await letGo(ctx, claim);
    log.info("address associated outside the binder; trying the next", { allocationId, conflict: true });
    return { taken: true };
}

/**
 * Gives up the claimed address: its name first (per binding, an adopted claim may
 * have named it already), then its row, if an earlier binding left one, together
 * with its lock. The name goes only while its TXT record names this instance: the
 * lock may have been taken from it meanwhile (an operator's release), and the next
 * holder's name, with names that carry only the IP, is the same name.
 */
async function letGo(ctx: Context, claim: Claim): Promise<void> {
    if (ctx.settings.dnsRecords === "per-binding") await ctx.dns.removeAll([{ name: claim.dnsName, ip: claim.publicIp, instanceId: claim.instanceId }]);
    await ctx.store.unbind(claim.publicIp, claim.dnsName, claim.allocationId, claim.instanceId);
}

/** Claims the first candidate (unless the instance is draining), or adopts the claim this instance already has. */
async function firstClaim(ctx: Context, instance: Instance, candidates: Address[]): Promise<{ claim: Claim; adopted: boolean } | undefined> {
    const { instanceId } = instance;
    if (candidates.length > 0) {
        const fresh = claimFor(ctx, instanceId, candidates[0]);
        if (await ctx.store.firstClaim(fresh, instance.launchedAt)) return { claim: fresh, adopted: false };
    }
    const existing = await ctx.store.claim(instanceId);
    if (!existing && candidates.length > 0) throw claimRace(instanceId);
    return existing && { claim: existing, adopted: true };
}

/** The association id when `address` sits on `target`, else undefined. */
function associationOn(address: Address | undefined, target: Attachment): string | undefined {
    return isAttachedTo(address, target) ? address?.association?.associationId : undefined;
}

/** Publishes the server row for this run of the instance, its name already resolving. */
async function publish(ctx: Context, binding: Associated): Promise<void> {
    const { claim, associationId, instance, outcome, started } = binding;
    const { allocationId, publicIp, dnsName, instanceId } = claim;
    await ctx.store.publish({ publicIp, dnsName, associationId, instanceId, allocationId, launchedAt: instance.launchedAt, placement: placementOf(instance) }, ctx.now().toISOString());
    if (outcome === "bound") ctx.metrics.bound(ctx.now().getTime() - started);
    ctx.log.with({ instanceId, action: "bind" }).info(outcome === "bound" ? "bound" : "already bound; binding confirmed", { outcome, allocationId, publicIp, dnsName, associationId });
}

/** Where the server runs, for the scheduler: EC2's placement and Karpenter's node pool and capacity type. */
function placementOf(instance: Instance): Placement {
    return {
        availabilityZone: instance.availabilityZone,
        instanceType: instance.instanceType,
        privateIp: instance.primary?.privateIpAddress,
        nodePool: instance.tags["karpenter.sh/nodepool"],
        capacityType: instance.tags["karpenter.sh/capacity-type"],
    };
}
