// A bound fleet written straight into the stand-ins, for tests at fleet size: each
// worker a running target with its pool address associated, its claim, its lock and
// its row, as a finished bind leaves them, without spending the binder's calls on it.
import { AttributeValue, BatchWriteItemCommand, WriteRequest } from "@aws-sdk/client-dynamodb";
import { OFFER, OFFER_INDEX, offerKey } from "../../binder/schema";
import { ADDRESS_TAGS, INSTANCE_TAGS, World } from "./world";

/** DynamoDB's most items in one BatchWriteItem. */
const BATCH_WRITE_LIMIT = 25;

/** Binds `size` new workers to `size` new pool addresses in EC2 and the tables; their instance ids. */
export async function seedBoundFleet(world: World, size: number): Promise<string[]> {
    const S = (value: string): AttributeValue => ({ S: value });
    const now = new Date().toISOString();
    const claims: Record<string, AttributeValue>[] = [];
    const rows: Record<string, AttributeValue>[] = [];
    const ids: string[] = [];
    for (let i = 0; i < size; i++) {
        const instance = world.ec2.addInstance({ tags: INSTANCE_TAGS, state: "running" });
        const address = world.ec2.addAddress({ tags: ADDRESS_TAGS });
        const association = world.ec2.associateOutOfBand(address.allocationId, instance.instanceId);
        const dnsName = world.nameOf(address.publicIp, instance.instanceId);
        claims.push(
            { Id: S(instance.instanceId), AllocationId: S(address.allocationId), PublicIp: S(address.publicIp), DnsName: S(dnsName), ClaimedAt: S(now) },
            { Id: S(address.allocationId), InstanceId: S(instance.instanceId), LockedAt: S(now) },
        );
        rows.push({
            EIP: S(address.publicIp), DNS_Record: S(dnsName), AssociationId: S(association.associationId), InstanceId: S(instance.instanceId),
            AllocationId: S(address.allocationId), LaunchedAt: S(new Date(instance.launchTime).toISOString()), allocated: { BOOL: false }, BoundAt: S(now),
            [OFFER_INDEX.partition]: S(OFFER.free), [OFFER_INDEX.sort]: S(offerKey({})),
        });
        ids.push(instance.instanceId);
    }
    await putAll(world, world.settings.claimsTable, claims);
    await putAll(world, world.settings.serversTable, rows);
    return ids;
}

async function putAll(world: World, table: string, items: Record<string, AttributeValue>[]): Promise<void> {
    for (let i = 0; i < items.length; i += BATCH_WRITE_LIMIT) {
        let requests: WriteRequest[] = items.slice(i, i + BATCH_WRITE_LIMIT).map(Item => ({ PutRequest: { Item } }));
        while (requests.length > 0) {
            const out = await world.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
            requests = out.UnprocessedItems?.[table] ?? [];
        }
    }
}
