// The exact DynamoDB requests the client sends, as plain data in the API's own
// shape, so that a scheduler in another language can send the same
// (docs/scheduler.md shows each). Every write is conditional on the run of the
// server it read (InstanceId and LaunchedAt): it never claims, frees or renews a
// row that is gone, of another instance, or of another run of the same instance,
// and, needing an InstanceId to match, it never creates one.
import { LEAVING, OFFER, OFFER_INDEX, OFFER_KEY_PARTS, SERVER_KEY } from "../binder/schema";
import { ALLOCATION, AttributeValue, Item } from "./rows";

/** Where to look for servers: each part only when it matters. */
export interface Selector {
    availabilityZone?: string;
    capacityType?: string;
    nodePool?: string;
    instanceType?: string;
}

/** What an allocation records on the server. */
export interface AllocationTerms {
    owner?: string;
    /** Streams the server can carry, 1 unless given. */
    capacity: number;
    leaseUntil?: string;
    metadata?: Record<string, string>;
}

export interface GetRequest {
    TableName: string;
    Key: Item;
    ConsistentRead: true;
}

export interface QueryRequest {
    TableName: string;
    IndexName: string;
    KeyConditionExpression: string;
    FilterExpression?: string;
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues: Item;
    ExclusiveStartKey?: Item;
}

export interface UpdateRequest {
    TableName: string;
    Key: Item;
    UpdateExpression: string;
    ConditionExpression: string;
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues: Item;
}

/** The run a row serves, as read: its instance and launch time (none on rows from before runs were recorded). */
export interface Run {
    publicIp: string;
    dnsName: string;
    instanceId: string;
    launchedAt?: string;
}

const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });

/** The `#Name` placeholders of expressions, each for the attribute of that name. */
function names(...texts: string[]): Record<string, string> {
    return Object.fromEntries([...new Set(texts.flatMap(text => [...text.matchAll(/#(\w+)/g)].map(match => match[1])))].map(name => [`#${name}`, name]));
}

export const rowKey = (row: { publicIp: string; dnsName: string }): Item => ({ [SERVER_KEY.partition]: S(row.publicIp), [SERVER_KEY.sort]: S(row.dnsName) });

/** The condition that the row is still of the run read: the first clause of every write. */
function sameRun(run: Run): { clause: string; values: Item } {
    return run.launchedAt === undefined
        ? { clause: "#InstanceId = :instance AND attribute_not_exists(#LaunchedAt)", values: { ":instance": S(run.instanceId) } }
        : { clause: "#InstanceId = :instance AND #LaunchedAt = :launched", values: { ":instance": S(run.instanceId), ":launched": S(run.launchedAt) } };
}

/** The condition that the row's allocation belongs to `owner` (no owner: an allocation without one). */
function ownedBy(owner: string | undefined): { clause: string; values: Item } {
    return owner === undefined
        ? { clause: `attribute_not_exists(#${ALLOCATION.owner})`, values: {} }
        : { clause: `#${ALLOCATION.owner} = :owner`, values: { ":owner": S(owner) } };
}

export function getRow(table: string, row: { publicIp: string; dnsName: string }): GetRequest {
    return { TableName: table, Key: rowKey(row), ConsistentRead: true };
}

/**
 * The offered servers that match `selector`, from the offers index: the selector's
 * leading parts (zone, capacity type, node pool, instance type) as a key prefix,
 * the others as a filter. `owner` (for `open`): only servers this owner shares.
 * `expiredBefore`: only allocations whose lease lapsed before then.
 */
export function offersQuery(table: string, offer: keyof typeof OFFER, selector: Selector, filter: { owner?: string | null; expiredBefore?: string } = {}): QueryRequest {
    const leading = OFFER_KEY_PARTS.findIndex(part => selector[part] === undefined);
    const prefixParts = OFFER_KEY_PARTS.slice(0, leading === -1 ? OFFER_KEY_PARTS.length : leading);
    const prefix = prefixParts.map(part => `${selector[part]}#`).join("");
    const values: Item = { ":offer": S(OFFER[offer]) };
    const key = [`#${OFFER_INDEX.partition} = :offer`];
    if (prefix !== "") {
        key.push(`begins_with(#${OFFER_INDEX.sort}, :prefix)`);
        values[":prefix"] = S(prefix);
    }
    const clauses: string[] = [];
    const attributeOf = { availabilityZone: "AvailabilityZone", capacityType: "CapacityType", nodePool: "NodePool", instanceType: "InstanceType" } as const;
    for (const part of OFFER_KEY_PARTS.filter(part => !prefixParts.includes(part) && selector[part] !== undefined)) {
        clauses.push(`#${attributeOf[part]} = :${part}`);
        values[`:${part}`] = S(selector[part]!);
    }
    if (filter.owner !== undefined) {
        const owned = ownedBy(filter.owner ?? undefined);
        clauses.push(owned.clause);
        Object.assign(values, owned.values);
    }
    if (filter.expiredBefore !== undefined) {
        clauses.push(`#${ALLOCATION.leaseUntil} < :now`);
        values[":now"] = S(filter.expiredBefore);
    }
    const KeyConditionExpression = key.join(" AND ");
    const FilterExpression = clauses.length > 0 ? clauses.join(" AND ") : undefined;
    return {
        TableName: table,
        IndexName: OFFER_INDEX.name,
        KeyConditionExpression,
        ...(FilterExpression !== undefined && { FilterExpression }),
        ExpressionAttributeNames: names(KeyConditionExpression, FilterExpression ?? ""),
        ExpressionAttributeValues: values,
    };
}

/** The SET and REMOVE of a new allocation: one stream on the server, the terms recorded, the rest of an earlier one cleared. */
function newAllocation(terms: AllocationTerms, now: string): { set: string[]; remove: string[]; values: Item } {
    const set = [`#${ALLOCATION.allocated} = :true`, `#${ALLOCATION.offer} = :offer`, `#${ALLOCATION.streams} = :one`, `#${ALLOCATION.capacity} = :capacity`, `#${ALLOCATION.allocatedAt} = :now`];
    const remove: string[] = [];
    const values: Item = { ":true": { BOOL: true }, ":offer": S(terms.capacity > 1 ? OFFER.open : OFFER.full), ":one": N(1), ":capacity": N(terms.capacity), ":now": S(now) };
    const optional: [string, AttributeValue | undefined][] = [
        [ALLOCATION.owner, terms.owner === undefined ? undefined : S(terms.owner)],
        [ALLOCATION.leaseUntil, terms.leaseUntil === undefined ? undefined : S(terms.leaseUntil)],
        [ALLOCATION.metadata, terms.metadata === undefined ? undefined : { M: Object.fromEntries(Object.entries(terms.metadata).map(([k, v]) => [k, S(v)])) }],
    ];
    for (const [attribute, value] of optional) {
        if (value === undefined) remove.push(`#${attribute}`);
        else {
            set.push(`#${attribute} = :${attribute}`);
            values[`:${attribute}`] = value;
        }
    }
    return { set, remove, values };
}

function update(table: string, run: Run, condition: string[], values: Item, set: string[], remove: string[]): UpdateRequest {
    const UpdateExpression = `SET ${set.join(", ")}${remove.length > 0 ? ` REMOVE ${remove.join(", ")}` : ""}`;
    const ConditionExpression = condition.join(" AND ");
    return { TableName: table, Key: rowKey(run), UpdateExpression, ConditionExpression, ExpressionAttributeNames: names(UpdateExpression, ConditionExpression), ExpressionAttributeValues: values };
}

/** Allocates a free server: on the condition that it is still the run read, free, and not leaving. */
export function claimFree(table: string, run: Run, terms: AllocationTerms, now: string): UpdateRequest {
    const same = sameRun(run);
    const fresh = newAllocation(terms, now);
    return update(table, run, [same.clause, `#${ALLOCATION.allocated} = :false`, `attribute_not_exists(#${LEAVING.reason})`],
        { ...same.values, ...fresh.values, ":false": { BOOL: false } }, fresh.set, fresh.remove);
}

/**
 * Places one more stream on a server `owner` shares: on the condition that it is
 * still the run read, the owner's, not leaving, and still carries the `streams`
 * read (fewer than its capacity), so two placements never both take the last slot.
 */
export function joinShared(table: string, run: Run, owner: string | undefined, streams: number, capacity: number, leaseUntil: string | undefined): UpdateRequest {
    const same = sameRun(run);
    const owned = ownedBy(owner);
    const set = [`#${ALLOCATION.streams} = :after`, `#${ALLOCATION.offer} = :offer`, ...(leaseUntil !== undefined ? [`#${ALLOCATION.leaseUntil} = :lease`] : [])];
    return update(table, run, [same.clause, owned.clause, `#${ALLOCATION.streams} = :seen`, `#${ALLOCATION.streams} < #${ALLOCATION.capacity}`, `attribute_not_exists(#${LEAVING.reason})`],
        { ...same.values, ...owned.values, ":seen": N(streams), ":after": N(streams + 1), ":offer": S(streams + 1 >= capacity ? OFFER.full : OFFER.open), ...(leaseUntil !== undefined && { ":lease": S(leaseUntil) }) },
        set, []);
}

/** Allocates a server whose lease lapsed, anew: on the condition that it is still the run read, with the lapsed lease read, and not leaving. */
export function takeOverLapsed(table: string, run: Run, lapsedLease: string, terms: AllocationTerms, now: string): UpdateRequest {
    const same = sameRun(run);
    const fresh = newAllocation(terms, now);
    return update(table, run, [same.clause, `#${ALLOCATION.leaseUntil} = :lapsed`, `#${ALLOCATION.leaseUntil} < :now`, `attribute_not_exists(#${LEAVING.reason})`],
        { ...same.values, ...fresh.values, ":lapsed": S(lapsedLease) }, fresh.set, fresh.remove);
}

/** What sets a server free: no streams, offered again, the allocation's terms cleared. */
const FREED = {
    set: [`#${ALLOCATION.allocated} = :false`, `#${ALLOCATION.offer} = :free`],
    remove: [ALLOCATION.owner, ALLOCATION.leaseUntil, ALLOCATION.streams, ALLOCATION.capacity, ALLOCATION.metadata, ALLOCATION.allocatedAt].map(name => `#${name}`),
    values: { ":false": { BOOL: false }, ":free": S(OFFER.free) } as Item,
};

/**
 * Ends one stream of `owner`'s on the server: on the condition that it is still the
 * run read, the owner's, not leaving, and carries the `streams` read; the last one
 * sets the server free.
 */
export function endStream(table: string, run: Run, owner: string | undefined, streams: number): UpdateRequest {
    const same = sameRun(run);
    const owned = ownedBy(owner);
    const condition = [same.clause, owned.clause, `#${ALLOCATION.streams} = :seen`, `attribute_not_exists(#${LEAVING.reason})`];
    const values = { ...same.values, ...owned.values, ":seen": N(streams) };
    return streams <= 1
        ? update(table, run, condition, { ...values, ...FREED.values }, FREED.set, FREED.remove)
        : update(table, run, condition, { ...values, ":after": N(streams - 1), ":open": S(OFFER.open) }, [`#${ALLOCATION.streams} = :after`, `#${ALLOCATION.offer} = :open`], []);
}

/** Frees a server whose lease lapsed: on the condition that it is still the run read, with the lapsed lease read, and not leaving. */
export function freeLapsed(table: string, run: Run, lapsedLease: string, now: string): UpdateRequest {
    const same = sameRun(run);
    return update(table, run, [same.clause, `#${ALLOCATION.leaseUntil} = :lapsed`, `#${ALLOCATION.leaseUntil} < :now`, `attribute_not_exists(#${LEAVING.reason})`],
        { ...same.values, ...FREED.values, ":lapsed": S(lapsedLease), ":now": S(now) }, FREED.set, FREED.remove);
}

/** Moves an allocation's lease on: on the condition that it is still the run read, the owner's, leased and not leaving. */
export function renewLease(table: string, run: Run, owner: string, leaseUntil: string): UpdateRequest {
    const same = sameRun(run);
    return update(table, run, [same.clause, `#${ALLOCATION.owner} = :owner`, `attribute_exists(#${ALLOCATION.leaseUntil})`, `attribute_not_exists(#${LEAVING.reason})`],
        { ...same.values, ":owner": S(owner), ":lease": S(leaseUntil) }, [`#${ALLOCATION.leaseUntil} = :lease`], []);
}
