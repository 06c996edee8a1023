// DynamoDB access: claims (the binder's lock, one per instance) and server rows
// (the scheduler's list of bound servers). Every write is conditional on the
// instance that makes it, so a late event never undoes a newer binding.
import {
    AttributeValue,
    DeleteItemCommand,
    DynamoDBClient,
    GetItemCommand,
    PutItemCommand,
    ScanCommand,
    UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { errorCode } from "./clients";
import { namedError } from "./errors";
import { CLAIM_KEY, SERVER_KEY } from "./schema";

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

/** A bound server as the scheduler sees it. */
export interface ServerRow {
    publicIp: string;
    dnsName: string;
    associationId: string;
    instanceId: string;
    allocationId: string;
}

const S = (value: string): AttributeValue => ({ S: value });

const serverKey = (publicIp: string, dnsName: string) => ({ [SERVER_KEY.partition]: S(publicIp), [SERVER_KEY.sort]: S(dnsName) });

const isConflict = (err: unknown) => errorCode(err) === "ConditionalCheckFailedException";

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

/** A server row as stored, with the scheduler's fields. */
export interface StoredServer extends ServerRow {
    allocated: boolean;
    boundAt: string;
}

function toServer(item: Record<string, AttributeValue>): StoredServer {
    return {
        publicIp: item[SERVER_KEY.partition]?.S ?? "",
        dnsName: item[SERVER_KEY.sort]?.S ?? "",
        associationId: item.AssociationId?.S ?? "",
        instanceId: item.InstanceId?.S ?? "",
        allocationId: item.AllocationId?.S ?? "",
        allocated: item.allocated?.BOOL ?? false,
        boundAt: item.BoundAt?.S ?? "",
    };
}

export class Store {
    constructor(
        private readonly client: DynamoDBClient,
        private readonly serversTable: string,
        private readonly claimsTable: string,
    ) {}

    /** The instance's claim, read consistently so a just-written claim is seen. */
    async claim(instanceId: string): Promise<Claim | undefined> {
        const out = await this.client.send(new GetItemCommand({
            TableName: this.claimsTable,
            Key: { [CLAIM_KEY]: S(instanceId) },
            ConsistentRead: true,
        }));
        return out.Item && toClaim(out.Item);
    }

    /** Every claim and lock (the reconciler's view; small: about two items per bound instance). */
    async bookkeeping(): Promise<{ claims: Claim[]; locks: Lock[] }> {
        const items = await this.scan(this.claimsTable);
        const isLock = (item: Record<string, AttributeValue>) => item.InstanceId !== undefined;
        return {
            claims: items.filter(item => !isLock(item)).map(toClaim),
            locks: items.filter(isLock).map(item => ({
                allocationId: item[CLAIM_KEY]?.S ?? "",
                instanceId: item.InstanceId?.S ?? "",
                lockedAt: item.LockedAt?.S ?? "",
            })),
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

    /** The instance holding an address's lock, read consistently; undefined when it is free. */
    async lockOwner(allocationId: string): Promise<string | undefined> {
        const out = await this.client.send(new GetItemCommand({
            TableName: this.claimsTable,
            Key: { [CLAIM_KEY]: S(allocationId) },
            ConsistentRead: true,
        }));
        return out.Item?.InstanceId?.S;
    }

    /** Unlocks an address if `instanceId` still holds it. */
    async unlock(allocationId: string, instanceId: string): Promise<void> {
        await this.deleteIf(this.claimsTable, { [CLAIM_KEY]: S(allocationId) }, { InstanceId: instanceId });
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

    /** Writes a claim if the instance has none yet (false if it has), or replaces the claim on `replacing`. */
    async writeClaim(claim: Claim, replacing?: string): Promise<boolean> {
        return conditional(() => this.client.send(new PutItemCommand({
            TableName: this.claimsTable,
            Item: claimItem(claim),
            ...(replacing === undefined
                ? { ConditionExpression: "attribute_not_exists(#key)", ExpressionAttributeNames: { "#key": CLAIM_KEY } }
                : { ConditionExpression: "AllocationId = :old", ExpressionAttributeValues: { ":old": S(replacing) } }),
        })));
    }

    /** Deletes the instance's claim if it is still on `allocationId`. */
    async dropClaim(instanceId: string, allocationId: string): Promise<void> {
        await this.deleteIf(this.claimsTable, { [CLAIM_KEY]: S(instanceId) }, { AllocationId: allocationId });
    }

    /**
     * Publishes a bound server. Written with `allocated: false` the first time; a
     * repeat keeps the scheduler's `allocated` and the first BoundAt. The caller
     * holds the address's lock and EC2 has the address on its instance, so a row
     * another instance left on the same key is stale: it is replaced, but only on
     * the condition that it is still the row that was read, never blindly.
     */
    async publish(row: ServerRow, now: string): Promise<void> {
        const key = serverKey(row.publicIp, row.dnsName);
        const fields = { AssociationId: S(row.associationId), InstanceId: S(row.instanceId), AllocationId: S(row.allocationId) };
        const updated = await conditional(() => this.client.send(new UpdateItemCommand({
            TableName: this.serversTable,
            Key: key,
            ConditionExpression: "attribute_not_exists(#ip) OR InstanceId = :instance",
            UpdateExpression: "SET AssociationId = :association, InstanceId = :instance, AllocationId = :allocation, "
                + "allocated = if_not_exists(allocated, :false), BoundAt = if_not_exists(BoundAt, :now)",
            ExpressionAttributeNames: { "#ip": SERVER_KEY.partition },
            ExpressionAttributeValues: {
                ":association": fields.AssociationId,
                ":instance": fields.InstanceId,
                ":allocation": fields.AllocationId,
                ":false": { BOOL: false },
                ":now": S(now),
            },
        })));
        if (updated) return;
        const stale = await this.client.send(new GetItemCommand({ TableName: this.serversTable, Key: key, ConsistentRead: true }));
        const owner = stale.Item?.InstanceId?.S;
        const replaced = await conditional(() => this.client.send(new PutItemCommand({
            TableName: this.serversTable,
            Item: { ...key, ...fields, allocated: { BOOL: false }, BoundAt: S(now) },
            ...(owner === undefined
                ? { ConditionExpression: "attribute_not_exists(#ip)", ExpressionAttributeNames: { "#ip": SERVER_KEY.partition } }
                : { ConditionExpression: "InstanceId = :owner", ExpressionAttributeValues: { ":owner": S(owner) } }),
        })));
        if (!replaced) throw namedError("RowRaceError", `the row of ${row.publicIp} changed while ${row.instanceId} was publishing it; retrying`);
    }

    /** Removes a row that is still exactly as it was read (same instance, same association). */
    async withdrawRow(row: ServerRow): Promise<void> {
        await this.deleteIf(this.serversTable, serverKey(row.publicIp, row.dnsName), { InstanceId: row.instanceId, AssociationId: row.associationId });
    }

    /** Removes the server row if it still belongs to `instanceId`. */
    async withdraw(publicIp: string, dnsName: string, instanceId: string): Promise<void> {
        await this.deleteIf(this.serversTable, serverKey(publicIp, dnsName), { InstanceId: instanceId });
    }

    /** Deletes an item only while each attribute of `owner` still has its value: the owner check of every removal. */
    private async deleteIf(TableName: string, Key: Record<string, AttributeValue>, owner: Record<string, string>): Promise<void> {
        const entries = Object.entries(owner);
        await conditional(() => this.client.send(new DeleteItemCommand({
            TableName,
            Key,
            ConditionExpression: entries.map((_, i) => `#a${i} = :v${i}`).join(" AND "),
            ExpressionAttributeNames: Object.fromEntries(entries.map(([name], i) => [`#a${i}`, name])),
            ExpressionAttributeValues: Object.fromEntries(entries.map(([, value], i) => [`:v${i}`, S(value)])),
        })));
    }
}
