// The AWS calls the Pulumi AWS provider makes for each resource type the stack
// declares, across `pulumi up` (create, update), refresh and `pulumi destroy`, as AWS
// authorizes them, in the example account and names of docs/deploying.md.
import { OWNER_TAG } from "../../../binder/schema";
import { DeclaredResource } from "../../../tools/mock-stack";
import { recordChange } from "./calls";
import { Authorization } from "./simulate";

export const DOC_ACCOUNT = "111122223333";
const REGION = "us-west-2";
export const DOC_ZONE = "Z0123456789EXAMPLE";
/** Pulumi's auto-name: the logical name and seven random hex characters. */
export const autoNamed = (logical: string) => `${logical}-1a2b3c4`;
const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${DOC_ACCOUNT}:${resource}`;

const requestTags = (tags: Record<string, string>) => ({
    "aws:TagKeys": Object.keys(tags),
    ...Object.fromEntries(Object.entries(tags).map(([key, value]) => [`aws:RequestTag/${key}`, value])),
});
const resourceTags = (tags: Record<string, string>) => Object.fromEntries(Object.entries(tags).map(([key, value]) => [`aws:ResourceTag/${key}`, value]));
const each = (actions: string[], resource: string, context?: Authorization["context"]): Authorization[] =>
    actions.map(action => ({ action, resource, ...(context && { context }) }));

/** A function role of the dev stack, under the stack's path (infra/lambda.ts). */
export const functionRole = (logical: string) => `arn:aws:iam::${DOC_ACCOUNT}:role/eip-dns-binder/dev/${autoNamed(logical)}`;
export const functionArn = (logical: string) => arn("lambda", `function:${autoNamed(logical)}`);
export const alarmTopic = arn("sns", autoNamed("alarms"));
const mapping = arn("lambda", "event-source-mapping:0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0");

/** What the provider does before any resource: the lookups the program makes. */
export const LOOKUPS: Authorization[] = [
    { action: "route53:ListHostedZones", resource: "*" },
    ...each(["route53:GetHostedZone", "route53:ListTagsForResource"], `arn:aws:route53:::hostedzone/${DOC_ZONE}`),
    { action: "ec2:DescribeAddresses", resource: "*" },
    // Each node role's trust policy, read to check that only EC2 may assume it.
    { action: "iam:GetRole", resource: `arn:aws:iam::${DOC_ACCOUNT}:role/eks/nodes/KarpenterNodeRole-media` },
];

/** Per Pulumi type token, the calls for one declared resource of that type. */
export const PROVIDER_CALLS: Record<string, (resource: DeclaredResource) => Authorization[]> = {
    // A pool's component exists only in Pulumi's state: the provider makes no call for it.
    "eip-dns-binder:index:EipDnsBinder": () => [],
    "aws:ec2/eip:Eip": r => {
        const address = arn("ec2", "elastic-ip/eipalloc-0123456789abcdef0");
        const tags: Record<string, string> = r.inputs.tags;
        return [
            { action: "ec2:AllocateAddress", resource: address, context: requestTags(tags) },
            { action: "ec2:CreateTags", resource: address, context: { ...requestTags(tags), "ec2:CreateAction": "AllocateAddress" } },
            ...each(["ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute"], "*"),
            // An update of its tags (the owner tag on an address from before it existed), and a release.
            { action: "ec2:CreateTags", resource: address, context: { ...resourceTags(tags), ...requestTags({ [OWNER_TAG]: tags[OWNER_TAG] }) } },
            { action: "ec2:DeleteTags", resource: address, context: { ...resourceTags(tags), ...requestTags({ Name: tags.Name }) } },
            { action: "ec2:ReleaseAddress", resource: address, context: resourceTags(tags) },
        ];
    },
    "aws:route53/record:Record": r => [
        ...["CREATE", "UPSERT", "DELETE"].map(action => recordChange(DOC_ZONE, action, "A", [r.inputs.name])),
        { action: "route53:GetChange", resource: "arn:aws:route53:::change/C0123456789ABCDEFGHIJ" },
        { action: "route53:ListResourceRecordSets", resource: `arn:aws:route53:::hostedzone/${DOC_ZONE}` },
    ],
    "aws:dynamodb/table:Table": r => each([
        "CreateTable", "DescribeTable", "UpdateTable", "DeleteTable", "DescribeContinuousBackups", "UpdateContinuousBackups",
        "DescribeTimeToLive", "ListTagsOfResource", "TagResource", "UntagResource",
    ].map(a => `dynamodb:${a}`), arn("dynamodb", `table/${autoNamed(r.name)}`)),
    "aws:sqs/queue:Queue": r => each(["CreateQueue", "GetQueueAttributes", "SetQueueAttributes", "DeleteQueue", "ListQueueTags", "TagQueue", "UntagQueue"]
        .map(a => `sqs:${a}`), arn("sqs", autoNamed(r.name))),
    "aws:sqs/queuePolicy:QueuePolicy": r => each(["sqs:SetQueueAttributes", "sqs:GetQueueAttributes"], arn("sqs", autoNamed(r.name))),
    "aws:cloudwatch/logGroup:LogGroup": r => [
        ...each(["CreateLogGroup", "PutRetentionPolicy", "DeleteLogGroup", "ListTagsForResource", "TagResource", "UntagResource"].map(a => `logs:${a}`),
            arn("logs", `log-group:${autoNamed(r.name)}`)),
        { action: "logs:DescribeLogGroups", resource: "*" },
    ],
    "aws:iam/role:Role": r => each(["CreateRole", "GetRole", "UpdateRole", "UpdateAssumeRolePolicy", "DeleteRole", "TagRole", "UntagRole",
        "ListRolePolicies", "ListAttachedRolePolicies", "ListInstanceProfilesForRole"].map(a => `iam:${a}`), functionRole(r.name)),
    "aws:iam/rolePolicy:RolePolicy": r => each(["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"], functionRole(r.name)),
    "aws:lambda/function:Function": r => [
        ...each(["CreateFunction", "GetFunction", "GetFunctionConfiguration", "GetFunctionCodeSigningConfig", "ListVersionsByFunction",
            "UpdateFunctionCode", "UpdateFunctionConfiguration", "DeleteFunction", "ListTags", "TagResource", "UntagResource"].map(a => `lambda:${a}`), functionArn(r.name)),
        { action: "iam:PassRole", resource: functionRole(r.name), context: { "iam:PassedToService": "lambda.amazonaws.com" } },
    ],
    "aws:lambda/eventSourceMapping:EventSourceMapping": () => {
        const invokes = { "lambda:FunctionArn": functionArn("binder") };
        return [
            { action: "lambda:CreateEventSourceMapping", resource: "*", context: invokes },
            ...each(["lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping", "lambda:GetEventSourceMapping"], mapping, invokes),
            ...each(["lambda:ListTags", "lambda:TagResource", "lambda:UntagResource"], mapping),
        ];
    },
    "aws:lambda/permission:Permission": r => {
        // The schedule's grant on the reconciler, to EventBridge.
        if (r.inputs.principal === "events.amazonaws.com") return each(["lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy"], functionArn("reconciler"));
        // A node role's grant on the hook function: AddPermission carries its principal, and the URL's auth type when it names one.
        const principal = r.inputs.principal.replace(/::\d{12}:/, `::${DOC_ACCOUNT}:`);
        return [
            { action: "lambda:AddPermission", resource: functionArn("hook"), context: { "lambda:Principal": principal, ...(r.inputs.functionUrlAuthType && { "lambda:FunctionUrlAuthType": r.inputs.functionUrlAuthType }) } },
            ...each(["lambda:RemovePermission", "lambda:GetPolicy"], functionArn("hook")),
        ];
    },
    // A function's whole resource policy (the binder's and the hook's), written, read back and deleted.
    "aws:lambda/resourcePolicy:ResourcePolicy": r => each(["lambda:PutResourcePolicy", "lambda:GetResourcePolicy", "lambda:DeleteResourcePolicy"],
        functionArn(r.name.replace(/-invokers$/, ""))),
    "aws:lambda/functionUrl:FunctionUrl": r => [
        ...each(["lambda:CreateFunctionUrlConfig", "lambda:UpdateFunctionUrlConfig"], functionArn("hook"), { "lambda:FunctionUrlAuthType": r.inputs.authorizationType }),
        ...each(["lambda:GetFunctionUrlConfig", "lambda:DeleteFunctionUrlConfig"], functionArn("hook")),
    ],
    "aws:cloudwatch/eventRule:EventRule": r => each(["PutRule", "DescribeRule", "DeleteRule", "EnableRule", "DisableRule", "ListTagsForResource", "TagResource", "UntagResource"]
        .map(a => `events:${a}`), arn("events", `rule/${autoNamed(r.name)}`)),
    "aws:cloudwatch/eventTarget:EventTarget": r => each(["events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule"], arn("events", `rule/${autoNamed(r.name)}`)),
    "aws:cloudwatch/metricAlarm:MetricAlarm": r => {
        const alarm = arn("cloudwatch", `alarm:${autoNamed(r.name)}`);
        const actions: string[] = (r.inputs.alarmActions ?? []).length > 0 ? [alarmTopic] : [];
        return [
            { action: "cloudwatch:PutMetricAlarm", resource: alarm, ...(actions.length > 0 && { context: { "cloudwatch:AlarmActions": actions } }) },
            ...each(["DescribeAlarms", "DeleteAlarms", "ListTagsForResource", "TagResource", "UntagResource"].map(a => `cloudwatch:${a}`), alarm),
        ];
    },
    "aws:sns/topic:Topic": () => each(["CreateTopic", "GetTopicAttributes", "SetTopicAttributes", "DeleteTopic", "ListTagsForResource", "TagResource", "UntagResource"]
        .map(a => `sns:${a}`), alarmTopic),
    "aws:sns/topicSubscription:TopicSubscription": () => [
        { action: "sns:Subscribe", resource: alarmTopic, context: { "sns:Protocol": "email" } },
        // They name a subscription, which IAM has no resource type for: only `*` matches.
        ...each(["sns:GetSubscriptionAttributes", "sns:Unsubscribe"], "*"),
    ],
};
