// Planted bugs: replacements for the binder's AWS layer that break the claim
// protocol on purpose, to show that an exploration finds what it must.
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { AssociateAddressCommand, EC2Client } from "@aws-sdk/client-ec2";
import { BinderSettings } from "../../../binder/config";
import { Attachment, Ec2 } from "../../../binder/aws/ec2";
import { Claim, ServerRow, Store } from "../../../binder/aws/store";
import { OFFER, OFFER_INDEX, offerKey } from "../../../binder/schema";

/** An address's lock taken whoever holds it, and whatever the claim names. */
export function unconditionalLock(client: DynamoDBClient, settings: BinderSettings): Store {
    const take = (allocationId: string, instanceId: string, now: string) => client.send(new PutItemCommand({
        TableName: settings.claimsTable,
        Item: { Id: { S: allocationId }, InstanceId: { S: instanceId }, LockedAt: { S: now } },
    }));
    return new (class extends Store {
        override async lock(allocationId: string, instanceId: string, now: string): Promise<boolean> {
            await take(allocationId, instanceId, now);
            return true;
        }

        override async lockClaimed(claim: Claim, now: string): Promise<"locked"> {
            await take(claim.allocationId, claim.instanceId, now);
            return "locked";
        }
    })(client, settings.serversTable, settings.claimsTable);
}

/** AssociateAddress allowed to move an address off another instance (the original sample's way). */
export function reassociating(client: EC2Client): Ec2 {
    return new (class extends Ec2 {
        override async associate(allocationId: string, target: Attachment): Promise<string> {
            const out = await client.send(new AssociateAddressCommand({
                AllocationId: allocationId, NetworkInterfaceId: target.networkInterfaceId, PrivateIpAddress: target.privateIpAddress, AllowReassociation: true,
            }));
            return out.AssociationId ?? "";
        }
    })(client);
}

/** Drain signals taken at their word, as before they were confirmed: EC2 is said to confirm every one. */
export function trustingSignals(client: EC2Client): Ec2 {
    return new (class extends Ec2 {
        override async spotRequestStatus(ids: string[]): Promise<Map<string, string>> {
            return new Map(ids.map(id => [id, "marked-for-termination"]));
        }

        override async scheduledEvents(ids: string[]): Promise<Map<string, string[]>> {
            return new Map(ids.map(id => [id, ["instance-retirement"]]));
        }
    })(client);
}

/** A row written whole every time, as if new: a duplicate resets the scheduler's `allocated`. */
export function overwritingRows(client: DynamoDBClient, settings: BinderSettings): Store {
    return new (class extends Store {
        override async publish(row: ServerRow, now: string): Promise<void> {
            await client.send(new PutItemCommand({
                TableName: settings.serversTable,
                Item: {
                    EIP: { S: row.publicIp }, DNS_Record: { S: row.dnsName }, AssociationId: { S: row.associationId }, InstanceId: { S: row.instanceId },
                    AllocationId: { S: row.allocationId }, LaunchedAt: { S: row.launchedAt ?? "" }, allocated: { BOOL: false }, BoundAt: { S: now },
                    [OFFER_INDEX.partition]: { S: OFFER.free }, [OFFER_INDEX.sort]: { S: offerKey(row.placement ?? {}) },
                },
            }));
        }
    })(client, settings.serversTable, settings.claimsTable);
}

/** A row published whether or not its worker is draining: the drain's mark is not checked. */
export function publishingWhileDraining(client: DynamoDBClient, settings: BinderSettings): Store {
    return new (class extends Store {
        override async markDrain(): Promise<boolean> {
            return true;
        }
    })(client, settings.serversTable, settings.claimsTable);
}

/** A stop's or a drain's warning that leaves the server on offer (`allocated` and `Offer` kept) until its row goes. */
export function offeringWhileLeaving(client: DynamoDBClient, settings: BinderSettings): Store {
    const warn = (publicIp: string, dnsName: string, instanceId: string, reason: string) => client.send(new UpdateItemCommand({
        TableName: settings.serversTable,
        Key: { EIP: { S: publicIp }, DNS_Record: { S: dnsName } },
        UpdateExpression: "SET Leaving = :reason",
        ConditionExpression: "InstanceId = :instance",
        ExpressionAttributeValues: { ":reason": { S: reason }, ":instance": { S: instanceId } },
    })).catch(() => undefined);
    return new (class extends Store {
        override async warnDrain(publicIp: string, dnsName: string, instanceId: string): Promise<void> {
            await warn(publicIp, dnsName, instanceId, "draining");
        }

        override async warnStop(publicIp: string, dnsName: string, instanceId: string): Promise<void> {
            await warn(publicIp, dnsName, instanceId, "stopped");
        }
    })(client, settings.serversTable, settings.claimsTable);
}
