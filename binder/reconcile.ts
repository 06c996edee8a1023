// The reconciler: compares what EC2 says with the binder's bookkeeping and heals
// the difference with the same idempotent bind and release the events use, so it
// is safe beside a burst of events and beside another run of itself.
import { bindAll } from "./bind";
import { Context, hasTags } from "./context";
import { hasTimeToStart } from "./deadline";
import { Address, Instance, isAttachedTo } from "./ec2";
import { release } from "./release";
import { Claim, ServerRow, StoredServer } from "./store";

/** How long a claim may stay without its address before it counts as abandoned. */
export const CLAIM_LEASE_MS = 15 * 60 * 1000;

export type DriftKind =
    | "unbound-target"       // a running target holds no pool address: bind it
    | "abandoned-claim"      // a claim older than the lease never got its address: bind again
    | "stale-binding"        // a claim whose instance is gone or no longer a target: release it
    | "orphan-row"           // a row whose address is no longer associated as it says: remove the row
    | "stale-lock"           // a lock older than the lease that no claim or association backs: unlock
    | "foreign-association"; // a pool address associated outside the bookkeeping: reported only

export interface Drift {
    kind: DriftKind;
    detail: string;
    instanceId?: string;
    allocationId?: string;
    publicIp?: string;
    /** The row an orphan-row drift is about. */
    row?: ServerRow;
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

export interface Inspection {
    pool: PoolEntry[];
    free: number;
    drift: Drift[];
}

export interface Reconciliation {
    inspection: Inspection;
    fixed: Drift[];
    failed: { drift: Drift; error: string }[];
    /** Drift not fixed this run for lack of time; the next run finds it again. */
    postponed: Drift[];
}

const GONE = ["shutting-down", "terminated"];

/** Reads the pool, claims, rows and instances, and lists what is out of line. */
export async function inspect(ctx: Context): Promise<Inspection> {
    const { addressTags, instanceTags } = ctx.settings;
    const [pool, { claims, locks }, rows, targets] = await Promise.all([
        ctx.ec2.pool(addressTags),
        ctx.store.bookkeeping(),
        ctx.store.allServers(),
        ctx.ec2.runningTargets(instanceTags),
    ]);
    const known = new Map<string, Instance>(targets.map(i => [i.instanceId, i]));
    const referenced = [...claims.map(c => c.instanceId), ...rows.map(r => r.instanceId), ...pool.flatMap(a => a.association?.instanceId ?? [])];
    for (const instance of await ctx.ec2.instances([...new Set(referenced)].filter(id => !known.has(id)))) known.set(instance.instanceId, instance);

    const claimOf = new Map<string, Claim>(claims.map(c => [c.instanceId, c]));
    const isTarget = (i?: Instance) => i !== undefined && i.state === "running" && hasTags(i.tags, instanceTags);
    const now = ctx.now().getTime();
    const drift: Drift[] = [];

    for (const instance of targets) {
        if (!instance.primary || pool.some(a => isAttachedTo(a, instance.primary!))) continue;
        const claim = claimOf.get(instance.instanceId);
        const { instanceId } = instance;
        if (!claim) drift.push({ kind: "unbound-target", instanceId, detail: "running target without a pool address" });
        else if (rows.some(r => r.instanceId === instanceId)) {
            // The bind had finished (it published a row), so nothing is in flight: the address was lost.
            drift.push({ kind: "unbound-target", instanceId, allocationId: claim.allocationId, detail: "running target lost its pool address" });
        } else if (now - Date.parse(claim.claimedAt) > CLAIM_LEASE_MS) {
            drift.push({ kind: "abandoned-claim", instanceId, allocationId: claim.allocationId, detail: `claim from ${claim.claimedAt} never got its address` });
        }
    }
    const stale = new Set<string>();
    for (const claim of claims) {
        const instance = known.get(claim.instanceId);
        if (isTarget(instance) || (instance && !GONE.includes(instance.state) && instance.state !== "running")) continue;
        stale.add(claim.instanceId);
        const why = !instance ? "no longer exists" : GONE.includes(instance.state) ? `is ${instance.state}` : "no longer carries the instance tags";
        drift.push({ kind: "stale-binding", instanceId: claim.instanceId, allocationId: claim.allocationId, publicIp: claim.publicIp, detail: `instance ${why}` });
    }
    for (const row of rows) {
        if (stale.has(row.instanceId)) continue;
        const association = pool.find(a => a.allocationId === row.allocationId)?.association;
        if (association?.associationId === row.associationId && association.instanceId === row.instanceId) continue;
        const { publicIp, dnsName, associationId, instanceId, allocationId } = row;
        drift.push({
            kind: "orphan-row", instanceId, allocationId, publicIp,
            row: { publicIp, dnsName, associationId, instanceId, allocationId },
            detail: `row for ${dnsName} outlived its association`,
        });
    }
    for (const lock of locks) {
        const { allocationId, instanceId } = lock;
        if (stale.has(instanceId) || claimOf.get(instanceId)?.allocationId === allocationId) continue;
        if (pool.find(a => a.allocationId === allocationId)?.association?.instanceId === instanceId) continue;
        // A young lock may belong to a bind that is just moving on from it.
        if (now - Date.parse(lock.lockedAt) <= CLAIM_LEASE_MS) continue;
        drift.push({ kind: "stale-lock", instanceId, allocationId, detail: `lock from ${lock.lockedAt} backed by no claim or association` });
    }
    for (const address of pool) {
        const holder = address.association?.instanceId;
        if (!address.association || claimOf.get(holder ?? "")?.allocationId === address.allocationId) continue;
        drift.push({
            kind: "foreign-association", allocationId: address.allocationId, publicIp: address.publicIp, instanceId: holder,
            detail: `associated to ${holder ?? address.association.networkInterfaceId} without a claim; left alone`,
        });
    }
    return { pool: describePool(pool, rows, known), free: pool.filter(a => !a.association).length, drift };
}

function describePool(pool: Address[], rows: StoredServer[], instances: Map<string, Instance>): PoolEntry[] {
    return pool.map(address => {
        const instanceId = address.association?.instanceId;
        const row = rows.find(r => r.allocationId === address.allocationId && r.instanceId === instanceId);
        return {
            allocationId: address.allocationId,
            publicIp: address.publicIp,
            instanceId,
            state: instanceId ? instances.get(instanceId)?.state : undefined,
            dnsName: row?.dnsName,
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
    const failed = (drift: Drift, error: unknown) =>
        result.failed.push({ drift, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    for (const drift of inspection.drift) {
        ctx.log.info(options.dryRun ? "drift found (dry run)" : "drift found", { ...drift, action: "reconcile" });
        if (options.dryRun || drift.kind === "foreign-association") continue;
        if (drift.kind === "unbound-target" || drift.kind === "abandoned-claim") {
            toBind.push(drift);
            continue;
        }
        if (!hasTimeToStart(ctx.timeLeft())) {
            result.postponed.push(drift);
            continue;
        }
        await fix(ctx, drift).then(() => result.fixed.push(drift), err => failed(drift, err));
    }
    // Targets are bound last, as one batch (one read of their instances and of the
    // pool), so that addresses the releases above freed can go to them.
    if (toBind.length > 0) {
        const results = await bindAll(ctx, toBind.map(drift => drift.instanceId!));
        results.forEach((bound, i) => ("error" in bound ? failed(toBind[i], bound.error) : result.fixed.push(toBind[i])));
        result.postponed.push(...toBind.slice(results.length));
    }
    if (result.postponed.length > 0) {
        ctx.log.warn("the invocation is nearly out of time; the rest is left for the next run", { action: "reconcile", postponed: result.postponed.length, timeLeftMs: ctx.timeLeft() });
    }
    ctx.log.info("reconciled", {
        action: "reconcile", dryRun: options.dryRun, drift: inspection.drift.length, fixed: result.fixed.length, failed: result.failed.length, postponed: result.postponed.length,
    });
    return result;
}

/** Fixes one drift other than an unbound target (those are bound together, in one batch). */
async function fix(ctx: Context, drift: Drift): Promise<void> {
    switch (drift.kind) {
        case "stale-binding":
            await release(ctx, drift.instanceId!);
            return;
        case "orphan-row": {
            // Look again (a bind may have associated since the inspection); the delete
            // itself is conditional on the association id the row still carries.
            const row = drift.row!;
            const association = (await ctx.ec2.address(row.allocationId))?.association;
            if (association?.associationId !== row.associationId) await ctx.store.withdrawStale(row);
            return;
        }
        case "stale-lock":
            await ctx.store.unlock(drift.allocationId!, drift.instanceId!);
            return;
        case "foreign-association":
            return;
    }
}
