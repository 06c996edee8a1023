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
 * pool address with its claim, lock, row (with EC2's association id) and, per
 * binding, its record; a stopped target holds its address, claim, lock and record
 * but no row; nothing else is associated, claimed, locked, published or named.
 */
export async function checkFinal(world: Snapshot): Promise<Violation[]> {
    const { settings, ec2 } = world;
    const violations: Violation[] = [];
    const fail = (invariant: string, detail: string) => violations.push({ invariant, detail });
    const isTarget = (id: string) => {
        const instance = ec2.instance(id);
        return instance !== undefined && hasTags(instance.tags, settings.instanceTags) ? instance.state : undefined;
    };
    const bound = ec2.addresses().filter(a => a.association);
    for (const address of bound) {
        const state = isTarget(address.association!.instanceId);
        if (state !== "running" && state !== "stopped") fail("leaked-address", `${address.publicIp} is on ${address.association!.instanceId}, which is ${state ?? "not a target"}`);
    }
    const holders = bound.map(a => a.association!.instanceId);
    for (const id of new Set(holders)) if (holders.filter(h => h === id).length > 1) fail("two-addresses", `${id} holds ${holders.filter(h => h === id).length} pool addresses`);
    for (const instance of ec2.instances()) {
        if (isTarget(instance.instanceId) === "running" && !holders.includes(instance.instanceId)) fail("unbound-target", `${instance.instanceId} is a running target without a pool address`);
    }

    const nameOf = (publicIp: string, instanceId: string) => renderName(settings.dnsName, { ip: publicIp, suffix: settings.suffix, instanceId });
    const expectedRows = bound
        .filter(a => isTarget(a.association!.instanceId) === "running")
        .map(a => `${a.publicIp} ${nameOf(a.publicIp, a.association!.instanceId)} ${a.association!.associationId} ${a.association!.instanceId} ${a.allocationId}`);
    const rows = (await world.rows()).map(r => `${s(r, "EIP")} ${s(r, "DNS_Record")} ${s(r, "AssociationId")} ${s(r, "InstanceId")} ${s(r, "AllocationId")}`);
    compare(fail, "row-mismatch", "server rows", rows, expectedRows);

    const items = await world.bookkeeping();
    const claims = items.filter(i => !i.InstanceId).map(i => `${s(i, "Id")} → ${s(i, "AllocationId")}`);
    compare(fail, "claim-mismatch", "claims", claims, bound.map(a => `${a.association!.instanceId} → ${a.allocationId}`));
    const locks = items.filter(i => i.InstanceId).map(i => `${s(i, "Id")} → ${s(i, "InstanceId")}`);
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
