// What a reviewer of `pulumi preview` checks, for the real dev and prod stack files.
import { expect } from "chai";
import { DRAIN_REASONS, DrainReason } from "../../binder/events";
import { DRAIN_RULES, EVENT_PATTERN } from "../../infra/events";
import { HOOK_TIMEOUT } from "../../infra/hooks";
import { RUNTIME } from "../../infra/lambda";
import { DEFAULT_POOL } from "../../infra/pools";
import { MockAccount, runStack as runMockStack, StackRun, ZONE_ID } from "../../tools/mock-stack";

/**
 * The stack files' single pool: its resources are children of the top-level pool's
 * component, named `default-…`; tests/system/upgrade.spec.ts checks that they keep the URNs
 * they had at the top level. Here they are read by their names within the pool.
 */
const runStack = async (stack: string, overrides?: Record<string, unknown>, account?: MockAccount) =>
    (await runMockStack(stack, overrides, account)).pool(DEFAULT_POOL);
/** How the mocks' physical names start: the resource's name, which begins with its pool's. */
const PHYSICAL = `${DEFAULT_POOL}-`;

const T = {
    eip: "aws:ec2/eip:Eip",
    record: "aws:route53/record:Record",
    table: "aws:dynamodb/table:Table",
    fn: "aws:lambda/function:Function",
    role: "aws:iam/role:Role",
    policy: "aws:iam/rolePolicy:RolePolicy",
    attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    rule: "aws:cloudwatch/eventRule:EventRule",
    target: "aws:cloudwatch/eventTarget:EventTarget",
    permission: "aws:lambda/permission:Permission",
    logGroup: "aws:cloudwatch/logGroup:LogGroup",
    queue: "aws:sqs/queue:Queue",
    queuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
    mapping: "aws:lambda/eventSourceMapping:EventSourceMapping",
    alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
    topic: "aws:sns/topic:Topic",
    subscription: "aws:sns/topicSubscription:TopicSubscription",
    url: "aws:lambda/functionUrl:FunctionUrl",
    invokers: "aws:lambda/resourcePolicy:ResourcePolicy",
};

/** A customer managed key, as kmsKeyArn takes it. */
const KMS_KEY = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/** The resource of `type` named `name`. */
const named = (run: StackRun, type: string, name: string) => {
    const found = run.ofType(type).find(r => r.name === name);
    if (!found) throw new Error(`no ${type} named ${name}`);
    return found;
};
const statements = (run: StackRun, role = "binder") => JSON.parse(named(run, T.policy, role).inputs.policy).Statement as any[];
const statement = (run: StackRun, sid: string, role = "binder") => statements(run, role).find(s => s.Sid === sid);
/** The mocks give queues, rules and functions their real ARN forms (the IAM simulator reads them), other resources a mock form. */
const ARN_FORM: Record<string, string> = {
    [T.queue]: "arn:aws:sqs:us-west-2:123456789012:", [T.rule]: "arn:aws:events:us-west-2:123456789012:rule/", [T.fn]: "arn:aws:lambda:us-west-2:123456789012:function:",
};
const arnOf = (type: string, name: string) => new RegExp(`${(ARN_FORM[type] ?? `${type}/`).replace(/[/:]/g, "\\$&")}${PHYSICAL}${name}-\\d+$`);
/** The ARN of every rule whose target is the event queue. */
const queueRules = (run: StackRun) => run.ofType(T.target)
    .filter(t => /:default-instance-events-\d+$/.test(t.inputs.arn))
    .map(t => `arn:aws:events:us-west-2:123456789012:rule/${t.inputs.rule}`);
/** The drain rules a stack run declares, by the signal each routes. */
const drainRules = (run: StackRun) => run.ofType(T.rule).filter(r => r.name.startsWith("drain-")).map(r => r.name.slice("drain-".length) as DrainReason);

/** Checks that `queue`'s policy lets EventBridge send for exactly `senders`, and refuses everyone else. */
function onlyRulesSend(run: StackRun, queue: string, senders: string[]): void {
    const policy = JSON.parse(named(run, T.queuePolicy, queue).inputs.policy);
    expect(policy.Statement, queue).to.have.length(2);
    expect(policy.Statement[0], queue).to.deep.include({ Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sqs:SendMessage" });
    expect(policy.Statement[1], queue).to.deep.include({ Sid: "NobodyElseSends", Effect: "Deny", Principal: "*", Action: "sqs:SendMessage" });
    expect(policy.Statement[0].Condition, queue).to.deep.equal({ ArnEquals: { "aws:SourceArn": senders } });
    expect(policy.Statement[1].Condition, queue).to.deep.equal({ ArnNotEquals: { "aws:SourceArn": senders } });
    for (const statement of policy.Statement) expect(statement.Resource, queue).to.match(arnOf(T.queue, queue));
}

describe("the stack", function () {
    this.timeout(120_000);

    describe("dev (Pulumi.dev.yaml)", () => {
        let run: StackRun;
        before(async () => { run = await runStack("dev"); });

        it("declares exactly the binder's resources", () => {
            const counts: Record<string, number> = {};
            for (const r of run.resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
            expect(counts).to.deep.equal({
                [T.eip]: 4, [T.record]: 4, [T.table]: 2, [T.fn]: 2, [T.role]: 2, [T.policy]: 2,
                [T.rule]: 4, [T.target]: 4, [T.permission]: 1, [T.invokers]: 1, [T.logGroup]: 2,
                [T.queue]: 3, [T.queuePolicy]: 2, [T.mapping]: 1, [T.alarm]: 6,
            });
        });

        it("tags every pool address with the address tags, a Name, the stack and its owner, unprotected", () => {
            for (const [i, eip] of run.ofType(T.eip).entries()) {
                expect(eip.inputs.domain).to.equal("vpc");
                expect(eip.inputs.tags).to.deep.equal({
                    "team": "live", "pool": "media-dev", "Name": `eip-dns-binder-dev-${i}`, "eip-dns-binder:stack": "dev",
                    "eip-dns-binder:owner": "dev/pool=media-dev,team=live",
                });
                expect(eip.options).to.deep.equal({ protect: false, retainOnDelete: false });
            }
        });

        it("names each pool address inside the suffix with one A record", () => {
            const records = run.ofType(T.record).map(r => r.inputs);
            expect(records.map(r => r.name)).to.have.members(
                ["192-0-2-1", "192-0-2-2", "192-0-2-3", "192-0-2-4"].map(ip => `${ip}.dev.live.example.com`));
            for (const record of records) {
                expect(record).to.include({ zoneId: ZONE_ID, type: "A", ttl: 60 });
                expect(record.records).to.have.length(1);
                expect(record.name.startsWith(record.records[0].replace(/\./g, "-"))).to.equal(true);
            }
        });

        it("keeps the scheduler's item shape, on demand, with point-in-time recovery", () => {
            const servers = run.ofType(T.table).find(t => t.name === "servers")!.inputs;
            expect(servers).to.include({ hashKey: "EIP", rangeKey: "DNS_Record", billingMode: "PAY_PER_REQUEST", deletionProtectionEnabled: false });
            expect(servers.attributes).to.deep.equal(["EIP", "DNS_Record", "Offer", "OfferKey"].map(name => ({ name, type: "S" })));
            // The scheduler's offers index: a global one, which AWS adds to a table in place (a local one would replace it).
            expect(servers.globalSecondaryIndexes).to.deep.equal([{
                name: "offers", projectionType: "ALL",
                keySchemas: [{ attributeName: "Offer", keyType: "HASH" }, { attributeName: "OfferKey", keyType: "RANGE" }],
            }]);
            expect(servers.localSecondaryIndexes).to.equal(undefined);
            expect(servers.pointInTimeRecovery).to.deep.equal({ enabled: true });
            // The scheduler's stream: every change with the row before and after it.
            expect(servers).to.include({ streamEnabled: true, streamViewType: "NEW_AND_OLD_IMAGES" });
            expect(run.outputs.serversStream).to.match(/^arn:aws:dynamodb:us-west-2:123456789012:table\/default-servers-\d+\/stream\//);
            const claims = run.ofType(T.table).find(t => t.name === "claims")!.inputs;
            expect(claims).to.include({ hashKey: "Id", billingMode: "PAY_PER_REQUEST" });
            expect(claims.rangeKey).to.equal(undefined);
        });

        it("routes running, stopping, stopped, shutting-down and terminated EC2 state changes to the event queue, and only the rules may send", () => {
            const rule = named(run, T.rule, "instance-state").inputs;
            expect(JSON.parse(rule.eventPattern)).to.deep.equal({
                "source": ["aws.ec2"],
                "detail-type": ["EC2 Instance State-change Notification"],
                "detail": { state: ["running", "stopping", "stopped", "shutting-down", "terminated"] },
            });
            expect(EVENT_PATTERN.detail.state).to.deep.equal(["running", "stopping", "stopped", "shutting-down", "terminated"]);
            const target = named(run, T.target, "instance-state").inputs;
            expect(target.arn).to.match(arnOf(T.queue, "instance-events"));
            expect(target.retryPolicy).to.deep.equal({ maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 10 });
            expect(target.deadLetterConfig.arn).to.match(arnOf(T.queue, "undelivered-events"));
            const senders = queueRules(run);
            expect(senders[0]).to.match(arnOf(T.rule, "instance-state"));
            for (const queue of ["instance-events", "undelivered-events"]) onlyRulesSend(run, queue, senders);
            expect(run.ofType(T.permission).map(p => p.name), "nothing invokes the binder but its queue").to.deep.equal(["reconcile"]);
        });

        it("routes Spot interruption warnings and EC2 scheduled changes to the event queue by default, but no rebalance recommendations", () => {
            expect(drainRules(run)).to.deep.equal(["spot-interruption", "scheduled-change"]);
            for (const reason of drainRules(run)) {
                const rule = named(run, T.rule, `drain-${reason}`).inputs;
                expect(JSON.parse(rule.eventPattern), reason).to.deep.equal(DRAIN_RULES[reason].pattern);
                expect(rule.description, reason).to.match(/for eip-dns-binder\.$/);
                const target = named(run, T.target, `drain-${reason}`).inputs;
                expect(target.rule, reason).to.match(new RegExp(`^${PHYSICAL}drain-${reason}-\\d+$`));
                expect(target.arn, reason).to.match(arnOf(T.queue, "instance-events"));
                expect(target.retryPolicy, reason).to.deep.equal(named(run, T.target, "instance-state").inputs.retryPolicy);
                expect(target.deadLetterConfig, reason).to.deep.equal(named(run, T.target, "instance-state").inputs.deadLetterConfig);
            }
            expect(queueRules(run)).to.have.length(3);
        });

        it("feeds the binder from the queue in batches of 10, at most 10 at once, reporting failed messages", () => {
            const mapping = run.one(T.mapping).inputs;
            expect(mapping.eventSourceArn).to.match(arnOf(T.queue, "instance-events"));
            expect(mapping.functionName).to.match(arnOf(T.fn, "binder"));
            expect(mapping).to.include({ batchSize: 10 });
            expect(mapping.scalingConfig).to.deep.equal({ maximumConcurrency: 10 });
            expect(mapping.functionResponseTypes).to.deep.equal(["ReportBatchItemFailures"]);
        });

        it("runs the reconciler on the default schedule", () => {
            expect(named(run, T.rule, "reconcile").inputs.scheduleExpression).to.equal("rate(5 minutes)");
            expect(named(run, T.target, "reconcile").inputs.arn).to.match(arnOf(T.fn, "reconciler"));
            expect(named(run, T.permission, "reconcile").inputs.sourceArn).to.match(arnOf(T.rule, "reconcile"));
            expect(named(run, T.fn, "reconciler").inputs).to.include({ runtime: RUNTIME, timeout: 300 });
            // It binds as many at once as the binder's invocations run (binderConcurrency).
            expect(named(run, T.fn, "reconciler").inputs.environment.variables).to.deep.equal({ ...run.outputs.binderSettings, BINDER_RECONCILE_CONCURRENCY: "10" });
        });

        it("redelivers a failed event after six function timeouts, five times, then keeps it two weeks; all queues encrypted", () => {
            const events = named(run, T.queue, "instance-events").inputs;
            const binderTimeout = named(run, T.fn, "binder").inputs.timeout;
            expect(events).to.include({ sqsManagedSseEnabled: true, messageRetentionSeconds: 345600, visibilityTimeoutSeconds: 6 * binderTimeout });
            const redrive = JSON.parse(events.redrivePolicy);
            expect(redrive.maxReceiveCount).to.equal(5);
            expect(redrive.deadLetterTargetArn).to.match(arnOf(T.queue, "failed-events"));
            for (const name of ["failed-events", "undelivered-events"]) {
                expect(named(run, T.queue, name).inputs, name).to.include({ sqsManagedSseEnabled: true, messageRetentionSeconds: 1209600 });
            }
            expect(run.outputs.eventQueue).to.match(/instance-events/);
        });

        it("alarms on a dry pool, on failures and on waiting events, with no topic unless an email is set", () => {
            const free = named(run, T.alarm, "free-addresses").inputs;
            expect(free).to.include({ namespace: "EipDnsBinder", metricName: "FreeAddresses", statistic: "Minimum", comparisonOperator: "LessThanThreshold", threshold: 1 });
            expect(free.dimensions).to.deep.equal({ Stack: "dev" });
            const failures = named(run, T.alarm, "failures").inputs;
            expect(failures).to.include({ namespace: "EipDnsBinder", metricName: "Failures", statistic: "Sum", comparisonOperator: "GreaterThanThreshold", threshold: 0 });
            for (const kind of ["handling", "delivery"]) {
                const alarm = named(run, T.alarm, `${kind}-queue`).inputs;
                expect(alarm).to.include({ namespace: "AWS/SQS", metricName: "ApproximateNumberOfMessagesVisible", threshold: 0 });
            }
            const quota = named(run, T.alarm, "address-quota").inputs;
            expect(quota).to.include({ namespace: "EipDnsBinder", metricName: "PoolSize", statistic: "Maximum", comparisonOperator: "GreaterThanOrEqualToThreshold", threshold: 9 });
            expect(quota.dimensions).to.deep.equal({ Stack: "dev" });
            const backlog = named(run, T.alarm, "event-backlog").inputs;
            expect(backlog).to.include({ namespace: "AWS/SQS", metricName: "ApproximateAgeOfOldestMessage", statistic: "Maximum", threshold: 900 });
            expect(backlog.threshold).to.be.above(named(run, T.queue, "instance-events").inputs.visibilityTimeoutSeconds);
            expect(run.ofType(T.topic)).to.have.length(0);
            for (const alarm of run.ofType(T.alarm)) expect(alarm.inputs.alarmActions).to.deep.equal([]);
            expect(run.outputs.alarmTopic).to.equal(undefined);
        });

        it("deploys the handler with an explicit runtime, memory, timeout and its own log group", () => {
            const fn = named(run, T.fn, "binder").inputs;
            expect(fn).to.include({ runtime: RUNTIME, handler: "__index.handler", memorySize: 256, timeout: 120 });
            expect(RUNTIME).to.match(/^nodejs(2[2-9]|[3-9]\d)\.x$/);
            expect(fn.loggingConfig.logGroup).to.match(/^default-binder-/);
            expect(fn.role).to.match(/iam\/role:Role\/default-binder/);
        });

        it("passes the run-time settings as environment variables, and the binder its event queue", () => {
            const { BINDER_EVENT_QUEUE_URL, BINDER_DRAIN_ON, ...settings } = named(run, T.fn, "binder").inputs.environment.variables;
            expect(BINDER_EVENT_QUEUE_URL).to.equal(run.outputs.eventQueue);
            // The signals it has rules for: any other is none of AWS's.
            expect(JSON.parse(BINDER_DRAIN_ON)).to.deep.equal(["spot-interruption", "scheduled-change"]);
            expect(run.outputs.binderSettings).to.deep.equal(settings);
            expect(settings).to.deep.equal({
                BINDER_STACK: "dev",
                BINDER_INSTANCE_TAGS: JSON.stringify({ "team": "live", "karpenter.sh/nodepool": "media-dev" }),
                BINDER_ADDRESS_TAGS: JSON.stringify({ team: "live", pool: "media-dev" }),
                BINDER_HOSTED_ZONE: "live.example.com",
                BINDER_HOSTED_ZONE_ID: ZONE_ID,
                BINDER_DNS_SUFFIX: "dev.live.example.com",
                BINDER_DNS_NAME: "{ip-dashed}.{suffix}",
                BINDER_DNS_TTL: "60",
                BINDER_DNS_RECORDS: "per-address",
                BINDER_SERVERS_TABLE: run.outputs.serversTable,
                BINDER_CLAIMS_TABLE: run.outputs.claimsTable,
            });
        });

        it("gives each function one inline least-privilege policy and no managed policies", () => {
            expect(run.ofType(T.attachment)).to.have.length(0);
            for (const role of run.ofType(T.role)) expect(role.inputs.assumeRolePolicy.Statement[0].Principal).to.deep.equal({ Service: "lambda.amazonaws.com" });
            const common = ["WriteOwnLogs", "ReadInstancesAndAddresses", "MovePoolAddressesOnly", "AttachToClusterInterfacesOnly", "AttachToTargetInstancesOnly", "ClaimsAndLocks", "Waitlist", "DrainItems", "ServerRows"];
            const [logs, reads, ...rest] = common;
            expect(statements(run, "binder").map(s => s.Sid)).to.deep.equal([logs, reads, "ConfirmDrainSignals", ...rest, "ConsumeOwnEventQueue"]);
            expect(statements(run, "reconciler").map(s => s.Sid)).to.deep.equal(common);
            for (const s of [...statements(run, "binder"), ...statements(run, "reconciler")]) {
                expect(s.Effect).to.equal("Allow");
                expect(s.Action).to.not.include("*");
                for (const action of s.Action) expect(action).to.not.match(/:\*$/);
            }
        });

        it("gives each function only the extra access it needs", () => {
            expect(statement(run, "ConsumeOwnEventQueue", "binder")).to.deep.include({
                Action: ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            });
            expect(statement(run, "ConsumeOwnEventQueue", "binder").Resource).to.have.length(1);
            expect(statement(run, "ConsumeOwnEventQueue", "binder").Resource[0]).to.match(arnOf(T.queue, "instance-events"));
            // Only the reconciler reads the servers table whole; both read the claims and locks whole.
            expect(statement(run, "ServerRows", "binder").Action).to.deep.equal(["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]);
            // A claim or a lock is never updated in place; only the drain items are. The waitlist is read through its index only.
            for (const role of ["binder", "reconciler"]) {
                expect(statement(run, "ClaimsAndLocks", role).Action).to.not.include("dynamodb:UpdateItem");
                expect(statement(run, "Waitlist", role).Action).to.deep.equal(["dynamodb:Query"]);
                expect(statement(run, "Waitlist", role).Resource[0]).to.match(/\/index\/waitlist$/);
                expect(statement(run, "DrainItems", role)).to.deep.include({
                    Action: ["dynamodb:UpdateItem"], Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["drain/*"] } },
                });
            }
            expect(statement(run, "ServerRows", "reconciler").Action).to.deep.equal(["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"]);
            for (const role of ["binder", "reconciler"]) {
                expect(statement(run, "ClaimsAndLocks", role).Action).to.deep.equal(["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"]);
            }
        });

        it("scopes each statement to this stack's resources", () => {
            const logs = statement(run, "WriteOwnLogs");
            expect(statement(run, "WriteOwnLogs", "reconciler").Resource[0]).to.match(/log-group:default-reconciler-\d+:\*$/);
            expect(logs.Action).to.deep.equal(["logs:CreateLogStream", "logs:PutLogEvents"]);
            expect(logs.Resource).to.have.length(1);
            expect(logs.Resource[0]).to.match(/^arn:aws:logs:us-west-2:123456789012:log-group:default-binder-\d+:\*$/);
            expect(statement(run, "ReadInstancesAndAddresses")).to.deep.include({
                Action: ["ec2:DescribeAddresses", "ec2:DescribeInstances"], Resource: ["*"],
            });
            expect(statement(run, "MovePoolAddressesOnly")).to.deep.include({
                Action: ["ec2:AssociateAddress", "ec2:DisassociateAddress"],
                Resource: ["arn:aws:ec2:us-west-2:123456789012:elastic-ip/*"],
                Condition: { StringEquals: { "aws:ResourceTag/team": "live", "aws:ResourceTag/pool": "media-dev" } },
            });
            expect(statement(run, "AttachToTargetInstancesOnly")).to.deep.include({
                Action: ["ec2:AssociateAddress"],
                Resource: ["arn:aws:ec2:us-west-2:123456789012:instance/*"],
                Condition: { StringEquals: { "aws:ResourceTag/team": "live", "aws:ResourceTag/karpenter.sh/nodepool": "media-dev" } },
            });
            expect(statement(run, "AttachToClusterInterfacesOnly")).to.deep.include({
                Action: ["ec2:AssociateAddress", "ec2:DisassociateAddress"],
                Resource: ["arn:aws:ec2:us-west-2:123456789012:network-interface/*"],
                Condition: { ArnEquals: { "ec2:Vpc": ["arn:aws:ec2:us-west-2:123456789012:vpc/vpc-0123456789abcdef0"] } },
            });
            const table = (name: string) => [`arn:aws:dynamodb:us-west-2:123456789012:table/${name}`];
            expect(statement(run, "ClaimsAndLocks").Resource).to.deep.equal(table(run.outputs.claimsTable));
            expect(statement(run, "ServerRows").Resource).to.deep.equal(table(run.outputs.serversTable));
            expect(statements(run).some(s => s.Action.some((a: string) => a.startsWith("route53:")))).to.equal(false);
        });

        it("exports the table, function, zone and the pool's names", () => {
            expect(run.outputs.zoneId).to.equal(ZONE_ID);
            expect(run.outputs.functionName).to.match(/^default-binder-/);
            expect(run.outputs.reconcilerName).to.match(/^default-reconciler-/);
            expect(run.outputs.failedEventsQueue).to.be.a("string");
            expect(run.outputs.serversTable).to.match(/^default-servers-/);
            expect(run.outputs.pool).to.deep.equal({
                "192.0.2.1": "192-0-2-1.dev.live.example.com",
                "192.0.2.2": "192-0-2-2.dev.live.example.com",
                "192.0.2.3": "192-0-2-3.dev.live.example.com",
                "192.0.2.4": "192-0-2-4.dev.live.example.com",
            });
        });
    });

    describe("prod (Pulumi.prod.yaml)", () => {
        let run: StackRun;
        before(async () => { run = await runStack("prod"); });

        it("allocates a larger pool that survives destroy", () => {
            expect(run.ofType(T.eip)).to.have.length(40);
            for (const eip of run.ofType(T.eip)) expect(eip.options).to.deep.equal({ protect: true, retainOnDelete: true });
            expect(run.ofType(T.record)).to.have.length(40);
            expect(run.ofType(T.record)[0].inputs.ttl).to.equal(300);
        });

        it("turns on deletion protection for both tables", () => {
            for (const table of run.ofType(T.table)) expect(table.inputs.deletionProtectionEnabled).to.equal(true);
        });

        it("names addresses under the zone itself by default", () => {
            expect(Object.values(run.outputs.pool)[0]).to.match(/^\d+-\d+-\d+-\d+\.live\.example\.com$/);
        });
    });

    describe("node hooks", () => {
        const roles = ["arn:aws:iam::123456789012:role/KarpenterNodeRole-media", "arn:aws:iam::123456789012:role/eks/nodes/KarpenterNodeRole-spot"];

        it("makes no endpoint, function or permission for it without nodeRoleArns", async () => {
            const run = await runStack("dev");
            expect(run.ofType(T.url)).to.deep.equal([]);
            expect(run.ofType(T.fn).map(f => f.name)).to.have.members(["binder", "reconciler"]);
            expect(run.ofType(T.permission).map(p => p.name)).to.deep.equal(["reconcile"]);
            expect(run.outputs.hookUrl).to.equal(undefined);
        });

        describe("with nodeRoleArns", () => {
            let run: StackRun;
            before(async () => { run = await runStack("dev", { nodeRoleArns: roles }); });

            it("serves the hook function at a function URL with AWS_IAM auth, and exports the URL", () => {
                const url = run.one(T.url);
                expect(url.inputs).to.deep.include({ authorizationType: "AWS_IAM" });
                expect(url.inputs.functionName).to.match(/^default-hook-\d+$/);
                expect(run.outputs.hookUrl).to.match(/^https:\/\/\w{32}\.lambda-url\.us-west-2\.on\.aws\/$/);
            });

            it("lets exactly the node roles call the URL with IAM auth, and invoke the function only through the URL, in one resource policy", () => {
                const hook = run.one(T.url).inputs.functionName;
                const policy = named(run, T.invokers, "hook-invokers");
                const document = JSON.parse(policy.inputs.policy);
                expect(policy.inputs.resourceArn).to.equal(`arn:aws:lambda:us-west-2:123456789012:function:${hook}`);
                expect(document.Statement.filter((s: any) => s.Effect === "Allow").map((s: any) => [s.Principal.AWS, s.Action]))
                    .to.deep.equal([[roles, "lambda:InvokeFunctionUrl"], [roles, "lambda:InvokeFunction"]]);
                // A function's resource policy is one document: no Permission may add to it.
                expect(run.ofType(T.permission).map(p => p.name)).to.deep.equal(["reconcile"]);
            });

            it("runs the hook function with its own log group, timeout, settings and node roles", () => {
                const fn = named(run, T.fn, "hook").inputs;
                expect(fn).to.include({ runtime: RUNTIME, handler: "__index.handler", timeout: HOOK_TIMEOUT });
                expect(fn.loggingConfig.logGroup).to.match(/^default-hook-/);
                expect(fn.role).to.match(/iam\/role:Role\/default-hook/);
                const { BINDER_NODE_ROLE_ARNS, ...settings } = fn.environment.variables;
                expect(JSON.parse(BINDER_NODE_ROLE_ARNS)).to.deep.equal(roles);
                expect(settings).to.deep.equal(run.outputs.binderSettings);
            });

            it("gives the hook function what it binds and drains with, and neither releases nor the event queue", () => {
                expect(statements(run, "hook").map(s => s.Sid)).to.deep.equal(
                    ["WriteOwnLogs", "ReadInstancesAndAddresses", "MovePoolAddressesOnly", "AttachToClusterInterfacesOnly", "AttachToTargetInstancesOnly", "ClaimsAndLocks", "Waitlist", "DrainItems", "ServerRows"]);
                expect(statement(run, "MovePoolAddressesOnly", "hook")).to.deep.include({
                    Action: ["ec2:AssociateAddress"], Condition: { StringEquals: { "aws:ResourceTag/team": "live", "aws:ResourceTag/pool": "media-dev" } },
                });
                expect(statement(run, "AttachToClusterInterfacesOnly", "hook").Action).to.deep.equal(["ec2:AssociateAddress"]);
                expect(statement(run, "ServerRows", "hook").Action).to.deep.equal(["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]);
                expect(statement(run, "WriteOwnLogs", "hook").Resource[0]).to.match(/log-group:default-hook-\d+:\*$/);
                // The binder and the reconciler keep what they had.
                expect(statement(run, "MovePoolAddressesOnly", "binder").Action).to.deep.equal(["ec2:AssociateAddress", "ec2:DisassociateAddress"]);
            });

            it("fails the preview naming the key when a node role is of another account", async () => {
                let failure: unknown;
                await runStack("dev", { nodeRoleArns: [roles[0], "arn:aws:iam::999999999999:role/KarpenterNodeRole-media"] }).catch(err => { failure = err; });
                expect(String((failure as Error)?.message)).to.match(
                    /eip-dns-binder:nodeRoleArns has 'arn:aws:iam::999999999999:role\/KarpenterNodeRole-media', of another account than 123456789012, where the stack deploys/);
            });

            // Trust policies of a node role that let someone other than EC2 make its sessions, and name them.
            const trusting = (principal: unknown) => JSON.stringify({ Version: "2012-10-17", Statement: [
                { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
                { Effect: "Allow", Principal: principal, Action: ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"] },
            ] });
            for (const [what, principal, named] of [
                ["the account's root", { AWS: "arn:aws:iam::123456789012:root" }, /AWS "arn:aws:iam::123456789012:root"/],
                ["an IRSA provider", { Federated: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE" }, /Federated "arn:aws:iam::123456789012:oidc-provider/],
                ["another service", { Service: ["ec2.amazonaws.com", "lambda.amazonaws.com"] }, /Service "lambda\.amazonaws\.com"/],
                ["anyone", "*", /Principal "\*"/],
            ] as const) {
                it(`fails the preview naming the key and the role when a node role's trust policy admits ${what}`, async () => {
                    let failure: unknown;
                    await runStack("dev", { nodeRoleArns: roles }, { tagged: [], trustPolicies: { "KarpenterNodeRole-spot": trusting(principal) } }).catch(err => { failure = err; });
                    const message = String((failure as Error)?.message);
                    expect(message).to.match(/eip-dns-binder:nodeRoleArns: the trust policy of 'arn:aws:iam::123456789012:role\/eks\/nodes\/KarpenterNodeRole-spot' admits /);
                    expect(message).to.match(named);
                });
            }

            it("reads each node role's trust policy at deploy time, and passes one that admits only EC2", async () => {
                const run = await runStack("dev", { nodeRoleArns: roles }, { tagged: [], trustPolicies: { "KarpenterNodeRole-spot": JSON.stringify({ Version: "2012-10-17", Statement: [
                    { Effect: "Allow", Principal: { Service: ["ec2.amazonaws.com"] }, Action: "sts:AssumeRole" },
                    { Effect: "Deny", Principal: { AWS: "*" }, Action: "sts:AssumeRole" },
                ] }) } });
                expect(run.outputs.hookUrl).to.match(/lambda-url/);
                expect(run.lookups.filter(l => l.token === "aws:iam/getRole:getRole").map(l => l.inputs.name).sort()).to.deep.equal(["KarpenterNodeRole-media", "KarpenterNodeRole-spot"]);
            });
        });
    });

    describe("variations", () => {
        it("declares no addresses and no records with poolSize 0", async () => {
            const run = await runStack("dev", { poolSize: 0 });
            expect(run.ofType(T.eip)).to.have.length(0);
            expect(run.ofType(T.record)).to.have.length(0);
            expect(run.outputs.pool).to.deep.equal({});
            expect(run.ofType(T.fn)).to.have.length(2);
        });

        it("sends alarms to an email topic when alarmEmail is set, at the configured threshold", async () => {
            const run = await runStack("dev", { alarmEmail: "oncall@example.com", minFreeAddresses: 3, reconcileSchedule: "cron(0/10 * * * ? *)" });
            expect(run.one(T.subscription).inputs).to.include({ protocol: "email", endpoint: "oncall@example.com" });
            const topicArn = run.outputs.alarmTopic;
            expect(topicArn).to.match(arnOf(T.topic, "alarms"));
            for (const alarm of run.ofType(T.alarm)) expect(alarm.inputs.alarmActions).to.deep.equal([topicArn]);
            expect(named(run, T.alarm, "free-addresses").inputs.threshold).to.equal(3);
            expect(named(run, T.rule, "reconcile").inputs.scheduleExpression).to.equal("cron(0/10 * * * ? *)");
        });

        it("without vpcIds, as before it existed, lets the functions use any interface (and the preview warns)", async () => {
            const run = await runStack("dev", { vpcIds: undefined });
            for (const role of ["binder", "reconciler"]) {
                expect(statement(run, "AttachToClusterInterfacesOnly", role).Condition).to.equal(undefined);
            }
        });

        it("without addressQuota, as before it existed, makes no address-quota alarm, so an upgrade fires nothing", async () => {
            const run = await runStack("dev", { addressQuota: undefined });
            expect(run.ofType(T.alarm).map(a => a.name)).to.not.include("address-quota");
            expect(run.ofType(T.alarm)).to.have.length(5);
        });

        it("without kmsKeyArn, as before it existed, names no key anywhere: AWS's encryption, so an upgrade changes nothing", async () => {
            const run = await runStack("dev", { alarmEmail: "oncall@example.com", nodeRoleArns: ["arn:aws:iam::123456789012:role/KarpenterNodeRole-media"] });
            expect(JSON.stringify(run.resources.map(r => r.inputs))).to.not.match(/kms/i);
            for (const table of run.ofType(T.table)) expect(table.inputs, table.name).to.not.have.property("serverSideEncryption");
            for (const queue of run.ofType(T.queue)) expect(queue.inputs, queue.name).to.include({ sqsManagedSseEnabled: true });
            for (const group of run.ofType(T.logGroup)) expect(group.inputs, group.name).to.deep.equal({ retentionInDays: 30 });
            expect(run.one(T.topic).inputs).to.deep.equal({});
        });

        it("with kmsKeyArn, encrypts every table, queue, log group and the topic with the key, and lets only the binder decrypt its event queue through SQS", async () => {
            const run = await runStack("dev", { kmsKeyArn: KMS_KEY, alarmEmail: "oncall@example.com", nodeRoleArns: ["arn:aws:iam::123456789012:role/KarpenterNodeRole-media"] });
            expect(run.ofType(T.table)).to.have.length(2);
            for (const table of run.ofType(T.table)) expect(table.inputs.serverSideEncryption, table.name).to.deep.equal({ enabled: true, kmsKeyArn: KMS_KEY });
            expect(run.ofType(T.queue)).to.have.length(3);
            for (const queue of run.ofType(T.queue)) {
                expect(queue.inputs, queue.name).to.include({ kmsMasterKeyId: KMS_KEY });
                // SSE-SQS and a KMS key exclude each other.
                expect(queue.inputs, queue.name).to.not.have.property("sqsManagedSseEnabled");
            }
            expect(run.ofType(T.logGroup).map(g => g.name)).to.have.members(["binder", "reconciler", "hook"]);
            for (const group of run.ofType(T.logGroup)) expect(group.inputs, group.name).to.deep.equal({ retentionInDays: 30, kmsKeyId: KMS_KEY });
            expect(run.one(T.topic).inputs).to.deep.equal({ kmsMasterKeyId: KMS_KEY });
            expect(statement(run, "DecryptOwnEventQueue")).to.deep.equal({
                Sid: "DecryptOwnEventQueue", Effect: "Allow", Action: ["kms:Decrypt"], Resource: [KMS_KEY],
                Condition: { StringEquals: { "kms:ViaService": "sqs.us-west-2.amazonaws.com" } },
            });
            for (const role of ["reconciler", "hook"]) expect(JSON.stringify(statements(run, role)), role).to.not.match(/kms/i);
        });

        it("fails the preview naming kmsKeyArn when the key is of another Region than the stack's", async () => {
            let failure: unknown;
            const elsewhere = KMS_KEY.replace("us-west-2", "eu-west-1");
            await runStack("dev", { kmsKeyArn: elsewhere }).catch(err => { failure = err; });
            expect(String((failure as Error)?.message)).to.include(`eip-dns-binder:kmsKeyArn '${elsewhere}' is a key of eu-west-1, not of us-west-2, where the stack deploys`);
        });

        for (const [what, value] of [
            ["a bare key id", "1234abcd-12ab-34cd-56ef-1234567890ab"],
            ["an alias ARN", "arn:aws:kms:us-west-2:123456789012:alias/eip-dns-binder"],
            ["an alias name", "alias/eip-dns-binder"],
            ["another service's ARN", "arn:aws:sqs:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
        ] as const) {
            it(`fails the preview naming kmsKeyArn when it is ${what}`, async () => {
                let failure: unknown;
                await runStack("dev", { kmsKeyArn: value }).catch(err => { failure = err; });
                expect(String((failure as Error)?.message)).to.include(`eip-dns-binder:kmsKeyArn must be a KMS key ARN such as '${KMS_KEY}' (not a key id or an alias), not '${value}'`);
            });
        }

        it("makes no drain rule with drainOn [], and lets only the state-change rule send", async () => {
            const run = await runStack("dev", { drainOn: [] });
            expect(drainRules(run)).to.deep.equal([]);
            expect(run.ofType(T.rule).map(r => r.name)).to.have.members(["instance-state", "reconcile"]);
            const senders = queueRules(run);
            expect(senders).to.have.length(1);
            expect(senders[0]).to.match(arnOf(T.rule, "instance-state"));
            for (const queue of ["instance-events", "undelivered-events"]) onlyRulesSend(run, queue, senders);
        });

        it("makes one drain rule per signal with every signal in drainOn, and lets exactly the four rules send", async () => {
            const run = await runStack("dev", { drainOn: ["scheduled-change", "rebalance-recommendation", "spot-interruption"] });
            expect(drainRules(run)).to.deep.equal([...DRAIN_REASONS]);
            expect(run.ofType(T.target).filter(t => t.name.startsWith("drain-"))).to.have.length(3);
            const senders = queueRules(run);
            expect(senders).to.have.length(4);
            for (const [i, name] of ["instance-state", ...DRAIN_REASONS.map(r => `drain-${r}`)].entries()) expect(senders[i]).to.match(arnOf(T.rule, name));
            for (const queue of ["instance-events", "undelivered-events"]) onlyRulesSend(run, queue, senders);
        });

        it("keeps the names of the state-change rule, its target and the queue policies, so an upgrade replaces nothing", async () => {
            for (const drainOn of [[], [...DRAIN_REASONS]]) {
                const run = await runStack("dev", { drainOn });
                expect(run.ofType(T.rule).map(r => r.name), JSON.stringify(drainOn)).to.include.members(["instance-state", "reconcile"]);
                expect(run.ofType(T.target).map(r => r.name), JSON.stringify(drainOn)).to.include.members(["instance-state", "reconcile"]);
                expect(run.ofType(T.queuePolicy).map(r => r.name), JSON.stringify(drainOn)).to.have.members(["instance-events", "undelivered-events"]);
            }
        });

        it("caps the binder's concurrency at binderConcurrency, reserves that much for it, and caps the reconciler's binds at once", async () => {
            const run = await runStack("dev", { binderConcurrency: 25 });
            expect(run.one(T.mapping).inputs.scalingConfig).to.deep.equal({ maximumConcurrency: 25 });
            expect(named(run, T.fn, "binder").inputs.reservedConcurrentExecutions).to.equal(25);
            expect(named(run, T.fn, "reconciler").inputs.reservedConcurrentExecutions).to.equal(undefined);
            expect(named(run, T.fn, "reconciler").inputs.environment.variables).to.include({ BINDER_RECONCILE_CONCURRENCY: "25" });
        });

        it("caps the hook function's concurrency at hookConcurrency, 10 unless set", async () => {
            const roles = { nodeRoleArns: ["arn:aws:iam::123456789012:role/KarpenterNodeRole-media"] };
            expect(named(await runStack("dev", roles), T.fn, "hook").inputs.reservedConcurrentExecutions).to.equal(10);
            expect(named(await runStack("dev", { ...roles, hookConcurrency: 3 }), T.fn, "hook").inputs.reservedConcurrentExecutions).to.equal(3);
        });

        it("in per-binding mode drops the records and allows changes to this zone's own A and TXT records only", async () => {
            const run = await runStack("dev", { dnsRecords: "per-binding", dnsName: "{instance-id}.{suffix}" });
            expect(run.ofType(T.record)).to.have.length(0);
            // An instance id is i- and 8 or 17 hexadecimal digits: no other letter, no dot, no underscore before the suffix.
            const names = { "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["i-????????.dev.live.example.com", "i-?????????????????.dev.live.example.com"] };
            const excluded = { "route53:ChangeResourceRecordSetsNormalizedRecordNames": [..."ghjklmnopqrstuvwxyz._"].map(c => `*${c}*.dev.live.example.com`) };
            expect(statement(run, "ChangeOwnRecordsOnly")).to.deep.equal({
                Sid: "ChangeOwnRecordsOnly",
                Effect: "Allow",
                Action: ["route53:ChangeResourceRecordSets"],
                Resource: [`arn:aws:route53:::hostedzone/${ZONE_ID}`],
                Condition: {
                    "ForAllValues:StringEquals": {
                        "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"],
                        "route53:ChangeResourceRecordSetsRecordTypes": ["A", "TXT"],
                    },
                    "ForAllValues:StringLike": names,
                    "ForAllValues:StringNotLike": excluded,
                },
            });
            expect(statement(run, "MarkOwnRecordsOnly")).to.deep.equal({
                Sid: "MarkOwnRecordsOnly",
                Effect: "Allow",
                Action: ["route53:ChangeResourceRecordSets"],
                Resource: [`arn:aws:route53:::hostedzone/${ZONE_ID}`],
                Condition: {
                    "ForAllValues:StringEquals": { "route53:ChangeResourceRecordSetsActions": ["CREATE"], "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"] },
                    "ForAllValues:StringLike": names,
                    "ForAllValues:StringNotLike": excluded,
                },
            });
            expect(statement(run, "ReadOwnZone")).to.deep.include({ Action: ["route53:ListResourceRecordSets"], Resource: [`arn:aws:route53:::hostedzone/${ZONE_ID}`] });
            expect(statement(run, "WaitForChanges")).to.deep.include({ Action: ["route53:GetChange"], Resource: ["arn:aws:route53:::change/*"] });
            expect(run.outputs.pool["192.0.2.1"]).to.equal("{instance-id}.dev.live.example.com");
        });

        it("adds records for tagged addresses made outside the stack, but not for its own", async () => {
            const run = await runStack("dev", {}, {
                tagged: [
                    { allocationId: "eipalloc-byoip", publicIp: "203.0.113.7", tags: { team: "live", pool: "media-dev" } },
                    { allocationId: "eipalloc-own", publicIp: "192.0.2.1", tags: { "team": "live", "pool": "media-dev", "eip-dns-binder:stack": "dev" } },
                    { allocationId: "eipalloc-other", publicIp: "203.0.113.8", tags: { team: "web" } },
                ],
            });
            expect(run.ofType(T.record).map(r => r.name)).to.have.members(["name-pool-0", "name-pool-1", "name-pool-2", "name-pool-3", "name-eipalloc-byoip"]);
            expect(run.outputs.pool["203.0.113.7"]).to.equal("203-0-113-7.dev.live.example.com");
        });
    });
});
