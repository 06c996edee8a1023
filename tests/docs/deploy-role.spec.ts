// The deploy role's two policies in docs/deploying.md, as written: each under the
// managed-policy size limit, and together allowing every call the Pulumi AWS provider
// makes for each resource type the stack declares, in the IAM simulator.
import { expect } from "chai";
import * as path from "path";
import { DRAIN_REASONS } from "../../binder/events";
import { runStack, StackRun } from "../../tools/mock-stack";
import { jsonBlockAfter } from "../support/iam/markdown";
import { alarmTopic, autoNamed, DOC_ACCOUNT, functionArn, functionRole, LOOKUPS, PROVIDER_CALLS } from "../support/iam/provider-calls";
import { Authorization, decide, PolicyDocument } from "../support/iam/simulate";
import { NODE_ROLE_ARN } from "../support/world";

const DOC = path.join(__dirname, "..", "..", "docs", "deploying.md");
/** A managed policy may hold 6,144 characters, whitespace not counted (IAM and STS quotas). */
const MANAGED_POLICY_LIMIT = 6144;
const DEPLOYER = `arn:aws:iam::${DOC_ACCOUNT}:role/eip-dns-binder-deploy-dev`;

describe("the deploy role's policies (docs/deploying.md)", function () {
    this.timeout(120_000);
    const policies: PolicyDocument[] = [
        jsonBlockAfter(DOC, "#### Deploy policy 1: zone, pool, tables, queues, alarms"),
        jsonBlockAfter(DOC, "#### Deploy policy 2: functions, their roles, mapping, rules, logs"),
    ];
    const allowed = (request: Authorization) => decide(DEPLOYER, request, { identity: policies });
    let run: StackRun;
    // Every drain signal on, so every rule the stack can make is covered, and the node hooks on.
    before(async () => { run = await runStack("dev", { alarmEmail: "oncall@example.com", drainOn: [...DRAIN_REASONS], nodeRoleArns: [NODE_ROLE_ARN] }); });

    it("keeps each policy under the managed-policy limit", () => {
        for (const policy of policies) expect(JSON.stringify(policy).length).to.be.below(MANAGED_POLICY_LIMIT);
    });

    it("is run against a stack with every rule: the state changes, the schedule and each drain signal", () => {
        expect(run.pool("default").ofType("aws:cloudwatch/eventRule:EventRule").map(r => r.name)).to.have.members(
            ["instance-state", "reconcile", ...DRAIN_REASONS.map(reason => `drain-${reason}`)]);
    });

    it("has the provider's calls for every resource type the dev stack declares, with alarmEmail and nodeRoleArns set", () => {
        const declared = [...new Set(run.resources.map(r => r.type))].sort();
        expect(Object.keys(PROVIDER_CALLS).sort()).to.deep.equal(declared);
    });

    it("allows every call pulumi up, refresh and destroy make for each declared resource", async () => {
        const refused: string[] = [];
        const requests = [...LOOKUPS, ...run.resources.flatMap(r => PROVIDER_CALLS[r.type](r))];
        for (const request of requests) {
            const decision = await allowed(request);
            if (decision !== "Allowed") refused.push(`${request.action} on ${request.resource}: ${decision}`);
        }
        expect(refused).to.deep.equal([]);
        expect(requests.length).to.be.at.least(100);
    });

    it("refuses what the stack never does", async () => {
        const other = { "aws:ResourceTag/eip-dns-binder:stack": "prod", "aws:ResourceTag/pool": "media" };
        const address = `arn:aws:ec2:us-west-2:${DOC_ACCOUNT}:elastic-ip/eipalloc-0123456789abcdef0`;
        const refused: Authorization[] = [
            { action: "ec2:ReleaseAddress", resource: address, context: other },
            { action: "ec2:CreateTags", resource: address, context: { ...other, "aws:TagKeys": ["pool"], "aws:RequestTag/pool": "media-dev" } },
            { action: "ec2:AllocateAddress", resource: address, context: { "aws:TagKeys": ["pool"], "aws:RequestTag/pool": "media-dev" } },
            { action: "iam:PassRole", resource: functionRole("binder"), context: { "iam:PassedToService": "ec2.amazonaws.com" } },
            { action: "iam:PassRole", resource: `arn:aws:iam::${DOC_ACCOUNT}:role/Administrator`, context: { "iam:PassedToService": "lambda.amazonaws.com" } },
            { action: "lambda:CreateEventSourceMapping", resource: "*", context: { "lambda:FunctionArn": functionArn("other") } },
            { action: "cloudwatch:PutMetricAlarm", resource: `arn:aws:cloudwatch:us-west-2:${DOC_ACCOUNT}:alarm:${autoNamed("failures")}`,
                context: { "cloudwatch:AlarmActions": [alarmTopic, "arn:aws:automate:us-west-2:ec2:terminate"] } },
            { action: "dynamodb:DeleteTable", resource: `arn:aws:dynamodb:us-west-2:${DOC_ACCOUNT}:table/orders` },
            { action: "iam:PutRolePolicy", resource: `arn:aws:iam::${DOC_ACCOUNT}:role/Administrator` },
            // Roles of other projects whose names merely contain a function's name, and the prod stack's roles.
            ...["payments-reconciler-prod", "binder-admin", "webhook-handler", "eip-dns-binder/prod/binder-1a2b3c4"].flatMap(role => [
                ...["iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRolePolicy", "iam:DeleteRole"]
                    .map(action => ({ action, resource: `arn:aws:iam::${DOC_ACCOUNT}:role/${role}` })),
                { action: "iam:PassRole", resource: `arn:aws:iam::${DOC_ACCOUNT}:role/${role}`, context: { "iam:PassedToService": "lambda.amazonaws.com" } },
            ]),
            { action: "sns:Subscribe", resource: alarmTopic, context: { "sns:Protocol": "https" } },
            { action: "events:PutRule", resource: `arn:aws:events:us-west-2:${DOC_ACCOUNT}:rule/${autoNamed("orders")}` },
            { action: "events:PutTargets", resource: `arn:aws:events:us-west-2:${DOC_ACCOUNT}:rule/${autoNamed("orders")}` },
            // A public hook URL, or invoking the hooks granted to anyone, or to another account.
            { action: "lambda:CreateFunctionUrlConfig", resource: functionArn("hook"), context: { "lambda:FunctionUrlAuthType": "NONE" } },
            { action: "lambda:UpdateFunctionUrlConfig", resource: functionArn("hook"), context: { "lambda:FunctionUrlAuthType": "NONE" } },
            { action: "lambda:AddPermission", resource: functionArn("hook"), context: { "lambda:Principal": "*", "lambda:FunctionUrlAuthType": "NONE" } },
            { action: "lambda:AddPermission", resource: functionArn("hook"), context: { "lambda:Principal": "arn:aws:iam::999999999999:role/KarpenterNodeRole" } },
            { action: "lambda:CreateFunctionUrlConfig", resource: functionArn("binder"), context: { "lambda:FunctionUrlAuthType": "AWS_IAM" } },
        ];
        for (const request of refused) expect(await allowed(request), `${request.action} ${JSON.stringify(request.context ?? {})}`).to.not.equal("Allowed");
    });
});
