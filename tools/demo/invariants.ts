// What must hold once the day is over, read from the stand-ins themselves (not
// through the binder): the invariants tests/support/world.ts checks for a test's
// world, said in words so that the demo can print what broke.
import { drainKey, waitKey } from "../../binder/schema";
import { DemoWorld } from "./world";

/** Lists what differs between two sets of keys, or nothing. */
function differ(what: string, actual: string[], expected: string[]): string[] {
    const extra = actual.filter(key => !expected.includes(key));
    const missing = expected.filter(key => !actual.includes(key));
    const repeated = actual.filter((key, i) => actual.indexOf(key) !== i);
    return [
        ...extra.map(key => `${what}: unexpected ${key}`),
        ...missing.map(key => `${what}: missing ${key}`),
        ...repeated.map(key => `${what}: ${key} twice`),
    ];
}

/**
 * Every pool address is free or on a running target, and every running target
 * holds exactly one; the servers table holds a row for exactly the bound workers
 * that are not `draining`, naming the address, its DNS name (which resolves to
 * it) and the association; claims and locks are exactly the bindings; drain marks
 * are exactly the draining workers'; nobody is left on the waitlist. Returns the
 * broken ones (none when all hold), with the running targets and rows counted.
 */
export async function checkInvariants(world: DemoWorld, draining: string[]): Promise<{ broken: string[]; running: number; rows: number }> {
    const pool = world.ec2.addresses().filter(a => Object.entries(world.settings.addressTags).every(([key, value]) => a.tags[key] === value));
    const targets = world.ec2.instances().filter(i => world.isTarget(i)).map(i => i.instanceId);
    const bound = pool.flatMap(a => (a.association ? [{ ...a, association: a.association }] : []));
    const problems = bound
        .filter(a => !targets.includes(a.association.instanceId))
        .map(a => `${a.publicIp} is on ${a.association.instanceId}, which is not a running target`);
    problems.push(...differ("running targets holding a pool address", bound.map(a => a.association.instanceId), targets));

    const nameOf = (publicIp: string) => world.route53.records("A").find(r => r.values.includes(publicIp))?.name.replace(/\.$/, "");
    const rows = (await world.scan(world.settings.serversTable)).map(r => `${r.InstanceId} ${r.EIP} ${r.DNS_Record} ${r.AllocationId} ${r.AssociationId}`);
    const serving = bound.filter(a => !draining.includes(a.association.instanceId));
    problems.push(...differ("server rows", rows, serving.map(a => `${a.association.instanceId} ${a.publicIp} ${nameOf(a.publicIp)} ${a.allocationId} ${a.association.associationId}`)));

    const bookkeeping = await world.scan(world.settings.claimsTable);
    const ofKind = (prefix: string) => bookkeeping.filter(item => String(item.Id).startsWith(prefix));
    const bindings = bound.map(a => `${a.association.instanceId} ${a.allocationId}`);
    problems.push(...differ("claims", ofKind("i-").map(c => `${c.Id} ${c.AllocationId}`), bindings));
    problems.push(...differ("locks", ofKind("eipalloc-").map(l => `${l.InstanceId} ${l.Id}`), bindings));
    problems.push(...differ("drain marks", ofKind(drainKey("")).map(m => String(m.Id)), draining.map(drainKey)));
    problems.push(...ofKind(waitKey("")).map(place => `waitlist: ${String(place.Id).slice(waitKey("").length)} still waits`));
    return { broken: problems, running: targets.length, rows: rows.length };
}
