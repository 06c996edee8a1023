// Every AWS call the functions make, as AWS authorizes it: per SDK command of the
// AWS layer in binder/, the action, each resource AWS checks with its tags, and the
// condition keys the request carries (Service Authorization Reference). Plus the
// calls the Lambda runtime and the event source mapping make with a function's role.
import { DnsRecordsMode, Tags } from "../../../binder/config";
import { FunctionRole } from "../../../infra/policy";
import { REGION, StackFacts } from "./facts";
import { ACCOUNT, Authorization } from "./simulate";
import { drainKey, WAITLIST_INDEX } from "../../../binder/schema";

/** One call: who makes it, in which DNS modes (all if absent), and what AWS authorizes for it. */
export interface Call {
    what: string;
    by: FunctionRole[];
    modes?: DnsRecordsMode[];
    authorize(facts: StackFacts, role: FunctionRole): Authorization[];
}

/** The functions that release, and so disassociate; the hook function only binds and drains. */
export const BOTH: FunctionRole[] = ["binder", "reconciler"];
export const ALL: FunctionRole[] = ["binder", "reconciler", "hook"];
const PER_BINDING: DnsRecordsMode[] = ["per-binding"];

const ec2Arn = (resource: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:${resource}`;
export const SAMPLE = {
    allocation: ec2Arn("elastic-ip/eipalloc-0123456789abcdef0"),
    networkInterface: ec2Arn("network-interface/eni-0123456789abcdef0"),
    instance: ec2Arn("instance/i-0123456789abcdef0"),
    otherVpc: ec2Arn("vpc/vpc-0aaaaaaaaaaaaaaa0"),
};

/** Condition keys for a resource's tags, as EC2 and other services set them. */
export const tagKeys = (tags: Tags): Record<string, string> =>
    Object.fromEntries(Object.entries(tags).map(([key, value]) => [`aws:ResourceTag/${key}`, value]));

/** A pool address of this stack, as AssociateAddress and DisassociateAddress present it. */
export const poolAddress = (f: StackFacts, tags: Tags = f.poolAddressTags): Authorization[] => [
    { action: "ec2:AssociateAddress", resource: SAMPLE.allocation, context: tagKeys(tags) },
];
/** The worker's primary interface, in the cluster's first VPC (any VPC when none is configured). */
export const interfaceIn = (vpc: string) => ({ "ec2:Vpc": vpc, "ec2:Subnet": ec2Arn("subnet/subnet-0123456789abcdef0"), "ec2:AvailabilityZone": `${REGION}a` });
const clusterVpc = (f: StackFacts) => f.vpcArns[0] ?? SAMPLE.otherVpc;

/** A ChangeResourceRecordSets request as Route53 authorizes it: the zone, and the batch's actions, types and normalized names. */
export const recordChange = (zoneId: string, action: string | string[], type: string | string[], names: string[]): Authorization => ({
    action: "route53:ChangeResourceRecordSets",
    resource: `arn:aws:route53:::hostedzone/${zoneId}`,
    context: {
        "route53:ChangeResourceRecordSetsActions": [action].flat(),
        "route53:ChangeResourceRecordSetsRecordTypes": [type].flat(),
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": names,
    },
});

/** A log stream of a log group, as the Lambda runtime names it. */
export const logStream = (group: string) => `${group}:log-stream:2026/12/02/[$LATEST]0123456789abcdef`;

const item = (action: string, table: string): Authorization => ({ action: `dynamodb:${action}`, resource: table });

/** Per SDK command used in binder/, every way the code uses it. The spec fails when a command has no entry here. */
export const SDK_CALLS: Record<string, Call[]> = {
    DescribeInstancesCommand: [{
        what: "read a batch's instances, the running targets, or the instance that calls a hook",
        by: ALL,
        authorize: () => [{ action: "ec2:DescribeInstances", resource: "*" }],
    }],
    DescribeAddressesCommand: [{
        what: "read the pool, or one address",
        by: ALL,
        authorize: () => [{ action: "ec2:DescribeAddresses", resource: "*" }],
    }],
    DescribeSpotInstanceRequestsCommand: [{
        what: "confirm a Spot interruption warning: the status of the instances' Spot requests",
        by: ["binder"],
        authorize: () => [{ action: "ec2:DescribeSpotInstanceRequests", resource: "*" }],
    }],
    DescribeInstanceStatusCommand: [{
        what: "confirm a scheduled change: the instances' scheduled events",
        by: ["binder"],
        authorize: () => [{ action: "ec2:DescribeInstanceStatus", resource: "*" }],
    }],
    AssociateAddressCommand: [{
        // Called with NetworkInterfaceId; the instance is listed in case EC2 checks it too.
        what: "associate a pool address with a target's primary interface",
        by: ALL,
        authorize: f => [
            ...poolAddress(f),
            { action: "ec2:AssociateAddress", resource: SAMPLE.networkInterface, context: interfaceIn(clusterVpc(f)) },
            { action: "ec2:AssociateAddress", resource: SAMPLE.instance, context: tagKeys(f.instanceTags) },
        ],
    }],
    DisassociateAddressCommand: [{
        what: "disassociate a pool address from a worker's interface",
        by: BOTH,
        authorize: f => [
            { action: "ec2:DisassociateAddress", resource: SAMPLE.allocation, context: tagKeys(f.poolAddressTags) },
            { action: "ec2:DisassociateAddress", resource: SAMPLE.networkInterface, context: interfaceIn(clusterVpc(f)) },
        ],
    }],
    BatchGetItemCommand: [
        { what: "read a few addresses' locks at once after a lock collision", by: ALL, authorize: f => [item("BatchGetItem", f.tables.claims)] },
    ],
    GetItemCommand: [
        { what: "read a claim, a lock or a drain mark", by: ALL, authorize: f => [item("GetItem", f.tables.claims)] },
        { what: "read back a row that refused a publish", by: ALL, authorize: f => [item("GetItem", f.tables.servers)] },
        { what: "read the row of the worker that calls a hook", by: ["hook"], authorize: f => [item("GetItem", f.tables.servers)] },
    ],
    PutItemCommand: [
        { what: "write a claim or a lock", by: ALL, authorize: f => [item("PutItem", f.tables.claims)] },
        { what: "put a worker on the waitlist", by: ALL, authorize: f => [item("PutItem", f.tables.claims)] },
    ],
    QueryCommand: [
        { what: "read the longest-waiting workers from the waitlist's index", by: ALL, authorize: f => [item("Query", `${f.tables.claims}/index/${WAITLIST_INDEX.name}`)] },
    ],
    UpdateItemCommand: [
        { what: "record or end a cause of a worker's drain, or fence its stopped run", by: ALL, authorize: f => [{ ...item("UpdateItem", f.tables.claims), context: { "dynamodb:LeadingKeys": [drainKey("i-0123456789abcdef0")] } }] },
    ],
    DeleteItemCommand: [
        { what: "drop a claim, a lock, a drain item of a worker that is gone or whose last cause ended, or take a worker off the waitlist", by: ALL, authorize: f => [item("DeleteItem", f.tables.claims)] },
        { what: "withdraw a row", by: ALL, authorize: f => [item("DeleteItem", f.tables.servers)] },
    ],
    ScanCommand: [
        { what: "read the claims and locks", by: ALL, authorize: f => [item("Scan", f.tables.claims)] },
        { what: "read every server row", by: ["reconciler"], authorize: f => [item("Scan", f.tables.servers)] },
    ],
    TransactWriteItemsCommand: [
        { what: "write a first claim unless the worker drains, lock an address while the claim names it, or move a claim off an address", by: ALL, authorize: f => [item("PutItem", f.tables.claims), item("ConditionCheckItem", f.tables.claims)] },
        { what: "drop a claim off an address the instance does not hold", by: ALL, authorize: f => [item("DeleteItem", f.tables.claims), item("ConditionCheckItem", f.tables.claims)] },
        { what: "publish a row while holding the lock", by: ALL, authorize: f => [item("ConditionCheckItem", f.tables.claims), item("UpdateItem", f.tables.servers)] },
        { what: "replace a stale row while holding the lock", by: ALL, authorize: f => [item("ConditionCheckItem", f.tables.claims), item("PutItem", f.tables.servers)] },
        { what: "take back a row and its lock together", by: ALL, authorize: f => [item("DeleteItem", f.tables.servers), item("DeleteItem", f.tables.claims)] },
    ],
    ChangeResourceRecordSetsCommand: [
        { what: "point a binding's name at its address, with the TXT record naming its owner", by: ALL, modes: PER_BINDING, authorize: f => [recordChange(f.zoneId, "UPSERT", ["A", "TXT"], [f.recordName])] },
        { what: "delete a binding's name and its TXT record, or the TXT record alone", by: ALL, modes: PER_BINDING, authorize: f => [recordChange(f.zoneId, "DELETE", ["A", "TXT"], [f.recordName]), recordChange(f.zoneId, "DELETE", "TXT", [f.recordName])] },
        { what: "mark a name written without its TXT record as the remover's before it goes", by: ALL, modes: PER_BINDING, authorize: f => [recordChange(f.zoneId, "CREATE", "TXT", [f.recordName])] },
    ],
    ListResourceRecordSetsCommand: [
        { what: "read a record before deleting it, or the zone's records", by: ALL, modes: PER_BINDING, authorize: f => [{ action: "route53:ListResourceRecordSets", resource: `arn:aws:route53:::hostedzone/${f.zoneId}` }] },
    ],
    waitUntilResourceRecordSetsChanged: [
        { what: "wait until a change is INSYNC", by: ALL, modes: PER_BINDING, authorize: () => [{ action: "route53:GetChange", resource: "arn:aws:route53:::change/C0123456789ABCDEFGHIJ" }] },
    ],
    ChangeMessageVisibilityBatchCommand: [
        { what: "hand failed messages back early", by: ["binder"], authorize: f => [{ action: "sqs:ChangeMessageVisibility", resource: f.queues.events }] },
    ],
};

/** Calls made with a function's role by the Lambda runtime and by the event source mapping, not by binder/ itself. */
export const PLATFORM_CALLS: Call[] = [
    {
        what: "the Lambda runtime writes the function's logs",
        by: ALL,
        authorize: (f, role) => ["CreateLogStream", "PutLogEvents"].map(action => ({ action: `logs:${action}`, resource: logStream(f.logGroups[role]) })),
    },
    {
        what: "the event source mapping polls the event queue with the binder's role",
        by: ["binder"],
        authorize: f => ["ReceiveMessage", "DeleteMessage", "GetQueueAttributes", "ChangeMessageVisibility"]
            .map(action => ({ action: `sqs:${action}`, resource: f.queues.events })),
    },
];
