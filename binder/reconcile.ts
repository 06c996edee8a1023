// The reconciler: compares what EC2 says with the binder's bookkeeping and heals
// the difference with the same idempotent bind and release the events use, so it
// is safe beside a burst of events and beside another run of itself.
import { adopt, bindAll, POOL_EXHAUSTED } from "./bind";
import { DEFAULTS } from "./config";
import { Context, hasTags } from "./context";
import { NameRecord, OwnedName } from "./aws/dns";
import { hasTimeToStart } from "./deadline";
import { isNamedError } from "./errors";
import { Address, Attachment, Instance, isAttachedTo } from "./aws/ec2";
import { observedPhase } from "./lifecycle";
import { isNameFor, renderName } from "./naming";
import { inOwnPool, ownPool } from "./ownership";
import { releaseAll } from "./release";
import { Claim, DrainMark, DrainSignal, holdingSignals, ServerRow, StoredServer, Waiting } from "./aws/store";

/** How long a claim may stay without its address before it counts as abandoned. */
export const CLAIM_LEASE_MS = 15 * 60 * 1000;

export type DriftKind =
    | "unbound-target"       // a running target holds no pool address: bind it
    | "abandoned-claim"      // a claim older than the lease never got its address: bind again
    | "draining-claim"       // a draining worker's claim older than the lease that never got its address: drop it
    | "unrecorded-binding"   // a target holds a pool address without its claim or lock: adopt it (and publish, if running)
    | "unpublished-binding"  // a running target holds its address but has no row, or (per binding) no name: publish
    | "unnamed-binding"      // per binding: a draining worker keeps its address, but its name does not resolve to it: name it, publish nothing
    | "outdated-row"         // a row with an old association id (a remap) or of an earlier run: publish again
    | "stale-binding"        // a claim whose instance is gone or no longer a target: release it
    | "left-pool"            // a binding whose address left the pool (untagged, or another pool's): forsake it, the association stays
    | "stopped-row"          // the row of the run EC2 shows stopped: fence the run, withdraw the row, keep the binding
    | "draining-row"         // the row of a worker being drained: withdraw it, keep the binding
    | "stale-drain"          // drain causes of an earlier run (forget them), or the drain item of an instance that is gone (delete it)
    | "orphan-row"           // a row whose instance does not hold its address: remove the row
    | "stale-lock"           // a lock older than the lease that no claim or association backs: unlock
    | "stale-record"         // per binding: a name the binder gave to a pool address that no binding holds: delete it
    | "foreign-association"  // a pool address on a non-target without a claim: reported only
    | "foreign-address";     // a running target holds an Elastic IP outside the pool: reported only, not bound while it does

/** Kinds the reconciler reports and never changes. */
export const REPORT_ONLY: DriftKind[] = ["foreign-association", "foreign-address"];

/** Kinds fixed, for a running target, by binding it again (one batch for all). */
const BOUND_BY_BINDING: DriftKind[] = ["unbound-target", "abandoned-claim", "unrecorded-binding", "unpublished-binding", "unnamed-binding", "outdated-row"];

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
    /** The instance a stale name's TXT record named, as read (none: a record without one). */
    owner?: string;
    /** When a stale lock was taken, as read. */
    lockedAt?: string;
    /** The claim a draining-claim drift is about, as it was read. */
    claim?: Claim;
    /** The drain item a stale-drain drift is about, as it was read. */
    mark?: DrainMark;
    /** Stale-drain: the causes that no longer hold (none: the whole item goes, its instance being gone). */
    ended?: DrainSignal[];
    /** Stopped-row: the run EC2 shows stopped, fenced before its row goes. */
    launchedAt?: string;
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

/** A worker being drained, as an operator wants to see it: the causes that hold for its run, first signalled first. */
export interface DrainEntry {
    instanceId: string;
    signals: DrainSignal[];
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
    /**
     * Targets left without an address because no pool address was free (a pool sized
     * below the fleet, or a wave of launches ahead of its releases): reported, not a
     * failure. They wait on the waitlist, and a release or a later run binds them.
     */
    exhausted: Drift[];
}

export interface ReconcileOptions {
    dryRun: boolean;
    /** How many binds go at once (default: binderConcurrency's default). */
    concurrency?: number;
}

/** Whether a binding's name is in place: its A record holds the address and its TXT record names the instance. */
function named(record: NameRecord | undefined, publicIp: string, instanceId: string): boolean {
    return record?.ip === publicIp && record.owner === instanceId;
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

    // Looked up by key, so a run's work grows with the fleet, not with its square.
    const claimOf = new Map<string, Claim>(claims.map(c => [c.instanceId, c]));
    const lockOf = new Map(locks.map(l => [l.allocationId, l.instanceId]));
    const addressOf = new Map(pool.map(a => [a.allocationId, a]));
    // The first pool address on each interface and private IP, as a search of the pool in its order finds it.
    const addressAt = new Map<string, Address>();
    for (const address of pool) if (address.association && !addressAt.has(attachmentKey(address.association))) addressAt.set(attachmentKey(address.association), address);
    const holders = new Set(pool.flatMap(a => a.association?.instanceId ?? []));
    const addressWithIp = new Map(pool.map(a => [a.publicIp, a]));
    const rowsOf = groupBy(rows, r => r.instanceId);
    const targetIds = new Set(targets.map(t => t.instanceId));
    const tagged = (i?: Instance) => i !== undefined && hasTags(i.tags, instanceTags);
    const now = ctx.now().getTime();
    const older = (iso: string, ms: number) => now - Date.parse(iso) > ms;
    const drift: Drift[] = [];
    const markOf = new Map(drains.map(d => [d.instanceId, d]));
    // Running and drained: its binding stays, but it is neither published nor bound anew.
    const holding = (instance?: Instance) => (instance ? holdingSignals(markOf.get(instance.instanceId), instance.launchedAt) : []);
    const draining = (instance?: Instance) => observedPhase(instance) === "running" && holding(instance).length > 0;

    // Running targets: each must hold one pool address, recorded, published and named (a draining one: recorded only).
    for (const instance of targets) {
        const { instanceId } = instance;
        const claim = claimOf.get(instanceId);
        const held = instance.primary && addressAt.get(attachmentKey(instance.primary));
        if (draining(instance)) {
            if (held && (claim?.allocationId !== held.allocationId || lockOf.get(held.allocationId) !== instanceId)) {
                drift.push({ kind: "unrecorded-binding", state: "running", instanceId, allocationId: held.allocationId, publicIp: held.publicIp, detail: "draining, and holds the address without its claim and lock" });
            } else if (held && records && !named(records.get(claim!.dnsName), held.publicIp, instanceId)) {
                // Its name stays its own until it goes (a bind cut off before naming it, or a record deleted by hand):
                // binding again names it, and the drain holds its row back.
                drift.push({ kind: "unnamed-binding", state: "running", instanceId, allocationId: held.allocationId, publicIp: held.publicIp, detail: `draining, and ${claim!.dnsName} does not resolve to it, or its TXT record does not name it` });
            } else if (!held && claim && addressOf.has(claim.allocationId) && older(claim.claimedAt, CLAIM_LEASE_MS) && !rowsOf.has(instanceId)) {
                // A worker about to go takes no address: a claim its bind never finished is let go, not bound
                // (a claim on an address that left the pool is the left-pool drift's, name included).
                drift.push({ kind: "draining-claim", state: "running", instanceId, allocationId: claim.allocationId, claim, detail: `draining, with a claim from ${claim.claimedAt} that never got its address` });
            }
            continue;
        }
        if (!held) {
            // A claim on an address that left the pool is the left-pool drift's (below), never a reason to bind again.
            if (claim && !addressOf.has(claim.allocationId)) continue;
            if (instance.elasticIp !== undefined && !addressWithIp.has(instance.elasticIp)) {
                // Binding would replace it: EC2 keeps one address per private IP.
                drift.push({ kind: "foreign-address", state: "running", instanceId, publicIp: instance.elasticIp, detail: `holds ${instance.elasticIp}, an Elastic IP outside the pool; not bound while it does` });
            } else if (!claim) drift.push({ kind: "unbound-target", state: "running", instanceId, detail: "running target without a pool address" });
            else if (rowsOf.has(instanceId)) {
                // The bind had finished (it published a row), so nothing is in flight: the address was lost.
                drift.push({ kind: "unbound-target", state: "running", instanceId, allocationId: claim.allocationId, detail: "running target lost its pool address" });
            } else if (older(claim.claimedAt, CLAIM_LEASE_MS)) {
                drift.push({ kind: "abandoned-claim", state: "running", instanceId, allocationId: claim.allocationId, detail: `claim from ${claim.claimedAt} never got its address` });
            }
            continue;
        }
        const { allocationId, publicIp } = held;
        const row = rowsOf.get(instanceId)?.find(r => r.allocationId === allocationId);
        if (claim?.allocationId !== allocationId || lockOf.get(allocationId) !== instanceId) {
            drift.push({ kind: "unrecorded-binding", state: "running", instanceId, allocationId, publicIp, detail: "holds the address without its claim and lock" });
        } else if (!row || (records && !named(records.get(claim!.dnsName), publicIp, instanceId))) {
            drift.push({ kind: "unpublished-binding", state: "running", instanceId, allocationId, publicIp, detail: row ? `${claim!.dnsName} does not resolve to it, or its TXT record does not name it` : "bound, but has no row" });
        } else if (row.associationId !== held.association!.associationId) {
            drift.push({ kind: "outdated-row", state: "running", instanceId, allocationId, publicIp, row, detail: `the row says ${row.associationId}, EC2 ${held.association!.associationId}` });
        } else if (row.launchedAt !== undefined && row.launchedAt !== instance.launchedAt) {
            // The stop's withdrawal never came: the row is of an earlier run, its `allocated` of streams that are gone.
            drift.push({ kind: "outdated-row", state: "running", instanceId, allocationId, publicIp, row, detail: `the row is of the run started ${row.launchedAt}; the instance started again ${instance.launchedAt}` });
        } else if (!row.offered) {
            // Published before the offers index: the scheduler client finds it once it is published again.
            drift.push({ kind: "outdated-row", state: "running", instanceId, allocationId, publicIp, row, detail: "the row was published before the offers index, which does not list it" });
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
        if (why) {
            stale.add(claim.instanceId);
            drift.push({ kind: "stale-binding", instanceId: claim.instanceId, allocationId: claim.allocationId, publicIp: claim.publicIp, detail: `instance ${why}` });
        } else if (!addressOf.has(claim.allocationId) && older(claim.claimedAt, CLAIM_LEASE_MS)) {
            // A younger claim may be on an address tagged into the pool a moment ago, which a lagging read does not show yet.
            drift.push({ kind: "left-pool", instanceId: claim.instanceId, allocationId: claim.allocationId, publicIp: claim.publicIp, detail: `${claim.publicIp} is no longer a pool address; the binding is forsaken, its association left alone` });
        }
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
            drift.push({ kind: "draining-row", instanceId, allocationId, publicIp, row, detail: `instance is draining (${holding(instance).map(s => s.cause).join(", ")})` });
        } else if (phase === "stopped" && (holder === instanceId || ownsLock)) {
            // Only the row of the run that stopped: a lagging read shows the run before a new start.
            if (row.launchedAt === undefined || row.launchedAt === instance!.launchedAt) {
                drift.push({ kind: "stopped-row", instanceId, allocationId, publicIp, row, launchedAt: instance!.launchedAt, detail: `instance is ${instance!.state}` });
            }
        } else if (holder ? holder !== instanceId : !(ownsLock && phase === "running" && tagged(instance))) {
            // A running target that holds the lock but lost the address is rebound above.
            drift.push({ kind: "orphan-row", instanceId, allocationId, publicIp, row, detail: holder ? `${publicIp} is on ${holder}` : `row for ${row.dnsName} outlived its binding` });
        }
    }

    // Drain items of instances that are gone or no longer targets; causes of runs before the one EC2 shows.
    // A fence stays while its instance does: it holds back a late bind of the run that stopped.
    for (const mark of drains) {
        const instance = known.get(mark.instanceId);
        const phase = observedPhase(instance);
        const recorded = [...mark.signals.map(s => s.recordedAt), mark.stoppedRecordedAt ?? ""].sort().pop()!;
        const gone = phase === "gone" ? `instance is ${instance!.state}`
            : phase === "unknown" && older(recorded, CLAIM_LEASE_MS) ? "instance no longer exists"
                : instance && !tagged(instance) ? "instance no longer carries the instance tags" : undefined;
        if (gone) {
            drift.push({ kind: "stale-drain", instanceId: mark.instanceId, detail: `drain item no longer needed: ${gone}`, mark });
            continue;
        }
        if (!instance || phase === "unknown") continue;
        const held = holdingSignals(mark, instance.launchedAt);
        const ended = mark.signals.filter(signal => !held.includes(signal));
        if (ended.length > 0) {
            drift.push({ kind: "stale-drain", instanceId: mark.instanceId, mark, ended, detail: `drain (${ended.map(s => s.cause).join(", ")}) no longer holds: instance started again at ${instance.launchedAt}` });
        }
    }

    // Locks that nothing backs.
    for (const lock of locks) {
        const { allocationId, instanceId } = lock;
        if (stale.has(instanceId) || claimOf.get(instanceId)?.allocationId === allocationId) continue;
        if (addressOf.get(allocationId)?.association?.instanceId === instanceId) continue;
        // A young lock may belong to a bind that is just moving on from it.
        if (!older(lock.lockedAt, CLAIM_LEASE_MS)) continue;
        drift.push({ kind: "stale-lock", instanceId, allocationId, lockedAt: lock.lockedAt, detail: `lock from ${lock.lockedAt} backed by no claim or association` });
    }

    // Per binding: a name of the binder's pointing at a pool address is held by the
    // address's lock holder (bound, stopped or binding) or by its holder in EC2; a
    // TXT record of the binder's alone (its A record deleted) by the instance it
    // names, while that instance's claim carries the name. Any other is left over.
    // A name with another's TXT record is not the binder's.
    const nameOf = (publicIp: string, instanceId?: string) => instanceId && renderName(ctx.settings.dnsName, { ip: publicIp, suffix: ctx.settings.suffix, instanceId });
    for (const [dnsName, { ip: publicIp, owner, text }] of records ?? []) {
        if (text && owner === undefined) continue;
        if (publicIp === undefined) {
            if (owner !== undefined && claimOf.get(owner)?.dnsName !== dnsName) {
                drift.push({ kind: "stale-record", dnsName, owner, detail: `${dnsName} has only its TXT record, naming ${owner}, which has no such name` });
            }
            continue;
        }
        const address = addressWithIp.get(publicIp);
        if (!isNameFor(ctx.settings.dnsName, { ip: publicIp, suffix: ctx.settings.suffix }, dnsName)) continue;
        if (!address) {
            // An address outside the pool (one that left it): the binder's name for it is left over once its owner's claim has no such name.
            if (owner !== undefined && claimOf.get(owner)?.dnsName !== dnsName) {
                drift.push({ kind: "stale-record", publicIp, dnsName, owner, detail: `${dnsName} points at ${publicIp}, which is not a pool address, and ${owner} has no such name` });
            }
            continue;
        }
        if (nameOf(publicIp, lockOf.get(address.allocationId)) === dnsName || nameOf(publicIp, address.association?.instanceId) === dnsName) continue;
        drift.push({ kind: "stale-record", allocationId: address.allocationId, publicIp, dnsName, owner, detail: `${dnsName} points at ${publicIp}, but no binding has that name` });
    }

    // Pool addresses held outside the bookkeeping (those on a running target's primary interface were seen above).
    for (const address of pool) {
        const holder = address.association?.instanceId;
        if (!address.association || claimOf.get(holder ?? "")?.allocationId === address.allocationId) continue;
        const instance = known.get(holder ?? "");
        const onPrimary = instance?.primary !== undefined && isAttachedTo(address, instance.primary);
        if (onPrimary && targetIds.has(holder ?? "")) continue;
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
        pool: describePool(pool, rowsOf, claimOf, known),
        free: pool.filter(a => !a.association).length,
        drift,
        draining: drains.filter(mark => draining(known.get(mark.instanceId)))
            .map(mark => ({ instanceId: mark.instanceId, signals: holding(known.get(mark.instanceId)), state: known.get(mark.instanceId)?.state })),
        waiting: waiting.map(w => {
            const target = targetIds.has(w.instanceId) ? known.get(w.instanceId) : undefined;
            return { ...w, holds: holders.has(w.instanceId), running: target !== undefined && !draining(target) };
        }),
    };
}

function describePool(pool: Address[], rowsOf: Map<string, StoredServer[]>, claimOf: Map<string, Claim>, instances: Map<string, Instance>): PoolEntry[] {
    return pool.map(address => {
        const instanceId = address.association?.instanceId;
        const row = instanceId === undefined ? undefined : rowsOf.get(instanceId)?.find(r => r.allocationId === address.allocationId);
        // A stopped or draining worker has no row, but its name is still its own.
        const claim = instanceId === undefined ? undefined : claimOf.get(instanceId);
        return {
            allocationId: address.allocationId,
            publicIp: address.publicIp,
            instanceId,
            state: instanceId ? instances.get(instanceId)?.state : undefined,
            dnsName: row?.dnsName ?? (claim?.allocationId === address.allocationId ? claim.dnsName : undefined),
            allocated: row?.allocated,
            boundAt: row?.boundAt,
        };
    });
}

/** Where an address sits: its interface and private IP. */
const attachmentKey = (at: Attachment) => `${at.networkInterfaceId}/${at.privateIpAddress}`;

/** `items` by `key`, each group in the items' order. */
function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
    const groups = new Map<string, T[]>();
    for (const item of items) {
        const group = groups.get(key(item));
        if (group) group.push(item);
        else groups.set(key(item), [item]);
    }
    return groups;
}

/** Inspects, then (unless `dryRun`) fixes every drift it can; one failure does not stop the rest. */
export async function reconcile(ctx: Context, options: ReconcileOptions): Promise<Reconciliation> {
    const inspection = await inspect(ctx);
    const result: Reconciliation = { inspection, fixed: [], failed: [], postponed: [], exhausted: [] };
    ctx.metrics.pool(inspection.pool.length, inspection.free);
    ctx.metrics.drift(inspection.drift.filter(d => !REPORT_ONLY.includes(d.kind)).length);
    const toBind: Drift[] = [];
    const toRelease: Drift[] = [];
    const toForsake: Drift[] = [];
    const toUnname: Drift[] = [];
    // One bind and one release per instance, whatever drift of it was found.
    const binding = new Set<string>();
    const releasing = new Set<string>();
    const failed = (drift: Drift, error: unknown) =>
        result.failed.push({ drift, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    const settled = (batch: Drift[], results: ({ instanceId: string } | { instanceId: string; error: unknown })[]) => {
        const resultOf = new Map<string, typeof results[number]>();
        for (const r of results) if (!resultOf.has(r.instanceId)) resultOf.set(r.instanceId, r);
        for (const drift of batch) {
            const done = resultOf.get(drift.instanceId ?? "");
            if (!done) result.postponed.push(drift);
            else if ("error" in done && isNamedError(done.error, POOL_EXHAUSTED)) result.exhausted.push(drift);
            else if ("error" in done) failed(drift, done.error);
            else result.fixed.push(drift);
        }
    };
    for (const drift of inspection.drift) {
        ctx.log.info(options.dryRun ? "drift found (dry run)" : "drift found", { ...drift, row: undefined, action: "reconcile" });
        if (options.dryRun || REPORT_ONLY.includes(drift.kind)) continue;
        if (BOUND_BY_BINDING.includes(drift.kind) && drift.state === "running") {
            if (!binding.has(drift.instanceId!)) toBind.push(drift);
            binding.add(drift.instanceId!);
            continue;
        }
        if (drift.kind === "stale-binding") {
            if (!releasing.has(drift.instanceId!)) toRelease.push(drift);
            releasing.add(drift.instanceId!);
            continue;
        }
        if (drift.kind === "left-pool") {
            toForsake.push(drift);
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
    if (toForsake.length > 0) settled(toForsake, await forsake(ctx, toForsake));
    if (toUnname.length > 0) {
        await unname(ctx, toUnname).then(() => result.fixed.push(...toUnname), err => toUnname.forEach(drift => failed(drift, err)));
    }
    if (toBind.length > 0) {
        // The longest-waiting workers first: the addresses the releases freed are theirs.
        const places = new Map(inspection.waiting.map((w, i) => [w.instanceId, i]));
        const place = (drift: Drift) => places.get(drift.instanceId ?? "") ?? inspection.waiting.length;
        const bound = await bindAll(ctx, [...toBind].sort((a, b) => place(a) - place(b)).map(drift => drift.instanceId!), options.concurrency ?? DEFAULTS.binderConcurrency);
        settled(toBind, bound);
        if (!options.dryRun) await leaveWaitlist(ctx, inspection, bound);
    } else if (!options.dryRun) {
        await leaveWaitlist(ctx, inspection, []);
    }
    if (result.exhausted.length > 0) {
        ctx.log.warn("no pool address free for every target; the rest wait for a release", {
            action: "reconcile", outcome: "pool-exhausted", waiting: result.exhausted.length, poolSize: inspection.pool.length,
        });
    }
    if (result.postponed.length > 0) {
        ctx.log.warn("the invocation is nearly out of time; the rest is left for the next run", { action: "reconcile", postponed: result.postponed.length, timeLeftMs: ctx.timeLeft() });
    }
    ctx.log.info("reconciled", {
        action: "reconcile", dryRun: options.dryRun, drift: inspection.drift.length, fixed: result.fixed.length, failed: result.failed.length, postponed: result.postponed.length,
        exhausted: result.exhausted.length,
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
            // Fenced first: a bind of the stopped run still on its way cannot publish it again.
            if (drift.launchedAt !== undefined) await ctx.store.fenceRun(drift.instanceId!, drift.launchedAt, ctx.now().toISOString());
            await ctx.store.withdrawRow(drift.row!);
            return;
        case "draining-row":
            await ctx.store.withdrawRow(drift.row!);
            return;
        case "draining-claim": {
            // Its lock too, if the bind got that far; each only as read, so a bind that moved on since keeps what it has.
            const { claim } = drift;
            // Its name first (per binding), only while its TXT record names this instance: a bind cut off after naming left it.
            if (ctx.settings.dnsRecords === "per-binding") await ctx.dns.removeAll([{ name: claim!.dnsName, ip: claim!.publicIp, instanceId: claim!.instanceId }]);
            await ctx.store.unbind(claim!.publicIp, claim!.dnsName, claim!.allocationId, claim!.instanceId);
            await ctx.store.dropClaim(claim!);
            return;
        }
        case "stale-drain":
            if (drift.ended) await ctx.store.endDrain(drift.mark!, drift.ended, false);
            else await ctx.store.forgetDrain(drift.mark!);
            return;
        case "orphan-row":
            // EC2's reads (the instance still pending, the address without its association)
            // can both lag a live binding; its lock cannot, so the row goes only if its
            // instance does not hold the lock, and only as it was read.
            await ctx.store.withdrawOrphan(drift.row!);
            return;
        case "stale-lock":
            // A lock taken again since the inspection (a new LockedAt) belongs to a bind in flight.
            await ctx.store.unlock(drift.allocationId!, drift.instanceId!, drift.lockedAt);
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

/**
 * Deletes stale names in one change, each only if no bind has locked its address
 * (or claimed it, for a TXT record alone) for that name since the inspection, and
 * only while the name is as it was read: its TXT record naming the same instance,
 * or none. A bind that names the address after this look writes its own TXT record,
 * so Route53 refuses the delete.
 */
async function unname(ctx: Context, drifts: Drift[]): Promise<void> {
    const names: OwnedName[] = [];
    for (const drift of drifts) {
        const { dnsName, publicIp, owner } = drift;
        if (publicIp === undefined || drift.allocationId === undefined) {
            // A TXT record alone, or a name of an address outside the pool: its owner's claim, read again, decides.
            if ((await ctx.store.claim(owner!))?.dnsName !== dnsName) names.push({ name: dnsName!, ip: publicIp, instanceId: owner });
            continue;
        }
        const holder = await ctx.store.lockOwner(drift.allocationId!);
        const name = holder && renderName(ctx.settings.dnsName, { ip: publicIp, suffix: ctx.settings.suffix, instanceId: holder });
        if (name !== dnsName) names.push({ name: dnsName!, ip: publicIp, instanceId: owner, ownerless: owner === undefined });
    }
    await ctx.dns.removeAll(names);
}

/**
 * Forsakes bindings whose address left the pool, once a read of the address by
 * itself confirms it (a lagging pool read alone must not end a binding): row, name
 * (under the lock), lock and claim go, as in a release; the association stays as
 * the operator left it, since the address is no longer the binder's to move.
 */
async function forsake(ctx: Context, drifts: Drift[]): Promise<{ instanceId: string; error?: unknown }[]> {
    const confirmed: string[] = [];
    const results: { instanceId: string; error?: unknown }[] = [];
    for (const drift of drifts) {
        try {
            const address = await ctx.ec2.address(drift.allocationId!);
            if (address && inOwnPool(ctx, address)) results.push({ instanceId: drift.instanceId! });
            else confirmed.push(drift.instanceId!);
        } catch (error) {
            results.push({ instanceId: drift.instanceId!, error });
        }
    }
    const claimedAddress = new Map(drifts.map(d => [d.instanceId!, d.allocationId!]));
    return [...results, ...await releaseAll(ctx, confirmed, { disassociate: false, claimedAddress })];
}
