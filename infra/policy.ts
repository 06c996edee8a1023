import { DnsRecordsMode, Tags } from "../binder/config";
import { renderName } from "../binder/naming";

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

/** Everything the binder's permissions are scoped to. */
export interface PolicyScope {
    partition: string;
    region: string;
    accountId: string;
    tableArns: string[];
    logGroupArn: string;
    hostedZoneId: string;
    addressTags: Tags;
    instanceTags: Tags;
    dnsRecords: DnsRecordsMode;
    dnsName: string;
    suffix: string;
    /** The reconciler reads whole tables; the binder reads the locks after a collision. */
    scanTables?: boolean;
    /** The queue the binder's event source mapping reads (with the function's role) and the binder hands failed messages back to. */
    eventQueueArn?: string;
}

const resourceTags = (tags: Tags) =>
    Object.fromEntries(Object.entries(tags).map(([key, value]) => [`aws:ResourceTag/${key}`, value]));

/**
 * The binder's whole permission set: this stack's tables, its log group, pool
 * addresses only (by tag), and in per-binding mode A records of its own names in
 * its own zone. EC2 describe calls cannot be scoped, so they get `*`.
 */
export function binderPolicy(scope: PolicyScope): PolicyDocument {
    const ec2 = (type: string) => `arn:${scope.partition}:ec2:${scope.region}:${scope.accountId}:${type}/*`;
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
        {
            Sid: "MovePoolAddressesOnly",
            Effect: "Allow",
            Action: ["ec2:AssociateAddress", "ec2:DisassociateAddress"],
            Resource: [ec2("elastic-ip")],
            Condition: { StringEquals: resourceTags(scope.addressTags) },
        },
        {
            Sid: "AttachToTargetInstancesOnly",
            Effect: "Allow",
            Action: ["ec2:AssociateAddress", "ec2:DisassociateAddress"],
            Resource: [ec2("instance")],
            Condition: { StringEquals: resourceTags(scope.instanceTags) },
        },
        {
            Sid: "AttachToNetworkInterfaces",
            Effect: "Allow",
            Action: ["ec2:AssociateAddress", "ec2:DisassociateAddress"],
            Resource: [ec2("network-interface")],
        },
        {
            Sid: "ReadWriteOwnTables",
            Effect: "Allow",
            // ConditionCheckItem: a transaction's check that the instance holds an address's lock.
            Action: ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            Resource: scope.tableArns,
        },
    ];
    if (scope.scanTables) {
        statements.push({ Sid: "ScanOwnTables", Effect: "Allow", Action: ["dynamodb:Scan"], Resource: scope.tableArns });
    }
    if (scope.eventQueueArn) {
        statements.push({
            Sid: "ConsumeOwnEventQueue",
            Effect: "Allow",
            Action: ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            Resource: [scope.eventQueueArn],
        });
    }
    if (scope.dnsRecords === "per-binding") {
        const zone = `arn:${scope.partition}:route53:::hostedzone/${scope.hostedZoneId}`;
        const names = renderName(scope.dnsName, { ip: "*", suffix: scope.suffix, instanceId: "*" }).replace(/\*+/g, "*");
        statements.push(
            {
                Sid: "ChangeOwnRecordsOnly",
                Effect: "Allow",
                Action: ["route53:ChangeResourceRecordSets"],
                Resource: [zone],
                Condition: {
                    "ForAllValues:StringEquals": { "route53:ChangeResourceRecordSetsRecordTypes": ["A"] },
                    "ForAllValues:StringLike": { "route53:ChangeResourceRecordSetsNormalizedRecordNames": [names] },
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
                Resource: [`arn:${scope.partition}:route53:::change/*`],
            },
        );
    }
    return { Version: "2012-10-17", Statement: statements };
}
