// Calls the functions must never be able to make, each one resource AWS would
// refuse: what the policies exist to prevent, and what a widened statement or a
// dropped condition would let through.
import { FunctionRole } from "../../../infra/policy";
import { ALL, Call, interfaceIn, logStream, recordChange, SAMPLE, tagKeys } from "./calls";
import { REGION, StackFacts } from "./facts";
import { ACCOUNT, Authorization } from "./simulate";

/**
 * Forbidden requests, with the condition under which the stack forbids them (always
 * if absent). Each request stands alone and must be refused: a case may expand to
 * one request per tag, so that dropping any one tag's condition shows.
 */
export interface Forbidden extends Call {
    when?: (facts: StackFacts) => boolean;
}

const one = (what: string, by: FunctionRole[], authorize: (f: StackFacts, role: FunctionRole) => Authorization, extra: Partial<Forbidden> = {}): Forbidden =>
    ({ what, by, authorize: (f, role) => [authorize(f, role)], ...extra });
const each = (what: string, by: FunctionRole[], authorize: (f: StackFacts, role: FunctionRole) => Authorization[]): Forbidden => ({ what, by, authorize });

const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
/** The tags with each of `required` missing in turn, and with each of them holding another value in turn. */
const eachMissingOrOther = (tags: Record<string, string>, required: Record<string, string>) => Object.keys(required).flatMap(key => {
    const { [key]: _dropped, ...rest } = tags;
    return [rest, { ...tags, [key]: `${required[key]}-other` }];
});
const otherTable = arn("dynamodb", "table/other-table");
const otherZone = "Z0OTHERZONE";
const zone = (f: StackFacts) => `arn:aws:route53:::hostedzone/${f.zoneId}`;
const outsideName = (f: StackFacts) => `www.${f.suffix}`;
/** A binding's name with one part made longer than the template allows (an octet of four digits, an instance id of 18). */
const longerName = (f: StackFacts) => f.recordName.replace("192", "1920").replace("i-0123456789abcdef0", "i-0123456789abcdef01");
/** A binding's name of the right shape with letters where the template puts digits. */
const lettersName = (f: StackFacts) => f.recordName.replace("192", "www").replace("i-0123456789abcdef0", "i-0123456789abcdxyz");
const hasVpcs = (f: StackFacts) => f.vpcArns.length > 0;
const other: Record<FunctionRole, FunctionRole> = { binder: "reconciler", reconciler: "binder", hook: "binder" };

export const FORBIDDEN: Forbidden[] = [
    // Elastic IPs: only the pool's, only associated or disassociated.
    each("associate an address missing a pool tag, or with another value of one", ALL, f =>
        eachMissingOrOther(f.poolAddressTags, f.addressTags).map(tags => ({ action: "ec2:AssociateAddress", resource: SAMPLE.allocation, context: tagKeys(tags) }))),
    each("disassociate an address missing a pool tag, or with another value of one", ALL, f =>
        eachMissingOrOther(f.poolAddressTags, f.addressTags).map(tags => ({ action: "ec2:DisassociateAddress", resource: SAMPLE.allocation, context: tagKeys(tags) }))),
    one("associate an address that carries the instance tags instead of the pool tags", ALL, f => ({ action: "ec2:AssociateAddress", resource: SAMPLE.allocation, context: tagKeys(f.instanceTags) })),
    one("associate onto a network interface outside the cluster's VPCs", ALL, () => ({ action: "ec2:AssociateAddress", resource: SAMPLE.networkInterface, context: interfaceIn(SAMPLE.otherVpc) }), { when: hasVpcs }),
    one("associate onto a network interface outside the cluster's VPCs that carries the pool and instance tags", ALL, f => ({
        action: "ec2:AssociateAddress", resource: SAMPLE.networkInterface, context: { ...interfaceIn(SAMPLE.otherVpc), ...tagKeys({ ...f.poolAddressTags, ...f.instanceTags }) },
    }), { when: hasVpcs }),
    one("disassociate from a network interface outside the cluster's VPCs", ALL, () => ({ action: "ec2:DisassociateAddress", resource: SAMPLE.networkInterface, context: interfaceIn(SAMPLE.otherVpc) }), { when: hasVpcs }),
    each("associate with an instance missing an instance tag, or with another value of one", ALL, f =>
        eachMissingOrOther(f.instanceTags, f.instanceTags).map(tags => ({ action: "ec2:AssociateAddress", resource: SAMPLE.instance, context: tagKeys(tags) }))),
    // The node hooks bind and drain; releasing is the binder's and the reconciler's.
    each("disassociate a pool address, or from a cluster interface", ["hook"], f => [
        { action: "ec2:DisassociateAddress", resource: SAMPLE.allocation, context: tagKeys(f.poolAddressTags) },
        { action: "ec2:DisassociateAddress", resource: SAMPLE.networkInterface, context: interfaceIn(f.vpcArns[0] ?? SAMPLE.otherVpc) },
    ]),
    // Only the binder handles drain signals, and so only it asks EC2 to confirm them.
    each("read Spot requests or instance status, which only a drain signal's confirmation needs", ["reconciler", "hook"], () => [
        { action: "ec2:DescribeSpotInstanceRequests", resource: "*" },
        { action: "ec2:DescribeInstanceStatus", resource: "*" },
    ]),
    one("release a pool address", ALL, f => ({ action: "ec2:ReleaseAddress", resource: SAMPLE.allocation, context: tagKeys(f.poolAddressTags) })),
    one("allocate an address", ALL, () => ({ action: "ec2:AllocateAddress", resource: SAMPLE.allocation })),
    one("retag a pool address", ALL, f => ({ action: "ec2:CreateTags", resource: SAMPLE.allocation, context: tagKeys(f.poolAddressTags) })),
    one("retag a target instance", ALL, f => ({ action: "ec2:CreateTags", resource: SAMPLE.instance, context: tagKeys(f.instanceTags) })),
    one("change a network interface", ALL, f => ({ action: "ec2:ModifyNetworkInterfaceAttribute", resource: SAMPLE.networkInterface, context: interfaceIn(f.vpcArns[0] ?? SAMPLE.otherVpc) })),
    // DynamoDB: item actions on the two tables, each only where the code uses it.
    one("read another table", ALL, () => ({ action: "dynamodb:GetItem", resource: otherTable })),
    one("write another table", ALL, () => ({ action: "dynamodb:PutItem", resource: otherTable })),
    one("query an index of the servers table", ALL, f => ({ action: "dynamodb:Query", resource: `${f.tables.servers}/index/by-instance` })),
    one("batch-write the servers table", ALL, f => ({ action: "dynamodb:BatchWriteItem", resource: f.tables.servers })),
    one("update an item called drain/<instance id> in another table", ALL, () => ({ action: "dynamodb:UpdateItem", resource: otherTable, context: { "dynamodb:LeadingKeys": ["drain/i-0123456789abcdef0"] } })),
    one("scan the waitlist's index", ALL, f => ({ action: "dynamodb:Scan", resource: `${f.tables.claims}/index/waitlist` })),
    one("update a claim or lock in place", ALL, f => ({ action: "dynamodb:UpdateItem", resource: f.tables.claims, context: { "dynamodb:LeadingKeys": ["i-0123456789abcdef0"] } })),
    one("delete the servers table", ALL, f => ({ action: "dynamodb:DeleteTable", resource: f.tables.servers })),
    one("change the claims table", ALL, f => ({ action: "dynamodb:UpdateTable", resource: f.tables.claims })),
    one("scan the servers table", ["binder", "hook"], f => ({ action: "dynamodb:Scan", resource: f.tables.servers })),
    // Route53: in per-binding mode, UPSERT and DELETE of its own names' A and TXT records in its own zone, and CREATE of their TXT records; nothing otherwise.
    one("change a record in another zone", ALL, f => recordChange(otherZone, "UPSERT", "A", [f.recordName])),
    one("change a record of its zone in per-address mode", ALL, f => recordChange(f.zoneId, "UPSERT", "A", [f.recordName]), { modes: ["per-address"] }),
    one("list its zone's records in per-address mode", ALL, f => ({ action: "route53:ListResourceRecordSets", resource: zone(f) }), { modes: ["per-address"] }),
    one("CREATE an A record (only a TXT record is created)", ALL, f => recordChange(f.zoneId, "CREATE", "A", [f.recordName])),
    one("CREATE a TXT record in a batch that also changes an A record", ALL, f => recordChange(f.zoneId, ["CREATE", "UPSERT"], ["A", "TXT"], [f.recordName])),
    one("change a TXT record outside the template", ALL, f => recordChange(f.zoneId, "UPSERT", "TXT", [outsideName(f)])),
    one("CREATE a TXT record outside the template", ALL, f => recordChange(f.zoneId, "CREATE", "TXT", [outsideName(f)])),
    one("change a record whose name has a part longer than the template's", ALL, f => recordChange(f.zoneId, "UPSERT", ["A", "TXT"], [longerName(f)])),
    one("CREATE a TXT record whose name has a part longer than the template's", ALL, f => recordChange(f.zoneId, "CREATE", "TXT", [longerName(f)])),
    one("change a record whose name has letters where the template has digits", ALL, f => recordChange(f.zoneId, "UPSERT", ["A", "TXT"], [lettersName(f)])),
    one("CREATE a TXT record whose name has letters where the template has digits", ALL, f => recordChange(f.zoneId, "CREATE", "TXT", [lettersName(f)])),
    one("CREATE a TXT record in a batch with other actions", ALL, f => recordChange(f.zoneId, ["CREATE", "DELETE"], "TXT", [f.recordName])),
    one("CREATE a TXT record in another zone", ALL, f => recordChange(otherZone, "CREATE", "TXT", [f.recordName])),
    one("change another type of record at its names", ALL, f => recordChange(f.zoneId, "UPSERT", "CNAME", [f.recordName])),
    one("change another type of record beside a TXT record", ALL, f => recordChange(f.zoneId, "UPSERT", ["MX", "TXT"], [f.recordName])),
    one("change a name outside the template", ALL, f => recordChange(f.zoneId, "UPSERT", "A", [outsideName(f)])),
    one("change a batch with one name outside the template", ALL, f => recordChange(f.zoneId, "DELETE", "A", [f.recordName, outsideName(f)])),
    one("list another zone's records", ALL, () => ({ action: "route53:ListResourceRecordSets", resource: `arn:aws:route53:::hostedzone/${otherZone}` })),
    one("delete its zone", ALL, f => ({ action: "route53:DeleteHostedZone", resource: zone(f) })),
    // SQS: the binder consumes its own event queue; nobody but the rules send to it.
    one("send to the event queue", ALL, f => ({ action: "sqs:SendMessage", resource: f.queues.events })),
    one("send to the undelivered-events queue", ALL, f => ({ action: "sqs:SendMessage", resource: f.queues.undelivered })),
    one("receive from another queue", ALL, f => ({ action: "sqs:ReceiveMessage", resource: f.queues.failed })),
    one("hand back a message of another queue", ALL, f => ({ action: "sqs:ChangeMessageVisibility", resource: f.queues.failed })),
    one("purge the event queue", ALL, f => ({ action: "sqs:PurgeQueue", resource: f.queues.events })),
    one("read the binder's event queue", ["reconciler", "hook"], f => ({ action: "sqs:ReceiveMessage", resource: f.queues.events })),
    // Logs and everything else.
    one("write the other function's logs", ALL, (f, role) => ({ action: "logs:PutLogEvents", resource: logStream(f.logGroups[other[role]]) })),
    one("delete its own log group", ALL, (f, role) => ({ action: "logs:DeleteLogGroup", resource: `${f.logGroups[role]}:*` })),
    one("pass a role", ALL, () => ({ action: "iam:PassRole", resource: `arn:aws:iam::${ACCOUNT}:role/admin` })),
    one("invoke a function", ALL, () => ({ action: "lambda:InvokeFunction", resource: arn("lambda", "function:admin") })),
];
