// The invariants of shared/DESIGN.md as checks over the true state of the world
// (the EC2 model's own view, never a lagging read, and consistent scans of the
// tables), each violation named so that a long exploration can count them.
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { hasTags } from "../../../binder/context";
import type { BinderSettings } from "../../../binder/config";
import { renderName } from "../../../binder/naming";
import type { Ec2Model } from "../aws/ec2";
import type { Route53Model } from "../aws/route53";

export interface Violation {
    invariant: string;
    detail: string;
    /** The step after which it was seen (none: at the end). */
    step?: number;
}

/** A server the scheduler handed out; `live` while it has stayed running and bound since. */
export interface Allocation {
    publicIp: string;
    dnsName: string;
    instanceId: string;
    allocationId: string;
    live: boolean;
}

export interface Snapshot {
    settings: BinderSettings;
    /** When each worker's drain signal was sent (ms): the run that had started by then is drained. */
    signalled: Map<string, number>;
    ec2: Ec2Model;
    route53: Route53Model;
    allocations: Allocation[];
    rows(): Promise<Record<string, AttributeValue>[]>;
    bookkeeping(): Promise<Record<string, AttributeValue>[]>;
}

const s = (item: Record<string, AttributeValue>, name: string) => item[name]?.S ?? "";

/**
 * What must hold after every step, whatever is in flight: no row hands out an
 * address that EC2 has on another instance (a double-booked server), and a server
 * the scheduler handed out keeps its row and its `allocated` while it stays bound.
 */
export async function checkStep(world: Snapshot): Promise<Violation[]> {
    const violations: Violation[] = [];
    const rows = await world.rows();
    for (const row of rows) {
        const holder = world.ec2.address(s(row, "AllocationId"))?.association?.instanceId;
        if (holder && holder !== s(row, "InstanceId")) {
            violations.push({ invariant: "double-booked", detail: `the row of ${s(row, "EIP")} names ${s(row, "InstanceId")}, but EC2 has the address on ${holder}` });
        }
    }
    for (const allocation of world.allocations.filter(a => a.live)) {
        const row = rows.find(r => s(r, "EIP") === allocation.publicIp && s(r, "DNS_Record") === allocation.dnsName);
        if (!row || s(row, "InstanceId") !== allocation.instanceId) {
            violations.push({ invariant: "allocated-lost", detail: `${allocation.instanceId} stayed bound to ${allocation.publicIp}, but its row ${row ? `now names ${s(row, "InstanceId")}` : "is gone"}` });
        } else if (row.allocated?.BOOL !== true) {
            violations.push({ invariant: "allocated-reset", detail: `${allocation.instanceId} stayed bound to ${allocation.publicIp}, but its row says allocated = false` });
        }
    }
    return violations;
}

/**
 * What must hold once the world is quiet: every running target holds exactly one
 * pool address, if one is free, with its claim, lock, row (with EC2's association
 * id) and, per binding, its record; a stopped or draining target holds its
 * address (a draining one, if it got one), claim, lock and record but no row;
 * nothing else is associated, claimed, locked, published or named; drain marks
 * are of runs that are drained, and the waitlist of running targets without an address.
 */
export async function checkFinal(world: Snapshot): Promise<Violation[]> {
    const { settings, ec2 } = world;
    const violations: Violation[] = [];
    const fail = (invariant: string, detail: string) => violations.push({ invariant, detail });
    const isTarget = (id: string) => {
        const instance = ec2.instance(id);
        return instance !== undefined && hasTags(instance.tags, settings.instanceTags) ? instance.state : undefined;
    };
    const drained = (id: string) => {
        const signalled = world.signalled.get(id);
        const instance = ec2.instance(id);
        return signalled !== undefined && instance !== undefined && instance.launchTime <= signalled;
    };
    const bound = ec2.addresses().filter(a => a.association);
    for (const address of bound) {
        const state = isTarget(address.association!.instanceId);
        if (state !== "running" && state !== "stopped") fail("leaked-address", `${address.publicIp} is on ${address.association!.instanceId}, which is ${state ?? "not a target"}`);
    }
    const holders = bound.map(a => a.association!.instanceId);
    for (const id of new Set(holders)) if (holders.filter(h => h === id).length > 1) fail("two-addresses", `${id} holds ${holders.filter(h => h === id).length} pool addresses`);
    const free = ec2.addresses().length - bound.length;
    const unbound = ec2.instances().filter(i => isTarget(i.instanceId) === "running" && !drained(i.instanceId) && !holders.includes(i.instanceId));
    if (free > 0) for (const instance of unbound) fail("unbound-target", `${instance.instanceId} is a running target without a pool address, and ${free} are free`);

    const items = await world.bookkeeping();
    const key = (item: Record<string, AttributeValue>) => s(item, "Id");
    const waiting = items.filter(i => key(i).startsWith("wait/")).map(i => key(i).slice("wait/".length));
    const stray = waiting.filter(id => !unbound.some(i => i.instanceId === id));
    if (stray.length > 0) fail("waitlist-mismatch", `on the waitlist, but not a running target waiting for an address: ${stray.join(", ")}`);
    for (const mark of items.filter(i => key(i).startsWith("drain/"))) {
        const id = key(mark).slice("drain/".length);
        const state = isTarget(id);
        if (state === undefined || state === "shutting-down" || state === "terminated" || !drained(id)) {
            fail("drain-mismatch", `a drain mark for ${id}, which is ${state ?? "not a target"}${drained(id) ? "" : " and not drained in this run"}`);
        }
    }

    const nameOf = (publicIp: string, instanceId: string) => renderName(settings.dnsName, { ip: publicIp, suffix: settings.suffix, instanceId });
    const expectedRows = bound
        .filter(a => isTarget(a.association!.instanceId) === "running" && !drained(a.association!.instanceId))
        .map(a => `${a.publicIp} ${nameOf(a.publicIp, a.association!.instanceId)} ${a.association!.associationId} ${a.association!.instanceId} ${a.allocationId}`);
    const rows = (await world.rows()).map(r => `${s(r, "EIP")} ${s(r, "DNS_Record")} ${s(r, "AssociationId")} ${s(r, "InstanceId")} ${s(r, "AllocationId")}`);
    compare(fail, "row-mismatch", "server rows", rows, expectedRows);

    const claims = items.filter(i => key(i).startsWith("i-")).map(i => `${s(i, "Id")} → ${s(i, "AllocationId")}`);
    compare(fail, "claim-mismatch", "claims", claims, bound.map(a => `${a.association!.instanceId} → ${a.allocationId}`));
    const locks = items.filter(i => key(i).startsWith("eipalloc-")).map(i => `${s(i, "Id")} → ${s(i, "InstanceId")}`);
    compare(fail, "lock-mismatch", "locks", locks, bound.map(a => `${a.allocationId} → ${a.association!.instanceId}`));

    if (settings.dnsRecords === "per-binding") {
        const records = world.route53.records("A").map(r => `${r.name} ${r.values.join(",")}`);
        compare(fail, "record-mismatch", "records", records, bound.map(a => `${nameOf(a.publicIp, a.association!.instanceId)}. ${a.publicIp}`));
    }
    return violations;
}

function compare(fail: (invariant: string, detail: string) => void, invariant: string, what: string, actual: string[], expected: string[]): void {
    const missing = expected.filter(e => !actual.includes(e));
    const extra = actual.filter(a => !expected.includes(a));
    const doubled = actual.filter((a, i) => actual.indexOf(a) !== i);
    if (missing.length + extra.length + doubled.length === 0) return;
    const parts = [missing.length && `missing ${missing.join("; ")}`, extra.length && `extra ${extra.join("; ")}`, doubled.length && `twice ${doubled.join("; ")}`];
    fail(invariant, `${what}: ${parts.filter(Boolean).join("; ")}`);
}
