// DynamoDB access: claims (the binder's lock, one per instance) and server rows
// (the scheduler's list of bound servers). Every write is conditional on the
// instance that makes it, so a late event never undoes a newer binding.
import {
    AttributeValue,
    DeleteItemCommand,
    DynamoDBClient,
    GetItemCommand,
    PutItemCommand,
    TransactionCanceledException,
    TransactWriteItem,
    TransactWriteItemsCommand,
    QueryCommand,
    ScanCommand,
    BatchGetItemCommand,
    UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { errorCode, isTransactionConflict, retryingConflicts } from "./clients";
import { isNamedError, namedError } from "../errors";
import { CLAIM_KEY, drainKey, LEAVING, LEGACY_WAITLIST_KEY, OFFER, OFFER_INDEX, offerKey, SERVER_KEY, waitKey, WAITLIST_INDEX, WAITLIST_PARTITION } from "../schema";

/** An instance's claim on one pool address, written before the address is associated. */
export interface Claim {
    instanceId: string;
    allocationId: string;
    publicIp: string;
    dnsName: string;
    claimedAt: string;
}

/** An address's lock: the instance that may associate it. */
export interface Lock {
    allocationId: string;
    instanceId: string;
    lockedAt: string;
}

/**
 * Why a worker is being drained: an early signal from AWS (see events.ts), an
 * operator's `drain` command, or the worker itself through its node hook.
 */
export type DrainCause = "spot-interruption" | "rebalance-recommendation" | "scheduled-change" | "operator" | "node";

/** One cause of a worker's drain, as recorded: each cause keeps its own signal. */
export interface DrainSignal {
    cause: DrainCause;
    /** When the signal was sent (ISO 8601). */
    signalledAt: string;
    /** When the signal says the instance goes, if it says. */
    deadline?: string;
    /** When the binder recorded it. */
    recordedAt: string;
    /** Recorded in the one-cause attributes of marks written before causes accumulated (`Cause`, `SignalledAt`, …). */
    legacy?: true;
}

/**
 * What keeps runs of a worker off the scheduler's list (the item `drain/<id>`):
 * its drain causes, and the fence of its last stopped run. A drain holds for a
 * run while any of its causes does (see drainHolds): the server stays off the
 * list while it goes away, but keeps its address, name and claim for the streams
 * already on it. A fence holds for the run that stopped and every earlier one.
 */
export interface DrainMark {
    instanceId: string;
    signals: DrainSignal[];
    /** The LaunchTime of the latest run EC2 showed stopping or stopped: that run, and every earlier one, is over. */
    stoppedRun?: string;
    /** When the fence was recorded. */
    stoppedRecordedAt?: string;
}

/** Whether a signal holds for the run that started at `launchedAt` (a run not known: it holds). */
export function drainHolds(signal: Pick<DrainSignal, "signalledAt">, launchedAt: string | undefined): boolean {
    return launchedAt === undefined || launchedAt <= signal.signalledAt;
}

/** The causes of a mark that hold for the run that started at `launchedAt`, first signalled first. */
export function holdingSignals(mark: DrainMark | undefined, launchedAt: string | undefined): DrainSignal[] {
    return (mark?.signals ?? []).filter(signal => drainHolds(signal, launchedAt)).sort((a, b) => a.signalledAt.localeCompare(b.signalledAt));
}

/** Whether the run that started at `launchedAt` is fenced: EC2 showed it, or a later run, stopping. */
export function isFenced(mark: DrainMark | undefined, launchedAt: string | undefined): boolean {
    return launchedAt !== undefined && mark?.stoppedRun !== undefined && launchedAt <= mark.stoppedRun;
}

/**
 * Where each cause is recorded in the drain item: its own `<prefix>SignalledAt`,
 * `<prefix>Deadline` and `<prefix>RecordedAt`, so that causes accumulate and one
 * ends without touching another. The prefix "" holds the one cause (with `Cause`)
 * of marks written before.
 */
const CAUSE_PREFIX: Record<DrainCause, string> = {
    "spot-interruption": "Spot", "rebalance-recommendation": "Rebalance", "scheduled-change": "Scheduled", "operator": "Operator", "node": "Node",
};
const LEGACY_PREFIX = "";
const SLOTS = [LEGACY_PREFIX, ...Object.values(CAUSE_PREFIX)];
const prefixOf = (signal: DrainSignal) => (signal.legacy ? LEGACY_PREFIX : CAUSE_PREFIX[signal.cause]);
const slotAttributes = (prefix: string) => [`${prefix}SignalledAt`, `${prefix}Deadline`, `${prefix}RecordedAt`, ...(prefix === LEGACY_PREFIX ? ["Cause"] : [])];

/** A running worker that found the pool exhausted, and since when it waits. */
export interface Waiting {
    instanceId: string;
    since: string;
}

/** A bound server as the scheduler sees it. */
export interface ServerRow {
    publicIp: string;
    dnsName: string;
    associationId: string;
    instanceId: string;
    allocationId: string;
    /** The instance's LaunchTime when the row was published: which run of the instance it serves (absent on rows from before it was recorded). */
    launchedAt?: string;
    placement?: Placement;
}

/** What a scheduler places streams by, as EC2 and Karpenter describe the instance; each part only when known. */
export interface Placement {
    availabilityZone?: string;
    instanceType?: string;
    privateIp?: string;
    /** Karpenter's `karpenter.sh/nodepool` tag. */
    nodePool?: string;
    /** Karpenter's `karpenter.sh/capacity-type` tag: `spot`, `on-demand` or `reserved`. */
    capacityType?: string;
}

/** The row attribute of each part of a placement. */
const PLACEMENT_ATTRIBUTES: Record<keyof Placement, string> = {
    availabilityZone: "AvailabilityZone",
    instanceType: "InstanceType",
    privateIp: "PrivateIp",
    nodePool: "NodePool",
    capacityType: "CapacityType",
};

const S = (value: string): AttributeValue => ({ S: value });

/**
 * Locks read at once after a lock collision: the lost one and the addresses the bind
 * would try next. Locks do not show in EC2's view of the pool, and in a burst the next
 * candidates are often taken too; one read of a few (BatchGetItem takes up to 100)
 * costs the same whatever the fleet's size.
 */
export const LOCKS_PER_READ = 10;

const serverKey = (publicIp: string, dnsName: string) => ({ [SERVER_KEY.partition]: S(publicIp), [SERVER_KEY.sort]: S(dnsName) });

const isConflict = (err: unknown) => errorCode(err) === "ConditionalCheckFailedException";

/** The instance is draining: its server stays off the list (not a failure: its bind is settled). */
export const DRAINING = "DrainingError";

/** EC2 showed the run being bound stopping since: its server stays off the list (not a failure: the next run is bound anew). */
export const RUN_STOPPED = "RunStoppedError";

/** The instance's claim no longer names the address: a release (by hand) has taken it, or the claim moved on. */
const claimLost = (row: ServerRow) =>
    namedError("ClaimLostError", `the claim of ${row.instanceId} no longer names ${row.allocationId}; its row is not published`);

/** The instance no longer holds the address's lock: its release, or the reconciler, has moved on. */
const lockLost = (row: ServerRow) =>
    namedError("LockLostError", `${row.instanceId} no longer holds the lock of ${row.allocationId}; its row is not published`);


/**
 * A transaction that other transactions on its items kept cancelling, through a
 * few quick attempts: nothing of it was written. `conflicted`: the positions of
 * the actions whose items were in another transaction.
 */
export const TRANSACTION_CONFLICT = "TransactionConflictError";

/** Runs a conditional write; false when its condition did not hold. */
async function conditional(write: () => Promise<unknown>): Promise<boolean> {
    try {
        await write();
        return true;
    } catch (err) {
        if (isConflict(err)) return false;
        throw err;
    }
}

function claimItem(claim: Claim): Record<string, AttributeValue> {
    return {
        [CLAIM_KEY]: S(claim.instanceId),
        AllocationId: S(claim.allocationId),
        PublicIp: S(claim.publicIp),
        DnsName: S(claim.dnsName),
        ClaimedAt: S(claim.claimedAt),
    };
}

function toClaim(item: Record<string, AttributeValue>): Claim {
    return {
        instanceId: item[CLAIM_KEY]?.S ?? "",
        allocationId: item.AllocationId?.S ?? "",
        publicIp: item.PublicIp?.S ?? "",
        dnsName: item.DnsName?.S ?? "",
        claimedAt: item.ClaimedAt?.S ?? "",
    };
}

function toDrain(item: Record<string, AttributeValue>): DrainMark {
    const signal = (prefix: string, cause: DrainCause | undefined): DrainSignal[] => {
        const signalledAt = item[`${prefix}SignalledAt`]?.S;
        if (signalledAt === undefined || cause === undefined) return [];
        const deadline = item[`${prefix}Deadline`]?.S;
        return [{ cause, signalledAt, ...(deadline !== undefined && { deadline }), recordedAt: item[`${prefix}RecordedAt`]?.S ?? "", ...(prefix === LEGACY_PREFIX && { legacy: true as const }) }];
    };
    return {
        instanceId: (item[CLAIM_KEY]?.S ?? "").slice(drainKey("").length),
        signals: [
            ...signal(LEGACY_PREFIX, (item.Cause?.S ?? "operator") as DrainCause),
            ...(Object.entries(CAUSE_PREFIX) as [DrainCause, string][]).flatMap(([cause, prefix]) => signal(prefix, cause)),
        ],
        ...(item.StoppedRun?.S !== undefined && { stoppedRun: item.StoppedRun.S, stoppedRecordedAt: item.StoppedRecordedAt?.S ?? "" }),
    };
}

/** A worker's place on the waitlist. */
function toWaiting(item: Record<string, AttributeValue>): Waiting {
    return { instanceId: (item[CLAIM_KEY]?.S ?? "").slice(waitKey("").length), since: item.Since?.S ?? "" };
}

/** Longest waiting first, as the waitlist index sorts them. */
const byPlace = (a: Waiting, b: Waiting) => (placeOf(a) < placeOf(b) ? -1 : placeOf(a) > placeOf(b) ? 1 : 0);
const placeOf = (w: Waiting) => `${w.since}#${w.instanceId}`;

/** Writes of the waitlist sent at once: one item each, so a long line costs calls, never an item or expression past DynamoDB's limits. */
const WAITLIST_WRITES_AT_ONCE = 10;

/** Runs `write` for each of `items`, at most `atOnce` at a time. */
async function inBatches<T>(items: T[], atOnce: number, write: (item: T) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < items.length; i += atOnce) await Promise.all(items.slice(i, i + atOnce).map(write));
}

/** A server row as stored, with the scheduler's fields. */
export interface StoredServer extends ServerRow {
    allocated: boolean;
    boundAt: string;
    /** Whether the row is on the offers index (or leaving it): false for a row published before the index. */
    offered: boolean;
}

function toServer(item: Record<string, AttributeValue>): StoredServer {
    return {
        publicIp: item[SERVER_KEY.partition]?.S ?? "",
        dnsName: item[SERVER_KEY.sort]?.S ?? "",
        associationId: item.AssociationId?.S ?? "",
        instanceId: item.InstanceId?.S ?? "",
        allocationId: item.AllocationId?.S ?? "",
        launchedAt: item.LaunchedAt?.S,
        allocated: item.allocated?.BOOL ?? false,
        boundAt: item.BoundAt?.S ?? "",
        offered: item[OFFER_INDEX.partition] !== undefined || item[LEAVING.reason] !== undefined,
    };
}

export class Store {
    constructor(
        private readonly client: DynamoDBClient,
        private readonly serversTable: string,
        private readonly claimsTable: string,
    ) {
        retryingConflicts(client);
    }

    /** The instance's claim, read consistently so a just-written claim is seen. */
    async claim(instanceId: string): Promise<Claim | undefined> {
        const out = await this.client.send(new GetItemCommand({
            TableName: this.claimsTable,
            Key: { [CLAIM_KEY]: S(instanceId) },
            ConsistentRead: true,
        }));
        return out.Item && toClaim(out.Item);
    }

    /** Every claim, lock, drain mark and waiting worker (the reconciler's view; small: about two items per bound instance). */
    async bookkeeping(): Promise<{ claims: Claim[]; locks: Lock[]; drains: DrainMark[]; waiting: Waiting[] }> {
        const items = await this.scan(this.claimsTable);
        const key = (item: Record<string, AttributeValue>) => item[CLAIM_KEY]?.S ?? "";
        const places = items.filter(item => key(item).startsWith(waitKey("")));
        const drains = items.filter(item => key(item).startsWith(drainKey("")));
        const rest = items.filter(item => key(item) !== LEGACY_WAITLIST_KEY && !places.includes(item) && !drains.includes(item));
        const isLock = (item: Record<string, AttributeValue>) => item.InstanceId !== undefined;
        return {
            claims: rest.filter(item => !isLock(item)).map(toClaim),
            locks: rest.filter(isLock).map(item => ({
                allocationId: key(item),
                instanceId: item.InstanceId?.S ?? "",
                lockedAt: item.LockedAt?.S ?? "",
            })),
            drains: drains.map(toDrain),
            waiting: places.map(toWaiting).sort(byPlace),
        };
    }

    /** Locks an address for `instanceId`; false if another instance holds the lock. */
    async lock(allocationId: string, instanceId: string, now: string): Promise<boolean> {
        return conditional(() => this.client.send(new PutItemCommand({
            TableName: this.claimsTable,
            Item: { [CLAIM_KEY]: S(allocationId), InstanceId: S(instanceId), LockedAt: S(now) },
            ConditionExpression: "attribute_not_exists(#key) OR InstanceId = :instance",
            ExpressionAttributeNames: { "#key": CLAIM_KEY },
            ExpressionAttributeValues: { ":instance": S(instanceId) },
        })));
    }

    /**
     * Locks the address `claim` names for its instance, on the condition that the
     * claim still names it: another invocation for the instance may have moved the
     * claim on since it was read, and then this address is no longer the
     * instance's to take. `held`: another instance holds the lock; `moved`: the
     * claim names another address now.
     */
    async lockClaimed(claim: Claim, now: string): Promise<"locked" | "held" | "moved"> {
        const refused = await this.transact([
            {
                Put: {
                    TableName: this.claimsTable,
                    Item: { [CLAIM_KEY]: S(claim.allocationId), InstanceId: S(claim.instanceId), LockedAt: S(now) },
                    ...expression(`attribute_not_exists(#${CLAIM_KEY}) OR #InstanceId = :instance`, { ":instance": claim.instanceId }),
                },
            },
            { ConditionCheck: { TableName: this.claimsTable, Key: { [CLAIM_KEY]: S(claim.instanceId) }, ...expression("#AllocationId = :claimed", { ":claimed": claim.allocationId }) } },
        ]).catch(err => {
            // The lock kept meeting another transaction: a collision like a lock held by
            // another, which the caller moves on from (only while the instance does not hold it).
            if (isNamedError(err, TRANSACTION_CONFLICT) && !(err as Error & { conflicted: number[] }).conflicted.includes(1)) return [0];
            throw err;
        });
        return refused.includes(1) ? "moved" : refused.includes(0) ? "held" : "locked";
    }

    /**
     * Moves an instance's claim off `from`, on the conditions that it still names
     * `from` and that the instance does not hold `from`'s lock: if it does, another
     * invocation for the instance has won that address and may be associating it,
     * so the claim stays with it. `to` undefined drops the claim. False when a
     * condition did not hold.
     */
    async moveClaim(instanceId: string, from: string, to: Claim | undefined): Promise<boolean> {
        const stillOn = expression("#AllocationId = :from", { ":from": from });
        const refused = await this.transact([
            to ? { Put: { TableName: this.claimsTable, Item: claimItem(to), ...stillOn } } : { Delete: { TableName: this.claimsTable, Key: { [CLAIM_KEY]: S(instanceId) }, ...stillOn } },
            { ConditionCheck: { TableName: this.claimsTable, Key: { [CLAIM_KEY]: S(from) }, ...expression(`attribute_not_exists(#${CLAIM_KEY}) OR #InstanceId <> :instance`, { ":instance": instanceId }) } },
        ]);
        return refused.length === 0;
    }

    /**
     * Moves an instance's claim from `from` to the address EC2 shows on the instance
     * (`claim`), on the conditions that the claim still names `from`, that the
     * instance holds `claim`'s lock, and that no association can still follow a
     * lock of the instance's on `from`: it has none there, or wrote it before
     * `settledBefore` (see deadline.ts). False when a condition did not hold.
     */
    async adoptClaim(claim: Claim, from: string, settledBefore: string): Promise<boolean> {
        const refused = await this.transact([
            { Put: { TableName: this.claimsTable, Item: claimItem(claim), ...expression("#AllocationId = :from", { ":from": from }) } },
            this.lockHeld(claim.allocationId, claim.instanceId),
            { ConditionCheck: { TableName: this.claimsTable, Key: { [CLAIM_KEY]: S(from) }, ...expression(`attribute_not_exists(#${CLAIM_KEY}) OR #InstanceId <> :instance OR #LockedAt < :settled`, { ":instance": claim.instanceId, ":settled": settledBefore }) } },
        ]);
        return refused.length === 0;
    }

    /** An address's lock, read consistently; undefined when it is free. */
    async lockOf(allocationId: string): Promise<Lock | undefined> {
        const out = await this.client.send(new GetItemCommand({ TableName: this.claimsTable, Key: { [CLAIM_KEY]: S(allocationId) }, ConsistentRead: true }));
        return out.Item?.InstanceId?.S === undefined ? undefined : { allocationId, instanceId: out.Item.InstanceId.S, lockedAt: out.Item.LockedAt?.S ?? "" };
    }

    /** The instance holding an address's lock, read consistently; undefined when it is free. */
    async lockOwner(allocationId: string): Promise<string | undefined> {
        const out = await this.client.send(new GetItemCommand({
            TableName: this.claimsTable,
            Key: { [CLAIM_KEY]: S(allocationId) },
            ConsistentRead: true,
        }));
        return out.Item?.InstanceId?.S;
    }

    /**
     * The holders of several addresses' locks, in one consistent read (a BatchGetItem
     * of at most LOCKS_PER_READ keys): each address read maps to its holder, or to
     * undefined when it is not locked. Keys DynamoDB left unprocessed (throttling)
     * are read once more; any still left are not in the map: unknown, not free.
     */
    async lockOwners(allocationIds: string[]): Promise<Map<string, string | undefined>> {
        const owners = new Map<string, string | undefined>();
        let keys = allocationIds.slice(0, LOCKS_PER_READ).map(allocationId => ({ [CLAIM_KEY]: S(allocationId) }));
        for (let attempt = 0; attempt < 2 && keys.length > 0; attempt++) {
            const out = await this.client.send(new BatchGetItemCommand({
                RequestItems: { [this.claimsTable]: { Keys: keys, ConsistentRead: true, ProjectionExpression: `#${CLAIM_KEY}, InstanceId`, ExpressionAttributeNames: { [`#${CLAIM_KEY}`]: CLAIM_KEY } } },
            }));
            const found = new Map((out.Responses?.[this.claimsTable] ?? []).map(item => [item[CLAIM_KEY]?.S ?? "", item.InstanceId?.S]));
            const unprocessed = new Set((out.UnprocessedKeys?.[this.claimsTable]?.Keys ?? []).map(key => key[CLAIM_KEY]?.S ?? ""));
            for (const key of keys) {
                const id = key[CLAIM_KEY].S!;
                if (!unprocessed.has(id)) owners.set(id, found.get(id));
            }
            keys = keys.filter(key => unprocessed.has(key[CLAIM_KEY].S!));
        }
        return owners;
    }

    /** Unlocks an address if `instanceId` still holds it and, when `lockedAt` is given, has not locked it again since. */
    async unlock(allocationId: string, instanceId: string, lockedAt?: string): Promise<void> {
        const since: Record<string, string> = lockedAt === undefined ? {} : { ":locked": lockedAt };
        await this.deleteIf(this.claimsTable, { [CLAIM_KEY]: S(allocationId) },
            expression(`#InstanceId = :owner${lockedAt === undefined ? "" : " AND #LockedAt = :locked"}`, { ":owner": instanceId, ...since }));
    }

    /** The server row at (publicIp, dnsName), read consistently; undefined when there is none. */
    async server(publicIp: string, dnsName: string): Promise<StoredServer | undefined> {
        const out = await this.client.send(new GetItemCommand({ TableName: this.serversTable, Key: serverKey(publicIp, dnsName), ConsistentRead: true }));
        return out.Item && toServer(out.Item);
    }

    /** Every server row. */
    async allServers(): Promise<StoredServer[]> {
        return (await this.scan(this.serversTable)).map(toServer);
    }

    private async scan(TableName: string): Promise<Record<string, AttributeValue>[]> {
        const items: Record<string, AttributeValue>[] = [];
        let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
        do {
            const out = await this.client.send(new ScanCommand({ TableName, ConsistentRead: true, ExclusiveStartKey }));
            items.push(...(out.Items ?? []));
            ExclusiveStartKey = out.LastEvaluatedKey;
        } while (ExclusiveStartKey);
        return items;
    }

    /** Writes a claim if the instance has none yet (false if it has), or replaces the claim on `replacing`; see also firstClaim. */
    async writeClaim(claim: Claim, replacing?: string): Promise<boolean> {
        return conditional(() => this.client.send(new PutItemCommand({
            TableName: this.claimsTable,
            Item: claimItem(claim),
            ...(replacing === undefined
                ? { ConditionExpression: "attribute_not_exists(#key)", ExpressionAttributeNames: { "#key": CLAIM_KEY } }
                : { ConditionExpression: "AllocationId = :old", ExpressionAttributeValues: { ":old": S(replacing) } }),
        })));
    }

    /**
     * Writes an instance's first claim, if it has none yet (false if it has), and
     * only while no drain holds for its run (the run that started at `launchedAt`)
     * and the run is not fenced: a worker about to go, or a run that stopped, takes
     * no address another may need.
     */
    async firstClaim(claim: Claim, launchedAt: string | undefined): Promise<boolean> {
        const refused = await this.transact([
            { Put: { TableName: this.claimsTable, Item: claimItem(claim), ...expression(`attribute_not_exists(#${CLAIM_KEY})`) } },
            this.notHeldBack(claim.instanceId, launchedAt),
        ]);
        if (refused.includes(1)) throw await this.heldBack(claim.instanceId, launchedAt, "it takes no address");
        return refused.length === 0;
    }

    /** Deletes the claim if it is still the one read: a bind of the instance may have claimed the address again since. */
    async dropClaim(claim: Claim): Promise<void> {
        await this.deleteIf(this.claimsTable, { [CLAIM_KEY]: S(claim.instanceId) },
            expression("#AllocationId = :owner AND #ClaimedAt = :claimed", { ":owner": claim.allocationId, ":claimed": claim.claimedAt }));
    }

    /**
     * Publishes a bound server. Written with `allocated: false` the first time; a
     * repeat in the same run of the instance keeps the scheduler's `allocated` and the
     * first BoundAt. The caller holds the address's lock and EC2 has the address on
     * its instance, so a row from another instance, or from an earlier run of this
     * one (before a stop and start), is stale: it is replaced as a new server, but
     * only on the condition that it is still the row that was read, never blindly.
     */
    async publish(row: ServerRow, now: string): Promise<void> {
        const key = serverKey(row.publicIp, row.dnsName);
        const fields = {
            AssociationId: S(row.associationId), InstanceId: S(row.instanceId), AllocationId: S(row.allocationId), [OFFER_INDEX.sort]: S(offerKey(row.placement ?? {})),
            ...(row.launchedAt !== undefined && { LaunchedAt: S(row.launchedAt) }),
            ...Object.fromEntries(Object.entries(row.placement ?? {}).flatMap(([part, value]) =>
                (value ? [[PLACEMENT_ATTRIBUTES[part as keyof Placement], S(value)]] : []))),
        };
        const owned = ownedBy(row.instanceId, row.launchedAt);
        const condition = expression(`attribute_not_exists(#${SERVER_KEY.partition}) OR (${owned.clause})`, owned.values);
        const lockHeld = this.lockHeld(row.allocationId, row.instanceId);
        const notHeldBack = this.notHeldBack(row.instanceId, row.launchedAt);
        // The claim too: a release by hand beside this bind may have taken it, and a row must not outlive its claim.
        const claimed = this.claimNames(row.instanceId, row.allocationId);
        const refused = await this.transact([lockHeld, notHeldBack, {
            Update: {
                TableName: this.serversTable,
                Key: key,
                ...condition,
                UpdateExpression: `SET ${Object.keys(fields).map(name => `${name} = :${name}`).join(", ")}, `
                    + `allocated = if_not_exists(allocated, :false), BoundAt = if_not_exists(BoundAt, :now), ${OFFER_INDEX.partition} = if_not_exists(${OFFER_INDEX.partition}, :free) `
                    // A row left leaving by a drain that was ended since (undrain) is offered again.
                    + `REMOVE ${Object.values(LEAVING).join(", ")}`,
                ExpressionAttributeValues: {
                    ...condition.ExpressionAttributeValues,
                    ...Object.fromEntries(Object.entries(fields).map(([name, value]) => [`:${name}`, value])),
                    ":false": { BOOL: false },
                    ":now": S(now),
                    ":free": S(OFFER.free),
                },
            },
        }, claimed]);
        if (refused.length === 0) return;
        if (refused.includes(0)) throw lockLost(row);
        if (refused.includes(1)) throw await this.heldBack(row.instanceId, row.launchedAt, "its row is not published");
        if (refused.includes(3)) throw claimLost(row);
        const stale = (await this.client.send(new GetItemCommand({ TableName: this.serversTable, Key: key, ConsistentRead: true }))).Item;
        const run = stale?.InstanceId?.S === row.instanceId ? stale.LaunchedAt?.S : undefined;
        if (run !== undefined && row.launchedAt !== undefined && run > row.launchedAt) {
            // The row is of a later run than this bind saw: the view is behind, not the row.
            throw namedError("StaleRunError", `the row of ${row.publicIp} is of ${row.instanceId}'s run started ${run}, later than the one this bind saw; retrying`);
        }
        const replaced = await this.transact([lockHeld, notHeldBack, {
            Put: { TableName: this.serversTable, Item: { ...key, ...fields, allocated: { BOOL: false }, BoundAt: S(now), [OFFER_INDEX.partition]: S(OFFER.free) }, ...asRead(stale, ["InstanceId", "LaunchedAt"]) },
        }, claimed]);
        if (replaced.includes(0)) throw lockLost(row);
        if (replaced.includes(1)) throw await this.heldBack(row.instanceId, row.launchedAt, "its row is not published");
        if (replaced.includes(3)) throw claimLost(row);
        if (replaced.length > 0) throw namedError("RowRaceError", `the row of ${row.publicIp} changed while ${row.instanceId} was publishing it; retrying`);
    }

    /**
     * Takes an address back from `instanceId` in one transaction: its row at
     * (publicIp, dnsName), if it is the instance's, and its lock, if the instance
     * holds it. Together, so that no row of the instance's can outlive its lock:
     * a row write needs the lock (see publish). False when the lock was not held.
     */
    async unbind(publicIp: string, dnsName: string, allocationId: string, instanceId: string): Promise<boolean> {
        const refused = await this.transact([
            { Delete: { TableName: this.serversTable, Key: serverKey(publicIp, dnsName), ...expression(`attribute_not_exists(#${SERVER_KEY.partition}) OR #InstanceId = :owner`, { ":owner": instanceId }) } },
            { Delete: { TableName: this.claimsTable, Key: { [CLAIM_KEY]: S(allocationId) }, ...expression("#InstanceId = :owner", { ":owner": instanceId }) } },
        ]);
        return refused.length === 0;
    }

    /**
     * The condition, in a transaction, that nothing holds this run of `instanceId`
     * back: no drain cause holds for it, and it is not fenced. One check of the drain
     * item, over its fixed set of cause attributes. A run not known (no LaunchTime)
     * is held back by any cause; a fence cannot be judged for it.
     */
    private notHeldBack(instanceId: string, launchedAt: string | undefined): TransactWriteItem {
        const clauses = launchedAt === undefined
            ? SLOTS.map(prefix => `attribute_not_exists(#${prefix}SignalledAt)`)
            : [...SLOTS.map(prefix => `(attribute_not_exists(#${prefix}SignalledAt) OR #${prefix}SignalledAt < :launched)`), "(attribute_not_exists(#StoppedRun) OR #StoppedRun < :launched)"];
        return {
            ConditionCheck: {
                TableName: this.claimsTable,
                Key: { [CLAIM_KEY]: S(drainKey(instanceId)) },
                ...expression(`attribute_not_exists(#${CLAIM_KEY}) OR (${clauses.join(" AND ")})`, launchedAt === undefined ? {} : { ":launched": launchedAt }),
            },
        };
    }

    /** Why a write for this run was held back, read after the fact: the run is fenced (stopped), or else draining. */
    private async heldBack(instanceId: string, launchedAt: string | undefined, what: string): Promise<Error> {
        return isFenced(await this.drainOf(instanceId), launchedAt)
            ? namedError(RUN_STOPPED, `${instanceId}'s run started ${launchedAt} has stopped; ${what}`)
            : namedError(DRAINING, `${instanceId} is draining; ${what}`);
    }

    /** The condition, in a transaction, that the claim of `instanceId` names `allocationId`. */
    private claimNames(instanceId: string, allocationId: string): TransactWriteItem {
        return { ConditionCheck: { TableName: this.claimsTable, Key: { [CLAIM_KEY]: S(instanceId) }, ...expression("#AllocationId = :claimed", { ":claimed": allocationId }) } };
    }

    /** The condition, in a transaction, that `instanceId` holds the lock of `allocationId`. */
    private lockHeld(allocationId: string, instanceId: string): TransactWriteItem {
        return { ConditionCheck: { TableName: this.claimsTable, Key: { [CLAIM_KEY]: S(allocationId) }, ...expression("#InstanceId = :owner", { ":owner": instanceId }) } };
    }

    /** Runs a transaction; the positions of the actions whose condition failed (none: it was written). */
    private async transact(TransactItems: TransactWriteItem[]): Promise<number[]> {
        try {
            await this.client.send(new TransactWriteItemsCommand({ TransactItems }));
            return [];
        } catch (err) {
            if (errorCode(err) !== "TransactionCanceledException") throw err;
            const reasons = (err as TransactionCanceledException).CancellationReasons ?? [];
            const failed = reasons.flatMap((reason, i) => (reason.Code === "ConditionalCheckFailed" ? [i] : []));
            if (failed.length > 0) return failed;
            // Still cancelled by other transactions after the client's quick retries (see clients.ts): nothing was written.
            if (isTransactionConflict(err)) {
                const conflicted = reasons.flatMap((reason, i) => (reason.Code === "TransactionConflict" ? [i] : []));
                throw namedError(TRANSACTION_CONFLICT, `a transaction on ${conflicted.length} of its items was in progress each time; nothing was written`, { conflicted });
            }
            throw err;
        }
    }

    /** Removes a row that is still exactly as it was read (instance, association and run). */
    async withdrawRow(row: ServerRow): Promise<void> {
        await this.deleteIf(this.serversTable, serverKey(row.publicIp, row.dnsName), rowAsRead(row));
    }

    /**
     * Removes a row that is still as it was read, on the condition that its instance
     * does not hold the address's lock: a live binding always holds its lock (a
     * release deletes the row and the lock together), so no view of EC2, however far
     * behind, can remove a live row. False when it was left (the lock is held, or the
     * row changed or is gone).
     */
    async withdrawOrphan(row: ServerRow): Promise<boolean> {
        const refused = await this.transact([
            { Delete: { TableName: this.serversTable, Key: serverKey(row.publicIp, row.dnsName), ...rowAsRead(row) } },
            {
                ConditionCheck: {
                    TableName: this.claimsTable,
                    Key: { [CLAIM_KEY]: S(row.allocationId) },
                    ...expression(`attribute_not_exists(#${CLAIM_KEY}) OR #InstanceId <> :instance`, { ":instance": row.instanceId }),
                },
            },
        ]);
        return refused.length === 0;
    }

    /**
     * The drain warning: marks the row of `instanceId`'s run that had started by
     * `signalledAt` as leaving, with the drain's cause and deadline, and takes it off
     * offer (no `allocated`, no `Offer`), so the stream shows why and until when before
     * the REMOVE, and no scheduler, old or new, can claim it meanwhile. Same condition
     * as withdrawSignalled; never creates a row.
     */
    async warnDrain(publicIp: string, dnsName: string, instanceId: string, signalledAt: string, notice: { cause: DrainCause; deadline?: string }): Promise<void> {
        await this.warnLeaving(publicIp, dnsName, "draining", notice,
            expression("#InstanceId = :instance AND (attribute_not_exists(#LaunchedAt) OR #LaunchedAt <= :signalled)", { ":instance": instanceId, ":signalled": signalledAt }));
    }

    /** The stop's warning: as warnDrain, with the reason `stopped`, on the condition of withdraw. */
    async warnStop(publicIp: string, dnsName: string, instanceId: string, launchedAt?: string): Promise<void> {
        const owned = ownedBy(instanceId, launchedAt);
        await this.warnLeaving(publicIp, dnsName, "stopped", {}, expression(owned.clause, owned.values));
    }

    private async warnLeaving(publicIp: string, dnsName: string, reason: "draining" | "stopped", notice: { cause?: DrainCause; deadline?: string }, condition: Condition): Promise<void> {
        const values: Record<string, AttributeValue> = { ":reason": S(reason) };
        if (notice.cause !== undefined) values[":cause"] = S(notice.cause);
        if (notice.deadline !== undefined) values[":deadline"] = S(notice.deadline);
        const set = [`#${LEAVING.reason} = :reason`, ...(notice.cause !== undefined ? [`#${LEAVING.cause} = :cause`] : []), ...(notice.deadline !== undefined ? [`#${LEAVING.deadline} = :deadline`] : [])];
        const remove = ["#allocated", `#${OFFER_INDEX.partition}`, ...(notice.cause === undefined ? [`#${LEAVING.cause}`] : []), ...(notice.deadline === undefined ? [`#${LEAVING.deadline}`] : [])];
        const update = `SET ${set.join(", ")} REMOVE ${remove.join(", ")}`;
        await conditional(() => this.client.send(new UpdateItemCommand({
            TableName: this.serversTable, Key: serverKey(publicIp, dnsName), UpdateExpression: update, ...condition,
            ExpressionAttributeNames: { ...condition.ExpressionAttributeNames, ...names(update) },
            ExpressionAttributeValues: { ...condition.ExpressionAttributeValues, ...values },
        })));
    }

    /**
     * Removes the server row if it belongs to `instanceId` and to a run of it that
     * had started by `signalledAt` (a row written before runs were recorded counts):
     * a drain's withdrawal, which leaves a run started after the signal alone.
     */
    async withdrawSignalled(publicIp: string, dnsName: string, instanceId: string, signalledAt: string): Promise<void> {
        await this.deleteIf(this.serversTable, serverKey(publicIp, dnsName),
            expression("#InstanceId = :instance AND (attribute_not_exists(#LaunchedAt) OR #LaunchedAt <= :signalled)", { ":instance": instanceId, ":signalled": signalledAt }));
    }

    /**
     * Removes the server row if it still belongs to `instanceId` and, when `launchedAt`
     * is given, to that run of it: a row the instance published after it started again
     * is not the stopped run's to remove.
     */
    async withdraw(publicIp: string, dnsName: string, instanceId: string, launchedAt?: string): Promise<void> {
        const owned = ownedBy(instanceId, launchedAt);
        await this.deleteIf(this.serversTable, serverKey(publicIp, dnsName), expression(owned.clause, owned.values));
    }

    /**
     * Records one cause of a drain for the run of the instance that started at
     * `launchedAt`, beside any other cause; false when that cause already holds for
     * the run (a duplicate signal changes nothing). The cause's signal of an earlier
     * run is replaced by a later one.
     */
    async markDrain(instanceId: string, signal: DrainSignal, launchedAt: string | undefined): Promise<boolean> {
        const prefix = CAUSE_PREFIX[signal.cause];
        const values: Record<string, string> = { ":cause": signal.cause, ":signalled": signal.signalledAt, ":recorded": signal.recordedAt };
        if (launchedAt !== undefined) values[":launched"] = launchedAt;
        if (signal.deadline !== undefined) values[":deadline"] = signal.deadline;
        const own = `#${prefix}SignalledAt`;
        const replaceable = launchedAt === undefined ? `attribute_not_exists(${own})` : `(attribute_not_exists(${own}) OR (${own} < :launched AND ${own} < :signalled))`;
        // The same cause in a mark written before causes accumulated.
        const legacy = launchedAt === undefined ? "NOT (#Cause = :cause)" : "NOT (#Cause = :cause AND #SignalledAt >= :launched)";
        const condition = expression(`${replaceable} AND ${legacy}`, values);
        const set = [`${own} = :signalled`, `#${prefix}RecordedAt = :recorded`, ...(signal.deadline !== undefined ? [`#${prefix}Deadline = :deadline`] : [])];
        const update = `SET ${set.join(", ")}${signal.deadline === undefined ? ` REMOVE #${prefix}Deadline` : ""}`;
        return conditional(() => this.client.send(new UpdateItemCommand({
            TableName: this.claimsTable,
            Key: { [CLAIM_KEY]: S(drainKey(instanceId)) },
            UpdateExpression: update,
            ...condition,
            ExpressionAttributeNames: { ...condition.ExpressionAttributeNames, ...names(update) },
        })));
    }

    /** Removes the server row if it belongs to a run of `instanceId` that started before `launchedAt`. */
    async withdrawEarlier(publicIp: string, dnsName: string, instanceId: string, launchedAt: string): Promise<void> {
        await this.deleteIf(this.serversTable, serverKey(publicIp, dnsName),
            expression("#InstanceId = :instance AND #LaunchedAt < :launched", { ":instance": instanceId, ":launched": launchedAt }));
    }

    /**
     * Fences the run of `instanceId` that started at `launchedAt`, which EC2 showed
     * stopping or stopped: from now on no row is published, and no first claim made,
     * for it or any earlier run. Never moves back to an earlier run, so a stop seen
     * late cannot undo a later one; a later run is never fenced by it.
     */
    async fenceRun(instanceId: string, launchedAt: string, now: string): Promise<void> {
        await conditional(() => this.client.send(new UpdateItemCommand({
            TableName: this.claimsTable,
            Key: { [CLAIM_KEY]: S(drainKey(instanceId)) },
            UpdateExpression: "SET #StoppedRun = :run, #StoppedRecordedAt = :now",
            ...expression("attribute_not_exists(#StoppedRun) OR #StoppedRun < :run", { ":run": launchedAt, ":now": now }),
            ExpressionAttributeNames: { "#StoppedRun": "StoppedRun", "#StoppedRecordedAt": "StoppedRecordedAt" },
        })));
    }

    /** The instance's drain causes and fence, read consistently; undefined when none was ever recorded. */
    async drainOf(instanceId: string): Promise<DrainMark | undefined> {
        const out = await this.client.send(new GetItemCommand({ TableName: this.claimsTable, Key: { [CLAIM_KEY]: S(drainKey(instanceId)) }, ConsistentRead: true }));
        return out.Item && toDrain(out.Item);
    }

    /**
     * Ends the causes `ending` of a drain, each only while it is still the signal
     * that was read; with `asRead`, only while every other cause is as read too
     * (nothing newer arrived). The item goes when nothing else is left in it (no
     * other cause, no fence), on the condition that it is exactly as read. False
     * when a condition did not hold.
     */
    async endDrain(mark: DrainMark, ending: DrainSignal[], asRead: boolean): Promise<boolean> {
        const key = { [CLAIM_KEY]: S(drainKey(mark.instanceId)) };
        const endingPrefixes = [...new Set(ending.map(prefixOf))];
        const whole = causesAsRead(mark, SLOTS);
        if (mark.signals.every(signal => endingPrefixes.includes(prefixOf(signal))) && mark.stoppedRun === undefined) {
            const gone = await conditional(() => this.client.send(new DeleteItemCommand({
                TableName: this.claimsTable, Key: key, ...expression([...whole.clauses, "attribute_not_exists(#StoppedRun)"].join(" AND "), whole.values),
            })));
            if (gone) return true;
            if (asRead) return this.drainEnded(mark.instanceId, endingPrefixes, asRead);
        }
        const checked = asRead ? whole : causesAsRead(mark, endingPrefixes);
        const update = `REMOVE ${endingPrefixes.flatMap(slotAttributes).map(name => `#${name}`).join(", ")}`;
        const guard = expression(checked.clauses.join(" AND "), checked.values);
        const removed = await conditional(() => this.client.send(new UpdateItemCommand({
            TableName: this.claimsTable, Key: key, UpdateExpression: update, ...guard,
            ExpressionAttributeNames: { ...guard.ExpressionAttributeNames, ...names(update) },
        })));
        return removed || this.drainEnded(mark.instanceId, endingPrefixes, asRead);
    }

    /**
     * After a refused write ending a drain: a write whose answer was lost may have taken
     * effect before the SDK's retry found its condition false, so what the item holds now
     * says whether the causes were ended (with `asRead`, whether no cause holds at all).
     */
    private async drainEnded(instanceId: string, endingPrefixes: string[], asRead: boolean): Promise<boolean> {
        const now = await this.drainOf(instanceId);
        if (asRead) return !now || now.signals.length === 0;
        return !now?.signals.some(signal => endingPrefixes.includes(prefixOf(signal)));
    }

    /** Deletes the instance's drain item, on the condition that it is exactly as read (every cause and the fence): the reconciler's, once the instance is gone. */
    async forgetDrain(mark: DrainMark): Promise<void> {
        const { clauses, values } = causesAsRead(mark, SLOTS);
        const fence = mark.stoppedRun === undefined ? "attribute_not_exists(#StoppedRun)" : "#StoppedRun = :run";
        await this.deleteIf(this.claimsTable, { [CLAIM_KEY]: S(drainKey(mark.instanceId)) },
            expression([...clauses, fence].join(" AND "), { ...values, ...(mark.stoppedRun !== undefined && { ":run": mark.stoppedRun }) }));
    }

    /**
     * Deletes the drain item of `instanceId` if it holds nothing but the fence of the run
     * started at `launchedAt` (no cause, no later fence): what a release fenced for its own
     * duration, and no longer needs once the lock and the claim are gone.
     */
    async forgetFence(instanceId: string, launchedAt: string): Promise<void> {
        const noCause = SLOTS.map(prefix => `attribute_not_exists(#${prefix}SignalledAt)`);
        await this.deleteIf(this.claimsTable, { [CLAIM_KEY]: S(drainKey(instanceId)) },
            expression([...noCause, "#StoppedRun = :run"].join(" AND "), { ":run": launchedAt }));
    }

    /** Puts workers on the waitlist, an item each; one already on it keeps its place. */
    async wait(instanceIds: string[], since: string): Promise<void> {
        await inBatches(instanceIds, WAITLIST_WRITES_AT_ONCE, instanceId => conditional(() => this.client.send(new PutItemCommand({
            TableName: this.claimsTable,
            Item: {
                [CLAIM_KEY]: S(waitKey(instanceId)), Since: S(since),
                [WAITLIST_INDEX.partition]: S(WAITLIST_PARTITION), [WAITLIST_INDEX.sort]: S(placeOf({ instanceId, since })),
            },
            ...expression(`attribute_not_exists(#${CLAIM_KEY})`),
        }))));
    }

    /**
     * The `limit` workers waiting longest (all of them if no limit) after `after`'s place, longest first,
     * from the waitlist index: when nobody waits, one Query that finds nothing. The
     * index is eventually consistent, which a hint may be.
     */
    async waiting(limit?: number, after?: Waiting): Promise<Waiting[]> {
        const found: Waiting[] = [];
        if (limit === 0) return found;
        let ExclusiveStartKey: Record<string, AttributeValue> | undefined = after && {
            [CLAIM_KEY]: S(waitKey(after.instanceId)), [WAITLIST_INDEX.partition]: S(WAITLIST_PARTITION), [WAITLIST_INDEX.sort]: S(placeOf(after)),
        };
        do {
            const out = await this.client.send(new QueryCommand({
                TableName: this.claimsTable,
                IndexName: WAITLIST_INDEX.name,
                KeyConditionExpression: `#${WAITLIST_INDEX.partition} = :waiting`,
                ExpressionAttributeNames: { [`#${WAITLIST_INDEX.partition}`]: WAITLIST_INDEX.partition },
                ExpressionAttributeValues: { ":waiting": S(WAITLIST_PARTITION) },
                ...(limit !== undefined && { Limit: limit - found.length }),
                ExclusiveStartKey,
            }));
            found.push(...(out.Items ?? []).map(toWaiting));
            ExclusiveStartKey = out.LastEvaluatedKey;
        } while (ExclusiveStartKey && (limit === undefined || found.length < limit));
        return found;
    }

    /**
     * Takes one worker's place in line for a hand-over: deletes its item only if it
     * is still there, so that of hand-overs racing for the same head of the line
     * (the index is read eventually consistent, by each alone) exactly one gets
     * each worker. False when another took it first, or it left the list.
     */
    async takeFromWaitlist(instanceId: string): Promise<boolean> {
        return this.deleteIf(this.claimsTable, { [CLAIM_KEY]: S(waitKey(instanceId)) }, expression(`attribute_exists(#${CLAIM_KEY})`));
    }

    /** Takes workers off the waitlist (those not on it are no matter). */
    async stopWaiting(instanceIds: string[]): Promise<void> {
        await inBatches(instanceIds, WAITLIST_WRITES_AT_ONCE, instanceId =>
            this.client.send(new DeleteItemCommand({ TableName: this.claimsTable, Key: { [CLAIM_KEY]: S(waitKey(instanceId)) } })));
    }

    /** Deletes an item only while `condition` holds (false when it did not): the owner check of every removal. */
    private async deleteIf(TableName: string, Key: Record<string, AttributeValue>, condition?: Condition): Promise<boolean> {
        return conditional(() => this.client.send(new DeleteItemCommand({ TableName, Key, ...condition })));
    }
}

interface Condition {
    ConditionExpression: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, AttributeValue>;
}

/** The condition that the cause attributes of `prefixes` hold the signals `mark` was read with (absent where it had none). */
function causesAsRead(mark: DrainMark, prefixes: string[]): { clauses: string[]; values: Record<string, string> } {
    const read = prefixes.map((prefix, i) => ({ prefix, value: `:s${i}`, at: mark.signals.find(signal => prefixOf(signal) === prefix)?.signalledAt }));
    return {
        clauses: read.map(({ prefix, value, at }) => (at === undefined ? `attribute_not_exists(#${prefix}SignalledAt)` : `#${prefix}SignalledAt = ${value}`)),
        values: Object.fromEntries(read.flatMap(({ value, at }) => (at === undefined ? [] : [[value, at]]))),
    };
}

/** The `#Name` placeholders of an expression, each for the attribute of that name. */
function names(text: string): Record<string, string> {
    return Object.fromEntries([...new Set([...text.matchAll(/#(\w+)/g)].map(match => match[1]))].map(name => [`#${name}`, name]));
}

/** A condition expression whose `#Name` placeholders stand for attributes of that name, with string values. */
function expression(condition: string, values: Record<string, string> = {}): Condition {
    return {
        ConditionExpression: condition,
        ExpressionAttributeNames: names(condition),
        ...(Object.keys(values).length > 0 && { ExpressionAttributeValues: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, S(v)])) }),
    };
}

/**
 * A row of `instanceId` and, when `launchedAt` is given, of that run of it (a row
 * written before runs were recorded counts as any run's).
 */
function ownedBy(instanceId: string, launchedAt?: string): { clause: string; values: Record<string, string> } {
    return launchedAt === undefined
        ? { clause: "#InstanceId = :instance", values: { ":instance": instanceId } }
        : { clause: "#InstanceId = :instance AND (attribute_not_exists(#LaunchedAt) OR #LaunchedAt = :launched)", values: { ":instance": instanceId, ":launched": launchedAt } };
}

/** The condition that a row is still as it was read: its instance, association and run. */
function rowAsRead(row: ServerRow): Condition {
    return asRead({ InstanceId: S(row.instanceId), AssociationId: S(row.associationId), ...(row.launchedAt !== undefined && { LaunchedAt: S(row.launchedAt) }) },
        ["InstanceId", "AssociationId", "LaunchedAt"]);
}

/** The condition that `attributes` of an item are as `item` had them (absent where it had none), or that there is no item. */
function asRead(item: Record<string, AttributeValue> | undefined, attributes: string[]): Condition {
    if (!item) return expression(`attribute_not_exists(#${SERVER_KEY.partition})`);
    const clauses = attributes.map((name, i) => (item[name]?.S === undefined ? `attribute_not_exists(#${name})` : `#${name} = :v${i}`));
    const values = Object.fromEntries(attributes.flatMap((name, i) => (item[name]?.S === undefined ? [] : [[`:v${i}`, item[name].S!]])));
    return expression(clauses.join(" AND "), values);
}
