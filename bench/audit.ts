// The final state against the invariants of docs/claim-protocol.md, counted instead of asserted, so
// that the naive binder's failures are figures rather than a stack trace.
import { drainKey, LEGACY_WAITLIST_KEY, waitKey } from "../binder/schema";
import { BenchWorld } from "./world";

export interface Audit {
    targets: number;
    /** Targets holding exactly one pool address, with a row that says so. */
    bound: number;
    /** Targets holding no pool address. */
    unbound: number;
    /** Targets left unbound while a pool address was free at the end. */
    unboundWithFreeAddress: number;
    duplicates: {
        /** Instances holding two or more pool addresses. */
        instanceWithTwo: number;
        /** Addresses named by rows of two or more instances. */
        addressInTwoRows: number;
        /** Instances named by two or more rows. */
        instanceInTwoRows: number;
    };
    leaks: {
        /** Pool addresses associated to anything but a running target. */
        onNonTarget: number;
        /** Pool addresses associated without a matching server row. */
        associatedWithoutRow: number;
        /** Claims or locks (ours) on an address the instance does not hold. */
        claimWithoutBinding: number;
        /** Unbound instances that still hold a claim (ours). */
        unboundWithClaim: number;
    };
    /** Rows naming an address that is not on their instance (the scheduler would hand out a dead server). */
    staleRows: number;
    /** per-binding: bound rows whose name does not resolve to their address. */
    unresolvedNames: number;
    /** Ours: drain marks left in the claims table (the reconciler forgets those of workers that are gone). */
    drainMarks: number;
    /** Ours: workers still on the waitlist (it names running workers that found the pool exhausted). */
    waiting: number;
}

const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);
export const duplicatesOf = (audit: Audit) => sum(audit.duplicates);
export const leaksOf = (audit: Audit) => sum(audit.leaks);

/** The final state; `targets` are the workers that should end bound (the burst's launches unless a scenario says). */
export async function audit(world: BenchWorld, targets: string[] = world.instanceIds): Promise<Audit> {
    const instances = new Map(world.ec2.instances().map(i => [i.instanceId, i]));
    const isTarget = (id: string) => {
        const instance = instances.get(id);
        return instance?.state === "running" && Object.entries(world.settings.instanceTags).every(([k, v]) => instance.tags[k] === v);
    };
    const addresses = world.ec2.addresses();
    const associated = addresses.filter(a => a.association);
    const rows = await world.scan(world.settings.serversTable);
    // The claims table holds instances' claims (Id = instance id) and addresses' locks
    // (Id = allocation id, with InstanceId); both must match a binding.
    // Drain marks and the waitlist are kept there too, and are neither claims nor locks.
    const items = await world.scan(world.settings.claimsTable);
    const isMark = (item: Record<string, unknown>) => String(item.Id).startsWith(drainKey(""));
    const isWaitlist = (item: Record<string, unknown>) => String(item.Id).startsWith(waitKey("")) || item.Id === LEGACY_WAITLIST_KEY;
    const bookkeeping = items.filter(item => !isWaitlist(item) && !isMark(item));
    const claims = bookkeeping.map(item => item.InstanceId === undefined
        ? { InstanceId: item.Id, AllocationId: item.AllocationId }
        : { InstanceId: item.InstanceId, AllocationId: item.Id });
    const holderOf = new Map(associated.map(a => [a.allocationId, a.association!.instanceId]));

    const held = countBy(associated.map(a => a.association!.instanceId));
    const rowMatches = (row: Record<string, unknown>, a: (typeof addresses)[number]) =>
        row.AllocationId === a.allocationId && row.InstanceId === a.association?.instanceId && row.AssociationId === a.association?.associationId;
    const withRow = associated.filter(a => rows.some(row => rowMatches(row, a)));
    const bound = targets.filter(id => held.get(id) === 1 && withRow.some(a => a.association!.instanceId === id));
    const unbound = targets.filter(id => !held.has(id));
    const free = addresses.length - associated.length;

    const records = new Map(world.route53.records("A").map(r => [r.name, r.values]));
    const unresolved = world.settings.dnsRecords === "per-binding"
        ? rows.filter(row => records.get(`${row.DNS_Record}.`)?.join() !== row.EIP).length
        : 0;

    return {
        targets: targets.length,
        bound: bound.length,
        unbound: unbound.length,
        unboundWithFreeAddress: Math.min(free, unbound.length),
        duplicates: {
            instanceWithTwo: [...held.values()].filter(n => n > 1).length,
            addressInTwoRows: [...countBy(rows.map(r => String(r.AllocationId))).values()].filter(n => n > 1).length,
            instanceInTwoRows: [...countBy(rows.map(r => String(r.InstanceId))).values()].filter(n => n > 1).length,
        },
        leaks: {
            onNonTarget: associated.filter(a => !isTarget(a.association!.instanceId)).length,
            associatedWithoutRow: associated.length - withRow.length,
            claimWithoutBinding: claims.filter(c => holderOf.get(String(c.AllocationId)) !== c.InstanceId).length,
            unboundWithClaim: claims.filter(c => !held.has(String(c.InstanceId))).length,
        },
        staleRows: rows.filter(row => holderOf.get(String(row.AllocationId)) !== row.InstanceId).length,
        unresolvedNames: unresolved,
        drainMarks: items.filter(isMark).length,
        waiting: items.filter(item => String(item.Id).startsWith(waitKey(""))).length,
    };
}

function countBy(keys: string[]): Map<string, number> {
    const counts = new Map<string, number>();
    for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
    return counts;
}
