// What one step of a run touched, for the systematic search's reduction: two steps
// whose footprints do not conflict commute (either order leaves the same world and
// the same answers), so schedules that differ only in their order are one.
//
// Resources are named coarsely where a finer name would need care: a DynamoDB item
// is `ddb:<table>#<key>` and a Scan or Query reads `ddb:<table>#*`; an EC2 instance
// is `ec2:instance#<id>`, and every address write (an association may take another
// address off the same private IP) is `ec2:address#*`; Route53 is one resource; `world:…` are parts of the run's own
// bookkeeping (run.ts names them); `actor:<name>` orders an actor's steps after each
// other and after the step that started it; `*` conflicts with all.
import { CLAIM_KEY, SERVER_KEY } from "../../../binder/schema";

export interface Footprint {
    reads: Set<string>;
    writes: Set<string>;
}

export const EVERYTHING = "*";

export function emptyFootprint(): Footprint {
    return { reads: new Set(), writes: new Set() };
}

function overlaps(a: string, b: string): boolean {
    if (a === b || a === EVERYTHING || b === EVERYTHING) return true;
    const within = (whole: string, part: string) => whole.endsWith("#*") && part.startsWith(whole.slice(0, -1));
    return within(a, b) || within(b, a);
}

/** Two steps conflict when one writes what the other reads or writes. */
export function conflicts(a: Footprint, b: Footprint): boolean {
    for (const w of a.writes) for (const r of [...b.reads, ...b.writes]) if (overlaps(w, r)) return true;
    for (const w of b.writes) for (const r of a.reads) if (overlaps(w, r)) return true;
    return false;
}

/** The footprint as one line, part of a step's identity in the search. */
export function describeFootprint(f: Footprint): string {
    return `r[${[...f.reads].sort().join(" ")}] w[${[...f.writes].sort().join(" ")}]`;
}

const KEY_ATTRIBUTES = [SERVER_KEY.partition, SERVER_KEY.sort, CLAIM_KEY];

/** A run's tables carry a serial (`servers-12`): the same table in every run has one name here. */
function table(name: unknown): string {
    return String(name).replace(/-\d+$/, "");
}

function item(tableName: unknown, key: unknown): string {
    const attributes = (key ?? {}) as Record<string, Record<string, unknown>>;
    const parts = KEY_ATTRIBUTES.filter(k => attributes[k] !== undefined).map(k => `${k}=${JSON.stringify(attributes[k])}`);
    return `ddb:${table(tableName)}#${parts.join(",")}`;
}

/** What an AWS call may read and write, from its action and input. */
export function callFootprint(service: string, action: string, input: unknown): Footprint {
    const f = emptyFootprint();
    const request = (input ?? {}) as Record<string, unknown>;
    if (service === "dynamodb") {
        if (action === "Scan" || action === "Query") f.reads.add(`ddb:${table(request.TableName)}#*`);
        else if (action === "GetItem") f.reads.add(item(request.TableName, request.Key));
        else if (action === "PutItem") f.writes.add(item(request.TableName, request.Item));
        else if (action === "UpdateItem" || action === "DeleteItem") f.writes.add(item(request.TableName, request.Key));
        else if (action === "TransactWriteItems") {
            for (const entry of (request.TransactItems ?? []) as Record<string, Record<string, unknown>>[]) {
                const [kind, body] = Object.entries(entry)[0];
                const name = item(body.TableName, body.Key ?? body.Item);
                if (kind === "ConditionCheck") f.reads.add(name);
                else f.writes.add(name);
            }
        } else f.writes.add(EVERYTHING);
    } else if (service === "ec2") {
        const instances = Object.entries(request).filter(([k]) => /^InstanceId\.\d+$/.test(k)).map(([, v]) => `ec2:instance#${String(v)}`);
        if (action === "DescribeInstances") for (const r of instances.length > 0 ? instances : ["ec2:instance#*"]) f.reads.add(r);
        else if (action === "DescribeAddresses") f.reads.add("ec2:address#*");
        else if (action === "AssociateAddress" || action === "DisassociateAddress") {
            f.reads.add("ec2:instance#*");
            f.writes.add("ec2:address#*");
        } else f.writes.add(EVERYTHING);
    } else if (service === "route53") {
        // GetChange counts its polls: a write of the change, and of Route53 here for simplicity.
        (action.startsWith("List") ? f.reads : f.writes).add("route53");
    } else {
        f.writes.add(EVERYTHING);
    }
    return f;
}
