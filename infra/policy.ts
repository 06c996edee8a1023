import { DnsRecordsMode, Tags } from "../binder/config";
import { renderName } from "../binder/naming";
import { drainKey, WAITLIST_INDEX } from "../binder/schema";

/** An IAM policy statement, as the reviewer of a preview reads it. */
export interface Statement {
    Sid: string;
    Effect: "Allow";
    Action: string[];
    Resource: string[];
    Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: Statement[];
}

/** The functions: the binder, the reconciler and (with nodeRoleArns) the node hooks'; each gets only the calls its code makes. */
export type FunctionRole = "binder" | "reconciler" | "hook";

/** Everything a function's permissions are scoped to. */
export interface PolicyScope {
    role: FunctionRole;
    partition: string;
    region: string;
    accountId: string;
    tables: { servers: string; claims: string };
    logGroupArn: string;
    hostedZoneId: string;
    addressTags: Tags;
    instanceTags: Tags;
    dnsRecords: DnsRecordsMode;
    dnsName: string;
    suffix: string;
    /** The cluster's VPCs; without them a pool address may go onto any interface in the account. */
    vpcIds?: string[];
    /** The queue the binder's event source mapping reads (with the function's role) and the binder hands failed messages back to. */
    eventQueueArn?: string;
    /** The customer managed key the event queue is encrypted with, if any. */
    kmsKeyArn?: string;
}

// Item actions per function and table, from the calls binder/aws/store.ts makes. A
// transaction (TransactWriteItems) is authorized as each of its items' actions.
const ITEM_ACTIONS = {
    // claims, locks and drain marks: read, written and deleted conditionally, checked in a row's
    // or a first claim's transaction, a few locks read at once after a lock collision, and read
    // whole to reconcile (the reconciler); a worker's place on the waitlist is put and deleted the
    // same way. Only the drain items are updated in place (see DrainItems below).
    claims: ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"],
    // rows: published (update, or a conditional put replacing a stale row), read back, withdrawn.
    servers: ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
};
/** Only the reconciler reads the servers table whole. */
const SCANS_SERVERS: Record<FunctionRole, boolean> = { binder: false, reconciler: true, hook: false };

/** The node hooks bind and drain, and never release: they never disassociate an address. */
const MOVES: Record<FunctionRole, string[]> = {
    binder: ["ec2:AssociateAddress", "ec2:DisassociateAddress"],
    reconciler: ["ec2:AssociateAddress", "ec2:DisassociateAddress"],
    hook: ["ec2:AssociateAddress"],
};

const resourceTags = (tags: Tags) =>
    Object.fromEntries(Object.entries(tags).map(([key, value]) => [`aws:ResourceTag/${key}`, value]));

/** Where a placeholder stands in a rendered template, until it is widened to IAM wildcards. */
const MARK = { octet: "\u0001", instance: "\u0002" };
/** An octet is 1 to 3 digits; an instance id `i-` and 8 or 17 hexadecimal digits. */
const OCTET_SHAPES = ["?", "??", "???"];
const INSTANCE_SHAPES = ["i-????????", "i-?????????????????"];
/** More patterns than this would not fit a role's inline policies; then each octet is `*`. */
const MOST_PATTERNS = 81;
/** The characters a record name may have, of which each pattern set admits only those the template can yield. */
const NAME_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789-._";

/** Every way to replace each `mark` in `texts` with one of `shapes`. */
function expand(texts: string[], mark: string, shapes: string[]): string[] {
    return texts.flatMap(text => {
        const at = text.indexOf(mark);
        return at < 0 ? [text] : expand(shapes.map(shape => text.slice(0, at) + shape + text.slice(at + 1)), mark, shapes);
    });
}

/**
 * The names the template can yield (an A and a TXT record each), as IAM patterns that
 * Route53 compares lower-case, without the trailing dot: each octet 1 to 3 characters
 * (`?`), an instance id its two lengths. `names` allows them; `excluded` refuses a name
 * with a character the template never puts before its fixed tail (a letter where only
 * digits go, a dot in a dashed address), since `?` matches any character.
 */
export function recordNamePatterns(dnsName: string, suffix: string): { names: string[]; excluded: string[] } {
    const octets = `${MARK.octet}.${MARK.octet}.${MARK.octet}.${MARK.octet}`;
    const marked = renderName(dnsName, { ip: octets, suffix, instanceId: MARK.instance });
    const withInstances = expand([marked], MARK.instance, INSTANCE_SHAPES);
    const exact = expand(withInstances, MARK.octet, OCTET_SHAPES);
    const names = exact.length <= MOST_PATTERNS ? exact : expand(withInstances, MARK.octet, ["*"]);
    // The fixed tail after the last placeholder, and what may come before it.
    const lastMark = Math.max(marked.lastIndexOf(MARK.octet), marked.lastIndexOf(MARK.instance));
    const tail = marked.slice(lastMark + 1);
    const head = marked.slice(0, lastMark + 1);
    const yielded = new Set([...head.replace(/[\u0001\u0002]/g, ""), ..."0123456789"]);
    if (head.includes(MARK.instance)) for (const c of "i-abcdef") yielded.add(c);
    const excluded = [...NAME_CHARACTERS].filter(c => !yielded.has(c)).map(c => `*${c}*${tail}`);
    return { names, excluded };
}

/**
 * A function's whole permission set: this stack's tables, its log group, pool
 * addresses only (by tag) moved onto interfaces in the cluster's VPCs, and in
 * per-binding mode UPSERT and DELETE of its own names in its own zone: their A
 * records and the TXT records beside them that name each one's owner, and the
 * CREATE of such a TXT record that marks a name written without one before it
 * goes. EC2 describe calls cannot be scoped, so they get `*`.
 */
export function binderPolicy(scope: PolicyScope): PolicyDocument {
    const arn = (service: string, resource: string, region = scope.region, account = scope.accountId) =>
        `arn:${scope.partition}:${service}:${region}:${account}:${resource}`;
    const vpcs = scope.vpcIds?.map(id => arn("ec2", `vpc/${id}`));
    const statements: Statement[] = [
        {
            Sid: "WriteOwnLogs",
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: [`${scope.logGroupArn}:*`],
        },
        {
            Sid: "ReadInstancesAndAddresses",
            Effect: "Allow",
            Action: ["ec2:DescribeAddresses", "ec2:DescribeInstances"],
            Resource: ["*"],
        },
        // Only the binder handles drain signals, and confirms each with EC2 before it acts on it.
        ...(scope.role === "binder" ? [{
            Sid: "ConfirmDrainSignals",
            Effect: "Allow" as const,
            Action: ["ec2:DescribeInstanceStatus", "ec2:DescribeSpotInstanceRequests"],
            Resource: ["*"],
        }] : []),
        {
            // EC2 authorizes both calls on the address and on the network interface
            // (Service Authorization Reference, Amazon EC2: AssociateAddress, DisassociateAddress).
            Sid: "MovePoolAddressesOnly",
            Effect: "Allow",
            Action: MOVES[scope.role],
            Resource: [arn("ec2", "elastic-ip/*")],
            Condition: { StringEquals: resourceTags(scope.addressTags) },
        },
        {
            Sid: "AttachToClusterInterfacesOnly",
            Effect: "Allow",
            Action: MOVES[scope.role],
            Resource: [arn("ec2", "network-interface/*")],
            ...(vpcs && { Condition: { ArnEquals: { "ec2:Vpc": vpcs } } }),
        },
        {
            // Only where EC2 authorizes the instance as well; a disassociation never names one.
            Sid: "AttachToTargetInstancesOnly",
            Effect: "Allow",
            Action: ["ec2:AssociateAddress"],
            Resource: [arn("ec2", "instance/*")],
            Condition: { StringEquals: resourceTags(scope.instanceTags) },
        },
        {
            Sid: "ClaimsAndLocks",
            Effect: "Allow",
            Action: ITEM_ACTIONS.claims,
            Resource: [scope.tables.claims],
        },
        {
            // The longest-waiting workers, read from the waitlist's index (a hand-over).
            Sid: "Waitlist",
            Effect: "Allow",
            Action: ["dynamodb:Query"],
            Resource: [`${scope.tables.claims}/index/${WAITLIST_INDEX.name}`],
        },
        {
            // A drain's causes accumulate and end one at a time, and a stopped run is fenced, in place on the instance's drain item.
            Sid: "DrainItems",
            Effect: "Allow",
            Action: ["dynamodb:UpdateItem"],
            Resource: [scope.tables.claims],
            Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [drainKey("*")] } },
        },
        {
            Sid: "ServerRows",
            Effect: "Allow",
            Action: SCANS_SERVERS[scope.role] ? [...ITEM_ACTIONS.servers, "dynamodb:Scan"].sort() : ITEM_ACTIONS.servers,
            Resource: [scope.tables.servers],
        },
    ];
    if (scope.eventQueueArn) {
        statements.push({
            Sid: "ConsumeOwnEventQueue",
            Effect: "Allow",
            Action: ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            Resource: [scope.eventQueueArn],
        });
        if (scope.kmsKeyArn) {
            // SQS decrypts what the mapping receives with the caller's (the binder's) permission on the key;
            // which queue is ConsumeOwnEventQueue's to say. Changing a message's visibility needs none, and the
            // binder sends nothing. DynamoDB and CloudWatch Logs use the key on their own (grants, the key policy).
            statements.push({
                Sid: "DecryptOwnEventQueue",
                Effect: "Allow",
                Action: ["kms:Decrypt"],
                Resource: [scope.kmsKeyArn],
                Condition: { StringEquals: { "kms:ViaService": `sqs.${scope.region}.amazonaws.com` } },
            });
        }
    }
    if (scope.dnsRecords === "per-binding") {
        const zone = arn("route53", `hostedzone/${scope.hostedZoneId}`, "", "");
        const { names, excluded } = recordNamePatterns(scope.dnsName, scope.suffix);
        const ownNames = {
            "ForAllValues:StringLike": { "route53:ChangeResourceRecordSetsNormalizedRecordNames": names },
            "ForAllValues:StringNotLike": { "route53:ChangeResourceRecordSetsNormalizedRecordNames": excluded },
        };
        statements.push(
            {
                // Route53's normalized names are lower case without the trailing dot; every
                // key must hold for every change in the batch (Route53 Developer Guide,
                // "Using IAM policy conditions for fine-grained access control").
                Sid: "ChangeOwnRecordsOnly",
                Effect: "Allow",
                Action: ["route53:ChangeResourceRecordSets"],
                Resource: [zone],
                Condition: {
                    "ForAllValues:StringEquals": {
                        "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"],
                        "route53:ChangeResourceRecordSetsRecordTypes": ["A", "TXT"],
                    },
                    ...ownNames,
                },
            },
            {
                // A name written before names carried their owner is marked with its TXT
                // record before it goes: a CREATE, which fails if a binding named it since.
                Sid: "MarkOwnRecordsOnly",
                Effect: "Allow",
                Action: ["route53:ChangeResourceRecordSets"],
                Resource: [zone],
                Condition: {
                    "ForAllValues:StringEquals": {
                        "route53:ChangeResourceRecordSetsActions": ["CREATE"],
                        "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                    },
                    ...ownNames,
                },
            },
            {
                Sid: "ReadOwnZone",
                Effect: "Allow",
                Action: ["route53:ListResourceRecordSets"],
                Resource: [zone],
            },
            {
                Sid: "WaitForChanges",
                Effect: "Allow",
                Action: ["route53:GetChange"],
                Resource: [arn("route53", "change/*", "", "")],
            },
        );
    }
    return { Version: "2012-10-17", Statement: statements };
}
