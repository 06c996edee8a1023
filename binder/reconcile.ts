// The reconciler: compares what EC2 says with the binder's bookkeeping and heals
// the difference with the same idempotent bind and release the events use, so it
// is safe beside a burst of events and beside another run of itself.
import { adopt, bindAll } from "./bind";
import { Context, hasTags } from "./context";
import { NamedAddress } from "./aws/dns";
import { hasTimeToStart } from "./deadline";
import { Address, Instance, isAttachedTo } from "./aws/ec2";
import { observedPhase } from "./lifecycle";
import { isNameFor, renderName } from "./naming";
import { ownPool } from "./ownership";
import { releaseAll } from "./release";
import { Claim, DrainMark, drainHolds, ServerRow, StoredServer, Waiting } from "./aws/store";

/** How long a claim may stay without its address before it counts as abandoned. */
export const CLAIM_LEASE_MS = 15 * 60 * 1000;

export type DriftKind =
    | "unbound-target"       // a running target holds no pool address: bind it
    | "abandoned-claim"      // a claim older than the lease never got its address: bind again
    | "unrecorded-binding"   // a target holds a pool address without its claim or lock: adopt it (and publish, if running)
    | "unpublished-binding"  // a running target holds its address but has no row, or (per binding) no name: publish
    | "outdated-row"         // a row with an old association id (a remap) or of an earlier run: publish again
    | "stale-binding"        // a claim whose instance is gone or no longer a target: release it
    | "stopped-row"          // the row of the run EC2 shows stopped: withdraw it, keep the binding
    | "draining-row"         // the row of a worker being drained: withdraw it, keep the binding
    | "stale-drain"          // a drain mark of an instance that is gone, or of an earlier run: forget it
    | "orphan-row"           // a row whose instance does not hold its address: remove the row
    | "stale-lock"           // a lock older than the lease that no claim or association backs: unlock
    | "stale-record"         // per binding: a name the binder gave to a pool address that no binding holds: delete it
    | "foreign-association"; // a pool address on a non-target without a claim: reported only

/** Kinds fixed, for a running target, by binding it again (one batch for all). */
const BOUND_BY_BINDING: DriftKind[] = ["unbound-target", "abandoned-claim", "unrecorded-binding", "unpublished-binding", "outdated-row"];

export interface Drift {
    kind: DriftKind;
    detail: string;
    instanceId?: string;
    allocationId?: string;
    publicIp?: string;
    /** The row a row drift is about, as it was read. */
    row?: ServerRow;
    /** The name a stale-record drift is about. */
    dnsName?: string;
    /** The drain mark a stale-drain drift is about, as it was read. */
    mark?: DrainMark;
    /** The instance's state as inspected, where it decides the fix. */
    state?: string;
}

/** One pool address as an operator wants to see it. */
export interface PoolEntry {
    allocationId: string;
    publicIp: string;
    dnsName?: string;
    instanceId?: string;
    state?: string;
    allocated?: boolean;
    boundAt?: string;
}

/** A worker being drained, as an operator wants to see it. */
export interface DrainEntry extends DrainMark {
    state?: string;
}

export interface Inspection {
    pool: PoolEntry[];
    free: number;
    drift: Drift[];
    /** Workers whose drain holds for the run EC2 shows. */
    draining: DrainEntry[];
    /** Workers on the waitlist, longest waiting first. */
    waiting: WaitEntry[];
}

/** A worker on the waitlist: whether it holds a pool address by now, and whether it still runs as a target (and is not draining). */
export interface WaitEntry extends Waiting {
    holds: boolean;
    running: boolean;
}

export interface Reconciliation {
    inspection: Inspection;
    fixed: Drift[];
    failed: { drift: Drift; error: string }[];
    /** Drift not fixed this run for lack of time; the next run finds it again. */
    postponed: Drift[];
}

/** Reads the pool, claims, locks, rows, instances and (per binding) names, and lists what is out of line. */
export async function inspect(ctx: Context): Promise<Inspection> {
    const { instanceTags, dnsRecords } = ctx.settings;
    const [pool, { claims, locks, drains, waiting }, rows, targets, records] = await Promise.all([
        ownPool(ctx),
        ctx.store.bookkeeping(),
        ctx.store.allServers(),
        ctx.ec2.runningTargets(instanceTags),
        dnsRecords === "per-binding" ? ctx.dns.records() : Promise.resolve(undefined),
    ]);
    const known = new Map<string, Instance>(targets.map(i => [i.instanceId, i]));
    const referenced = [
        ...claims.map(c => c.instanceId), ...rows.map(r => r.instanceId), ...locks.map(l => l.instanceId), ...drains.map(d => d.instanceId),
        ...pool.flatMap(a => a.association?.instanceId ?? []),
    ];
    for (const instance of await ctx.ec2.instances([...new Set(referenced)].filter(id => !known.has(id)))) known.set(instance.instanceId, instance);

    const claimOf = new Map<string, Claim>(claims.map(c => [c.instanceId, c]));
    const lockOf = new Map(locks.map(l => [l.allocationId, l.instanceId]));
    const addressOf = new Map(pool.map(a => [a.allocationId, a]));
    const tagged = (i?: Instance) => i !== undefined && hasTags(i.tags, instanceTags);
    const now = ctx.now().getTime();
    const older = (iso: string, ms: number) => now - Date.parse(iso) > ms;
    const drift: Drift[] = [];
    const markOf = new Map(drains.map(d => [d.instanceId, d]));
    // Running and drained: its binding stays, but it is neither published nor bound anew.
    const draining = (instance?: Instance) => {
        const mark = instance && markOf.get(instance.instanceId);
        return mark !== undefined && observedPhase(instance) === "running" && drainHolds(mark, instance!.launchedAt);
    };

    // Running targets: each must hold one pool address, recorded, published and named (a draining one: recorded only).
    for (const instance of targets) {
        const { instanceId } = instance;
        const claim = claimOf.get(instanceId);
        const held = instance.primary && pool.find(a => isAttachedTo(a, instance.primary!));
        if (draining(instance)) {
            if (held && (claim?.allocationId !== held.allocationId || lockOf.get(held.allocationId) !== instanceId)) {
                drift.push({ kind: "unrecorded-binding", state: "running", instanceId, allocationId: held.allocationId, publicIp: held.publicIp, detail: "draining, and holds the address without its claim and lock" });
            }
            continue;
        }
        if (!held) {
            if (!claim) drift.push({ kind: "unbound-target", state: "running", instanceId, detail: "running target without a pool address" });
            else if (rows.some(r => r.instanceId === instanceId)) {
                // The bind had finished (it published a row), so nothing is in flight: the address was lost.
                drift.push({ kind: "unbound-target", state: "running", instanceId, allocationId: claim.allocationId, detail: "running target lost its pool address" });
            } else if (older(claim.claimedAt, CLAIM_LEASE_MS)) {
                drift.push({ kind: "abandoned-claim", state: "running", instanceId, allocationId: claim.allocationId, detail: `claim from ${claim.claimedAt} never got its address` });
            }
            continue;
        }
        const { allocationId, publicIp } = held;
        const row = rows.find(r => r.instanceId === instanceId && r.allocationId === allocationId);
        if (claim?.allocationId !== allocationId || lockOf.get(allocationId) !== instanceId) {
            drift.push({ kind: "unrecorded-binding", state: "running", instanceId, allocationId, publicIp, detail: "holds the address without its claim and lock" });
        } else if (!row || (records && records.get(claim!.dnsName) !== publicIp)) {
            drift.push({ kind: "unpublished-binding", state: "running", instanceId, allocationId, publicIp, detail: row ? `${claim!.dnsName} does not resolve to it` : "bound, but has no row" });
        } else if (row.associationId !== held.association!.associationId) {
            drift.push({ kind: "outdated-row", state: "running", instanceId, allocationId, publicIp, row, detail: `the row says ${row.associationId}, EC2 ${held.association!.associationId}` });
        } else if (row.launchedAt !== undefined && row.launchedAt !== instance.launchedAt) {
            // The stop's withdrawal never came: the row is of an earlier run, its `allocated` of streams that are gone.
            drift.push({ kind: "outdated-row", state: "running", instanceId, allocationId, publicIp, row, detail: `the row is of the run started ${row.launchedAt}; the instance started again ${instance.launchedAt}` });
        }
    }

    // Claims of instances that are gone, or no longer targets.
    const stale = new Set<string>();
    for (const claim of claims) {
        const instance = known.get(claim.instanceId);
        const phase = observedPhase(instance);
        const why = phase === "gone" ? `is ${instance!.state}`
            // A lagging read may not show an instance that was launched a moment ago.
            : phase === "unknown" && older(claim.claimedAt, CLAIM_LEASE_MS) ? "no longer exists"
                : instance && !tagged(instance) ? "no longer carries the instance tags" : undefined;
        if (!why) continue;
        stale.add(claim.instanceId);
        drift.push({ kind: "stale-binding", instanceId: claim.instanceId, allocationId: claim.allocationId, publicIp: claim.publicIp, detail: `instance ${why}` });
    }

    // Rows: only for an instance that holds its address and is running.
    for (const row of rows) {
        const { instanceId, allocationId, publicIp } = row;
        if (stale.has(instanceId)) continue;
        const instance = known.get(instanceId);
        const holder = addressOf.get(allocationId)?.association?.instanceId;
        const ownsLock = lockOf.get(allocationId) === instanceId;
        const phase = observedPhase(instance);
        if (draining(instance) && (holder === instanceId || (!holder && ownsLock))) {
            drift.push({ kind: "draining-row", instanceId, allocationId, publicIp, row, detail: `instance is draining (${markOf.get(instanceId)!.cause})` });
        } else if (phase === "stopped" && (holder === instanceId || ownsLock)) {
            // Only the row of the run that stopped: a lagging read shows the run before a new start.
            if (row.launchedAt === undefined || row.launchedAt === instance!.launchedAt) drift.push({ kind: "stopped-row", instanceId, allocationId, publicIp, row, detail: `instance is ${instance!.state}` });
        } else if (holder ? holder !== instanceId : !(ownsLock && phase === "running" && tagged(instance))) {
            // A running target that holds the lock but lost the address is rebound above.
            drift.push({ kind: "orphan-row", instanceId, allocationId, publicIp, row, detail: holder ? `${publicIp} is on ${holder}` : `row for ${row.dnsName} outlived its binding` });
        }
    }

    // Drain marks of instances that are gone, no longer targets, or started again since.
    for (const mark of drains) {
        const instance = known.get(mark.instanceId);
        const phase = observedPhase(instance);
        const why = phase === "gone" ? `instance is ${instance!.state}`
            : phase === "unknown" && older(mark.recordedAt, CLAIM_LEASE_MS) ? "instance no longer exists"
                : instance && !tagged(instance) ? "instance no longer carries the instance tags"
                    : instance && phase !== "unknown" && !drainHolds(mark, instance.launchedAt) ? `instance started again at ${instance.launchedAt}` : undefined;
        if (why) drift.push({ kind: "stale-drain", instanceId: mark.instanceId, detail: `drain (${mark.cause}) no longer holds: ${why}`, mark });
    }

    // Locks that nothing backs.
    for (const lock of locks) {
        const { allocationId, instanceId } = lock;
        if (stale.has(instanceId) || claimOf.get(instanceId)?.allocationId === allocationId) continue;
        if (addressOf.get(allocationId)?.association?.instanceId === instanceId) continue;
        // A young lock may belong to a bind that is just moving on from it.
        if (!older(lock.lockedAt, CLAIM_LEASE_MS)) continue;
        drift.push({ kind: "stale-lock", instanceId, allocationId, detail: `lock from ${lock.lockedAt} backed by no claim or association` });
    }

    // Per binding: a name of the binder's pointing at a pool address is held by the
    // address's lock holder (bound, stopped or binding) or by its holder in EC2; any other is left over.
    const nameOf = (publicIp: string, instanceId?: string) => instanceId && renderName(ctx.settings.dnsName, { ip: publicIp, suffix: ctx.settings.suffix, instanceId });
    for (const [dnsName, publicIp] of records ?? []) {
        const address = pool.find(a => a.publicIp === publicIp);
        if (!address || !isNameFor(ctx.settings.dnsName, { ip: publicIp, suffix: ctx.settings.suffix }, dnsName)) continue;
        if (nameOf(publicIp, lockOf.get(address.allocationId)) === dnsName || nameOf(publicIp, address.association?.instanceId) === dnsName) continue;
        drift.push({ kind: "stale-record", allocationId: address.allocationId, publicIp, dnsName, detail: `${dnsName} points at ${publicIp}, but no binding has that name` });
    }

    // Pool addresses held outside the bookkeeping (those on a running target's primary interface were seen above).
    for (const address of pool) {
        const holder = address.association?.instanceId;
        if (!address.association || claimOf.get(holder ?? "")?.allocationId === address.allocationId) continue;
        const instance = known.get(holder ?? "");
        const onPrimary = instance?.primary !== undefined && isAttachedTo(address, instance.primary);
        if (onPrimary && targets.some(t => t.instanceId === holder)) continue;
        if (onPrimary && observedPhase(instance) === "stopped" && tagged(instance)) {
            drift.push({ kind: "unrecorded-binding", state: instance!.state, instanceId: holder, allocationId: address.allocationId, publicIp: address.publicIp, detail: "stopped target holds the address without its claim" });
            continue;
        }
        drift.push({
            kind: "foreign-association", allocationId: address.allocationId, publicIp: address.publicIp, instanceId: holder,
            detail: `associated to ${holder ?? address.association.networkInterfaceId} without a claim; left alone`,
        });
    }
    return {
        pool: describePool(pool, rows, claims, known),
        free: pool.filter(a => !a.association).length,
        drift,
        draining: drains.filter(mark => draining(known.get(mark.instanceId))).map(mark => ({ ...mark, state: known.get(mark.instanceId)?.state })),
        waiting: waiting.map(w => ({ ...w, holds: pool.some(a => a.association?.instanceId === w.instanceId), running: targets.some(t => t.instanceId === w.instanceId && !draining(t)) })),
    };
}

function describePool(pool: Address[], rows: StoredServer[], claims: Claim[], instances: Map<string, Instance>): PoolEntry[] {
    return pool.map(address => {
        const instanceId = address.association?.instanceId;
        const row = rows.find(r => r.allocationId === address.allocationId && r.instanceId === instanceId);
        // A stopped or draining worker has no row, but its name is still its own.
        const claim = claims.find(c => c.allocationId === address.allocationId && c.instanceId === instanceId);
        return {
            allocationId: address.allocationId,
            publicIp: address.publicIp,
            instanceId,
            state: instanceId ? instances.get(instanceId)?.state : undefined,
            dnsName: row?.dnsName ?? claim?.dnsName,
            allocated: row?.allocated,
            boundAt: row?.boundAt,
        };
    });
}

/** Inspects, then (unless `dryRun`) fixes every drift it can; one failure does not stop the rest. */
export async function reconcile(ctx: Context, options: { dryRun: boolean }): Promise<Reconciliation> {
    const inspection = await inspect(ctx);
    const result: Reconciliation = { inspection, fixed: [], failed: [], postponed: [] };
    ctx.metrics.pool(inspection.pool.length, inspection.free);
    ctx.metrics.drift(inspection.drift.filter(d => d.kind !== "foreign-association").length);
    const toBind: Drift[] = [];
    const toRelease: Drift[] = [];
    const toUnname: Drift[] = [];
    const failed = (drift: Drift, error: unknown) =>
        result.failed.push({ drift, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    const settled = (batch: Drift[], results: ({ instanceId: string } | { instanceId: string; error: unknown })[]) => {
        for (const drift of batch) {
            const done = results.find(r => r.instanceId === drift.instanceId);
            if (!done) result.postponed.push(drift);
            else if ("error" in done) failed(drift, done.error);
            else result.fixed.push(drift);
        }
    };
    for (const drift of inspection.drift) {
        ctx.log.info(options.dryRun ? "drift found (dry run)" : "drift found", { ...drift, row: undefined, action: "reconcile" });
        if (options.dryRun || drift.kind === "foreign-association") continue;
        if (BOUND_BY_BINDING.includes(drift.kind) && drift.state === "running") {
            if (!toBind.some(d => d.instanceId === drift.instanceId)) toBind.push(drift);
            continue;
        }
        if (drift.kind === "stale-binding") {
            if (!toRelease.some(d => d.instanceId === drift.instanceId)) toRelease.push(drift);
            continue;
        }
        if (!hasTimeToStart(ctx.timeLeft())) {
            result.postponed.push(drift);
        } else if (drift.kind === "stale-record") {
            toUnname.push(drift);
        } else {
            await fix(ctx, drift).then(() => result.fixed.push(drift), err => failed(drift, err));
        }
    }
    // Releases, stale names and binds each go as one batch (Route53's rate is the
    // account's), releases first, so that the addresses they free can go to the targets.
    if (toRelease.length > 0) settled(toRelease, await releaseAll(ctx, toRelease.map(drift => drift.instanceId!)));
    if (toUnname.length > 0) {
        await unname(ctx, toUnname).then(() => result.fixed.push(...toUnname), err => toUnname.forEach(drift => failed(drift, err)));
    }
    if (toBind.length > 0) {
        // The longest-waiting workers first: the addresses the releases freed are theirs.
        const place = (drift: Drift) => {
            const i = inspection.waiting.findIndex(w => w.instanceId === drift.instanceId);
            return i < 0 ? inspection.waiting.length : i;
        };
        const bound = await bindAll(ctx, [...toBind].sort((a, b) => place(a) - place(b)).map(drift => drift.instanceId!));
        settled(toBind, bound);
        if (!options.dryRun) await leaveWaitlist(ctx, inspection, bound);
    } else if (!options.dryRun) {
        await leaveWaitlist(ctx, inspection, []);
    }
    if (result.postponed.length > 0) {
        ctx.log.warn("the invocation is nearly out of time; the rest is left for the next run", { action: "reconcile", postponed: result.postponed.length, timeLeftMs: ctx.timeLeft() });
    }
    ctx.log.info("reconciled", {
        action: "reconcile", dryRun: options.dryRun, drift: inspection.drift.length, fixed: result.fixed.length, failed: result.failed.length, postponed: result.postponed.length,
    });
    return result;
}

/**
 * Takes off the waitlist the workers that hold an address by now (an event bound
 * them), that this run bound, or that no longer run as targets. Not drift: the
 * list only hurries binds along, so a failure here is logged and left for the next run.
 */
async function leaveWaitlist(ctx: Context, inspection: Inspection, bound: { instanceId: string }[]): Promise<void> {
    const done = new Set(bound.flatMap(r => ("error" in r ? [] : [r.instanceId])));
    const leaving = inspection.waiting.filter(w => w.holds || !w.running || done.has(w.instanceId)).map(w => w.instanceId);
    if (leaving.length === 0) return;
    await ctx.store.stopWaiting(leaving).then(
        () => ctx.log.info("waitlist pruned", { action: "reconcile", instanceIds: leaving }),
        error => ctx.log.warn("could not prune the waitlist; the next run tries again", { action: "reconcile", instanceIds: leaving, error }));
}

/** Fixes one drift that binding does not; each looks again where its read may be old, and writes only on what it read. */
async function fix(ctx: Context, drift: Drift): Promise<void> {
    switch (drift.kind) {
        case "stopped-row":
        case "draining-row":
            await ctx.store.withdrawRow(drift.row!);
            return;
        case "stale-drain":
            await ctx.store.forgetDrain(drift.instanceId!, drift.mark!.signalledAt);
            return;
        case "orphan-row": {
            // Look again (a bind may have associated since the inspection): the row goes
            // only if its instance does not hold the address, and only as it was read.
            const row = drift.row!;
            if ((await ctx.ec2.address(row.allocationId))?.association?.instanceId !== row.instanceId) await ctx.store.withdrawRow(row);
            return;
        }
        case "stale-lock":
            await ctx.store.unlock(drift.allocationId!, drift.instanceId!);
            return;
        case "unrecorded-binding": {
            // A stopped target: record the binding, publish nothing.
            const held = await ctx.ec2.address(drift.allocationId!);
            // Not adopted while a bind of the instance may be associating its claimed address: the next run looks again.
            if (held && held.association?.instanceId === drift.instanceId) await adopt(ctx, drift.instanceId!, held);
            return;
        }
        default:
            return;
    }
}

/** Deletes stale names in one change, each only if no bind has locked its address for that name since the inspection. */
async function unname(ctx: Context, drifts: Drift[]): Promise<void> {
    const names: NamedAddress[] = [];
    for (const drift of drifts) {
        const holder = await ctx.store.lockOwner(drift.allocationId!);
        const name = holder && renderName(ctx.settings.dnsName, { ip: drift.publicIp!, suffix: ctx.settings.suffix, instanceId: holder });
        if (name !== drift.dnsName) names.push({ name: drift.dnsName!, ip: drift.publicIp! });
    }
    await ctx.dns.removeAll(names);
}
