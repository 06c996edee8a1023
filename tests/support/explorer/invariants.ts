// The invariants of docs/claim-protocol.md as checks over the true state of the
// world (the EC2 model's own view, never a lagging read, and consistent scans of
// the tables), each violation named so that a long exploration can count them.
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { Allocation as ClientAllocation } from "../../../scheduler";
import { hasTags } from "../../../binder/context";
import type { BinderSettings } from "../../../binder/config";
import { ownerText } from "../../../binder/aws/dns";
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
    /** What the scheduler client returned, which it releases. */
    allocation: ClientAllocation;
    /** The run it was handed out on (its launch time, ms), if the row said. */
    run?: number;
}

export interface Snapshot {
    settings: BinderSettings;
    /** When each worker's drain signal was sent (ms): the run that had started by then is drained. */
    signalled: Map<string, number>;
    ec2: Ec2Model;
    route53: Route53Model;
    allocations: Allocation[];
    facts: Facts;
    /** Workers a lost event (in the failed-events queue) may have left either way: their final state is not checked. */
    uncertain: Set<string>;
    rows(): Promise<Record<string, AttributeValue>[]>;
    bookkeeping(): Promise<Record<string, AttributeValue>[]>;
}

/** What the actors around the binder know: which of their events the binder has handled, and what they changed by hand. */
export interface Facts {
    /** The binder has handled an event that the run of `instanceId` started at `run` (ms) stopped or went away. */
    goneHandled(instanceId: string, run: number): boolean;
    /** The binder has handled a drain that holds for that run, and that nobody has ended since. */
    drainHandled(instanceId: string, run: number): boolean;
    /** A drain holds for that run, handled or not. */
    draining(instanceId: string, run: number): boolean;
    /** An operator changed this by hand (`row:<EIP>`, `name:<name>`, `association:<allocation id>`), and no reconciler run has ended since. */
    byHand(what: string): boolean;
    /** An operator released the instance with the CLI: its binding may go at any moment. */
    releasedByHand(instanceId: string): boolean;
    /** An operator took the address out of the pool (its tags removed): its binding is forsaken, its association left alone. */
    leftPool(allocationId: string): boolean;
}

/** The state a step may change, kept from one step to the next to see what it removed. */
export interface StepState {
    /** `<allocation id>` → instance holding its lock. */
    locks: Map<string, string>;
    /** `<allocation id>` → instance EC2 has it on. */
    associations: Map<string, string>;
    /** `<name>` → the address its A record holds (per binding). */
    names: Map<string, string>;
    /** `<EIP> <DNS_Record>` → the row. */
    rows: Map<string, Record<string, AttributeValue>>;
    /** instance → `<state> <launch time>`. */
    runs: Map<string, string>;
}

const s = (item: Record<string, AttributeValue>, name: string) => item[name]?.S ?? "";

/** The state after a step, as the checks compare it with the state before. */
export async function stepState(world: Snapshot): Promise<StepState> {
    const items = await world.bookkeeping();
    const rows = await world.rows();
    return {
        locks: new Map(items.filter(i => s(i, "Id").startsWith("eipalloc-")).map(i => [s(i, "Id"), s(i, "InstanceId")])),
        associations: new Map(world.ec2.addresses().flatMap(a => (a.association ? [[a.allocationId, a.association.instanceId]] : []))),
        names: new Map(world.route53.records("A").map(r => [r.name.replace(/\.$/, ""), r.values.join(",")])),
        rows: new Map(rows.map(r => [`${s(r, "EIP")} ${s(r, "DNS_Record")}`, r])),
        runs: new Map(world.ec2.instances().map(i => [i.instanceId, `${i.state} ${i.launchTime}`])),
    };
}

/**
 * What must hold after every step, whatever is in flight (the safety invariants of
 * docs/claim-protocol.md, each by name):
 * - `double-booked`: no row names an instance for an address EC2 has on another;
 * - `listed-not-running`: no row lists a run whose stop or termination the binder has handled;
 * - `listed-while-draining`: no row lists a run whose drain the binder has handled;
 * - `listed-without-address`: a listed server has its address on it (unless an operator took it
 *   off by hand, or the instance is going away);
 * - `listed-without-name` (per binding): a listed server's name resolves to its address;
 * - `taken-from-holder`: no lock, association, name or row of a live binding (a running or
 *   stopped worker that holds its address and the address's lock) is removed, except by an
 *   operator's hand or for a drain, stop or release of that worker;
 * - `allocated-lost` / `allocated-reset`: a server the scheduler handed out keeps its row and
 *   its `allocated` while it stays up;
 * - `placed-on-leaving`: no row that warns its server is leaving (stopped or draining) is
 *   allocated: the warning takes `allocated` away, so only a stream placed after it could
 *   set it (the scheduler also checks, as it allocates, that the binder had not handled the
 *   run's stop, termination or drain).
 */
export async function checkStep(world: Snapshot, before: StepState | undefined, after: StepState): Promise<Violation[]> {
    const { ec2, facts, settings } = world;
    const violations: Violation[] = [];
    const fail = (invariant: string, detail: string) => violations.push({ invariant, detail });
    const rows = [...after.rows.values()];
    for (const row of rows) {
        const instanceId = s(row, "InstanceId");
        const holder = ec2.address(s(row, "AllocationId"))?.association?.instanceId;
        if (holder && holder !== instanceId) fail("double-booked", `the row of ${s(row, "EIP")} names ${instanceId}, but EC2 has the address on ${holder}`);
        const instance = ec2.instance(instanceId);
        const run = row.LaunchedAt?.S === undefined ? undefined : Date.parse(row.LaunchedAt.S);
        if (!instance || run === undefined) continue;
        if (facts.goneHandled(instanceId, run)) {
            fail("listed-not-running", `the row of ${s(row, "EIP")} lists ${instanceId}'s run of ${row.LaunchedAt!.S}, whose stop or termination the binder has handled (EC2: ${instance.state})`);
        }
        if (row.Leaving?.S !== undefined && row.allocated?.BOOL === true) {
            fail("placed-on-leaving", `the row of ${s(row, "EIP")} says ${instanceId} is leaving (${row.Leaving.S}), yet a stream was placed on it`);
        }
        if (facts.drainHandled(instanceId, run)) fail("listed-while-draining", `the row of ${s(row, "EIP")} lists ${instanceId}, whose drain the binder has handled`);
        const going = instance.state === "shutting-down" || instance.state === "terminated";
        if (!holder && !going && !facts.byHand(`association:${s(row, "AllocationId")}`) && !facts.releasedByHand(instanceId)) {
            fail("listed-without-address", `the row of ${s(row, "EIP")} lists ${instanceId}, but EC2 has the address on nothing`);
        }
        if (settings.dnsRecords === "per-binding" && after.names.get(s(row, "DNS_Record")) !== s(row, "EIP")
            && !facts.byHand(`name:${s(row, "DNS_Record")}`) && !facts.releasedByHand(instanceId)) {
            fail("listed-without-name", `the row of ${s(row, "EIP")} lists ${s(row, "DNS_Record")}, which does not resolve to it`);
        }
    }
    if (before) violations.push(...takenFromHolder(world, before, after));
    // A drain that holds for the run (an operator's reads the clock only once EC2 has shown it the worker) takes the row with it.
    const drained = (a: Allocation) => a.run !== undefined && facts.draining(a.instanceId, a.run);
    for (const allocation of world.allocations.filter(a => a.live && !facts.leftPool(a.allocationId) && !drained(a))) {
        const row = rows.find(r => s(r, "EIP") === allocation.publicIp && s(r, "DNS_Record") === allocation.dnsName);
        if (!row || s(row, "InstanceId") !== allocation.instanceId) {
            fail("allocated-lost", `${allocation.instanceId} stayed bound to ${allocation.publicIp}, but its row ${row ? `now names ${s(row, "InstanceId")}` : "is gone"}`);
        } else if (row.allocated?.BOOL !== true) {
            fail("allocated-reset", `${allocation.instanceId} stayed bound to ${allocation.publicIp}, but its row says allocated = false`);
        }
    }
    return violations;
}

/**
 * A binding is live while its worker runs (or is stopped) in the same run, EC2 has the
 * address on it and it holds the address's lock: nobody but an operator, or the worker's own
 * drain, stop or release, may take any part of it.
 */
function takenFromHolder(world: Snapshot, before: StepState, after: StepState): Violation[] {
    const { facts, settings } = world;
    const violations: Violation[] = [];
    const fail = (detail: string) => violations.push({ invariant: "taken-from-holder", detail });
    for (const [allocationId, instanceId] of before.associations) {
        const run = before.runs.get(instanceId);
        if (before.locks.get(allocationId) !== instanceId || run !== after.runs.get(instanceId) || !/^(running|stopped) /.test(run ?? "")) continue;
        if (facts.releasedByHand(instanceId) || facts.leftPool(allocationId)) continue;
        const launched = Number(run!.split(" ")[1]);
        if (after.associations.get(allocationId) !== instanceId && !facts.byHand(`association:${allocationId}`)) {
            fail(`EC2 no longer has ${allocationId} on ${instanceId}, which held it and its lock`);
        }
        if (after.locks.get(allocationId) !== instanceId) fail(`the lock of ${allocationId} was taken from ${instanceId}, which holds the address`);
        const address = world.ec2.address(allocationId);
        if (!address) continue;
        const name = renderName(settings.dnsName, { ip: address.publicIp, suffix: settings.suffix, instanceId });
        if (settings.dnsRecords === "per-binding" && before.names.get(name) === address.publicIp && after.names.get(name) !== address.publicIp && !facts.byHand(`name:${name}`)) {
            fail(`the name ${name} of ${instanceId}'s binding was removed while it holds the address`);
        }
        const key = `${address.publicIp} ${name}`;
        const row = before.rows.get(key);
        const listed = row && s(row, "InstanceId") === instanceId && row.LaunchedAt?.S !== undefined && Date.parse(row.LaunchedAt.S) === launched;
        if (listed && run!.startsWith("running ") && !after.rows.has(key) && !facts.byHand(`row:${address.publicIp}`) && !facts.draining(instanceId, launched)) {
            fail(`the row of ${address.publicIp} was removed while ${instanceId} runs, holds the address and is not draining`);
        }
    }
    return violations;
}

/**
 * What must hold once the world is quiet: every running target holds exactly one
 * pool address, if one is free, with its claim, lock, row (with EC2's association
 * id) and, per binding, its record; a stopped or draining target holds its
 * address (a draining one, if it got one), claim, lock and record but no row;
 * nothing else is associated, claimed, locked, published or named; drain items
 * are of live targets, their causes of runs that are drained, and the waitlist of
 * running targets without an address.
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
    const certain = (id: string) => !world.uncertain.has(id);
    // An address taken out of the pool keeps its association, and nothing of the binder's.
    const pool = ec2.addresses().filter(a => hasTags(a.tags, settings.addressTags));
    const bound = pool.filter(a => a.association);
    for (const address of bound) {
        const state = isTarget(address.association!.instanceId);
        if (state !== "running" && state !== "stopped") fail("leaked-address", `${address.publicIp} is on ${address.association!.instanceId}, which is ${state ?? "not a target"}`);
    }
    const holders = bound.map(a => a.association!.instanceId);
    for (const id of new Set(holders)) if (holders.filter(h => h === id).length > 1) fail("two-addresses", `${id} holds ${holders.filter(h => h === id).length} pool addresses`);
    const free = pool.length - bound.length;
    const holdsOther = (id: string) => ec2.addresses().some(a => a.association?.instanceId === id && !pool.includes(a));
    const unbound = ec2.instances().filter(i => isTarget(i.instanceId) === "running" && !drained(i.instanceId) && !holders.includes(i.instanceId)
        && !holdsOther(i.instanceId) && certain(i.instanceId));
    if (free > 0) for (const instance of unbound) fail("unbound-target", `${instance.instanceId} is a running target without a pool address, and ${free} are free`);

    const items = await world.bookkeeping();
    const key = (item: Record<string, AttributeValue>) => s(item, "Id");
    const waiting = items.filter(i => key(i).startsWith("wait/")).map(i => key(i).slice("wait/".length));
    const stray = waiting.filter(id => certain(id) && !unbound.some(i => i.instanceId === id));
    if (stray.length > 0) fail("waitlist-mismatch", `on the waitlist, but not a running target waiting for an address: ${stray.join(", ")}`);
    // A drain item: its causes (each `…SignalledAt`) only while they drain the run; its fence of a stopped run while the instance lives.
    for (const mark of items.filter(i => key(i).startsWith("drain/"))) {
        const id = key(mark).slice("drain/".length);
        if (!certain(id)) continue;
        const state = isTarget(id);
        const causes = Object.keys(mark).some(name => name.endsWith("SignalledAt"));
        if (state === undefined || state === "shutting-down" || state === "terminated" || (causes && !drained(id))) {
            fail("drain-mismatch", `a drain item for ${id}, which is ${state ?? "not a target"}${!causes || drained(id) ? "" : " and not drained in this run"}`);
        }
    }

    const nameOf = (publicIp: string, instanceId: string) => renderName(settings.dnsName, { ip: publicIp, suffix: settings.suffix, instanceId });
    const expectedRows = bound
        .filter(a => isTarget(a.association!.instanceId) === "running" && !drained(a.association!.instanceId) && certain(a.association!.instanceId))
        .map(a => `${a.publicIp} ${nameOf(a.publicIp, a.association!.instanceId)} ${a.association!.associationId} ${a.association!.instanceId} ${a.allocationId}`);
    const rows = (await world.rows()).filter(r => certain(s(r, "InstanceId"))).map(r => `${s(r, "EIP")} ${s(r, "DNS_Record")} ${s(r, "AssociationId")} ${s(r, "InstanceId")} ${s(r, "AllocationId")}`);
    compare(fail, "row-mismatch", "server rows", rows, expectedRows);

    const claims = items.filter(i => key(i).startsWith("i-")).map(i => `${s(i, "Id")} → ${s(i, "AllocationId")}`);
    compare(fail, "claim-mismatch", "claims", claims, bound.map(a => `${a.association!.instanceId} → ${a.allocationId}`));
    const locks = items.filter(i => key(i).startsWith("eipalloc-")).map(i => `${s(i, "Id")} → ${s(i, "InstanceId")}`);
    compare(fail, "lock-mismatch", "locks", locks, bound.map(a => `${a.allocationId} → ${a.association!.instanceId}`));

    if (settings.dnsRecords === "per-binding") {
        const records = world.route53.records().filter(r => r.type === "A" || r.type === "TXT").map(r => `${r.name} ${r.type} ${r.values.join(",")}`);
        compare(fail, "record-mismatch", "records", records, bound.flatMap(a => {
            const name = `${nameOf(a.publicIp, a.association!.instanceId)}.`;
            return [`${name} A ${a.publicIp}`, `${name} TXT ${ownerText(settings.stack, a.association!.instanceId)}`];
        }));
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
