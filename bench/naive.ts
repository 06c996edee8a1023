// The original sample's approach, for comparison: look the instance up, list the
// pool, pick a random unassociated address, associate it with AllowReassociation
// (boto3's associate_address as the sample calls it), point the name (per-binding,
// without waiting) and put the row. Same SDK, retry settings and stand-ins as ours,
// so the difference measured is the algorithm. Only the bind path: bursts are launches.
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { AssociateAddressCommand, DescribeAddressesCommand, DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { ChangeResourceRecordSetsCommand, Route53Client } from "@aws-sdk/client-route-53";
import { EC2_RETRY, RETRY } from "../binder/aws/clients";
import { binderSettingsFromEnv } from "../binder/config";
import { renderName } from "../binder/naming";

export class NoFreeAddressError extends Error {
    constructor(instanceId: string) {
        super(`no unassociated pool address for ${instanceId}`);
        this.name = "NoFreeAddressError";
    }
}

interface StateChange {
    detail?: { "instance-id"?: string; state?: string };
}

/** The sample's handler: one EventBridge event per asynchronous invocation; it throws to fail. */
export type AsyncHandler = (event: unknown) => Promise<void>;

export function createNaiveHandler(): AsyncHandler {
    const settings = binderSettingsFromEnv(process.env);
    const ec2 = new EC2Client(EC2_RETRY);
    const route53 = new Route53Client(RETRY);
    const dynamodb = new DynamoDBClient(RETRY);
    const Filters = Object.entries(settings.addressTags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] }));

    return async (event) => {
        const { "instance-id": instanceId, state } = (event as StateChange).detail ?? {};
        if (!instanceId || state !== "running") return;
        const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        const instance = described.Reservations?.[0]?.Instances?.[0];
        const tags = Object.fromEntries((instance?.Tags ?? []).map(t => [t.Key, t.Value]));
        if (!Object.entries(settings.instanceTags).every(([key, value]) => tags[key] === value)) return;

        const pool = await ec2.send(new DescribeAddressesCommand({ Filters }));
        const free = (pool.Addresses ?? []).filter(a => !a.AssociationId);
        if (free.length === 0) throw new NoFreeAddressError(instanceId);
        const pick = free[Math.floor(Math.random() * free.length)];
        const associated = await ec2.send(new AssociateAddressCommand({ AllocationId: pick.AllocationId, InstanceId: instanceId, AllowReassociation: true }));

        const publicIp = pick.PublicIp ?? "";
        const dnsName = renderName(settings.dnsName, { ip: publicIp, suffix: settings.suffix, instanceId });
        if (settings.dnsRecords === "per-binding") {
            await route53.send(new ChangeResourceRecordSetsCommand({
                HostedZoneId: settings.hostedZoneId,
                ChangeBatch: { Changes: [{ Action: "UPSERT", ResourceRecordSet: { Name: `${dnsName}.`, Type: "A", TTL: settings.dnsTtl, ResourceRecords: [{ Value: publicIp }] } }] },
            }));
        }
        // The sample's row shape, plus InstanceId and AllocationId so the audit can check it.
        await dynamodb.send(new PutItemCommand({
            TableName: settings.serversTable,
            Item: {
                EIP: { S: publicIp },
                DNS_Record: { S: dnsName },
                AssociationId: { S: associated.AssociationId ?? "" },
                allocated: { BOOL: false },
                InstanceId: { S: instanceId },
                AllocationId: { S: pick.AllocationId ?? "" },
            },
        }));
    };
}
