// What a stack run under mocks declares that authorization depends on: each
// function's generated policy, the queue policies, and the ARNs, tags and names
// the functions' calls name. Taken from the declared resources and the stack's
// config, not from the policies, so a policy is judged against the stack.
import { DnsRecordsMode, parseSettings, Tags } from "../../../binder/config";
import { renderName } from "../../../binder/naming";
import { OWNER_TAG, poolOwner, STACK_TAG } from "../../../binder/schema";
import { FunctionRole } from "../../../infra/policy";
import { DEFAULT_POOL } from "../../../infra/pools";
import { runStack, StackRun, ZONE_ID } from "../../../tools/mock-stack";
import { stackLookup } from "../config";
import { NODE_ROLE_ARN } from "../world";
import { ACCOUNT, PolicyDocument } from "./simulate";

export const REGION = "us-west-2";
/** Every function; stackFacts turns the node hooks on, so the hook function is among them. */
export const FUNCTIONS: FunctionRole[] = ["binder", "reconciler", "hook"];

export interface StackFacts {
    stack: string;
    mode: DnsRecordsMode;
    /** Each function's inline policy, as the stack generates it. */
    policies: Record<FunctionRole, PolicyDocument>;
    /** Queue policies by queue ARN. */
    queuePolicies: Record<string, PolicyDocument>;
    tables: { servers: string; claims: string };
    logGroups: Record<FunctionRole, string>;
    zoneId: string;
    queues: { events: string; failed: string; undelivered: string };
    stateRule: string;
    /** The rules of the drain signals the stack's drainOn chooses, which send to the event queue too. */
    drainRules: string[];
    /** The reconciler's schedule: a rule of the stack's own that must not send to the event queue. */
    scheduleRule: string;
    /** Tags a pool address carries when this stack allocated it. */
    poolAddressTags: Tags;
    addressTags: Tags;
    instanceTags: Tags;
    /** The cluster's VPC ARNs from vpcIds (none when it is not set). */
    vpcArns: string[];
    /** The hook function's ARN, and its resource policy as the stack writes it. */
    hookFunction: string;
    hookPolicy: PolicyDocument;
    /** The binder function's ARN, and its resource policy (none: no statement). */
    binderFunction: string;
    binderInvokePolicy: PolicyDocument;
    /** The node roles the stack lets call the hooks. */
    nodeRoleArns: string[];
    /** A name the template gives a binding, as Route53 normalizes it. */
    recordName: string;
    suffix: string;
    hostedZone: string;
}

const resource = (run: StackRun, type: string, name: string) => {
    const found = run.ofType(type).find(r => r.name === name);
    if (!found) throw new Error(`the stack declares no ${type} named ${name}`);
    return found;
};

/** The ARN of the rule an EventBridge target belongs to. */
const ruleArn = (target: { inputs: Record<string, any> }) => `arn:aws:events:${REGION}:${ACCOUNT}:rule/${target.inputs.rule}`;

/** Runs `stack` under mocks in `mode`, with the node hooks on, and gathers what its functions' calls are authorized against. */
export async function stackFacts(stack: string, mode: DnsRecordsMode, overrides: Record<string, unknown> = {}): Promise<StackFacts> {
    const config = { dnsRecords: mode, nodeRoleArns: [NODE_ROLE_ARN], ...overrides };
    const settings = parseSettings(stackLookup(stack, config));
    // The stack file's one pool is the top-level one; its resources are named within it.
    const run = (await runStack(stack, config)).pool(DEFAULT_POOL);
    const policyOf = (role: FunctionRole) => JSON.parse(resource(run, "aws:iam/rolePolicy:RolePolicy", role).inputs.policy) as PolicyDocument;
    const arnOfQueue = (url: string) => `arn:aws:sqs:${REGION}:${ACCOUNT}:${url.split("/").pop()}`;
    const queues = {
        events: arnOfQueue(run.outputs.eventQueue),
        failed: arnOfQueue(run.outputs.failedEventsQueue),
        undelivered: arnOfQueue(run.outputs.undeliveredEventsQueue),
    };
    const queuePolicies: Record<string, PolicyDocument> = {};
    for (const [key, name] of [["events", "instance-events"], ["undelivered", "undelivered-events"]] as const) {
        queuePolicies[queues[key]] = JSON.parse(resource(run, "aws:sqs/queuePolicy:QueuePolicy", name).inputs.policy);
    }
    const table = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
    const logGroup = (role: FunctionRole) =>
        `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${resource(run, "aws:lambda/function:Function", role).inputs.loggingConfig.logGroup}`;
    const hookName = resource(run, "aws:lambda/functionUrl:FunctionUrl", "hook").inputs.functionName;
    const hookFunction = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${hookName}`;
    const resourcePolicy = (name: string): PolicyDocument | undefined => {
        const found = run.ofType("aws:lambda/resourcePolicy:ResourcePolicy").find(r => r.name === name);
        return found && JSON.parse(found.inputs.policy);
    };
    return {
        stack,
        mode,
        policies: { binder: policyOf("binder"), reconciler: policyOf("reconciler"), hook: policyOf("hook") },
        queuePolicies,
        tables: { servers: table(run.outputs.serversTable), claims: table(run.outputs.claimsTable) },
        logGroups: { binder: logGroup("binder"), reconciler: logGroup("reconciler"), hook: logGroup("hook") },
        zoneId: ZONE_ID,
        queues,
        stateRule: ruleArn(resource(run, "aws:cloudwatch/eventTarget:EventTarget", "instance-state")),
        drainRules: run.ofType("aws:cloudwatch/eventTarget:EventTarget").filter(t => t.name.startsWith("drain-")).map(ruleArn),
        scheduleRule: ruleArn(resource(run, "aws:cloudwatch/eventTarget:EventTarget", "reconcile")),
        poolAddressTags: { ...settings.addressTags, [STACK_TAG]: stack, [OWNER_TAG]: poolOwner(stack, settings.addressTags) },
        addressTags: settings.addressTags,
        instanceTags: settings.instanceTags,
        vpcArns: (settings.vpcIds ?? []).map(id => `arn:aws:ec2:${REGION}:${ACCOUNT}:vpc/${id}`),
        hookFunction,
        hookPolicy: resourcePolicy("hook-invokers") ?? { Version: "2012-10-17", Statement: [] },
        // The event source mapping names the binder by its ARN.
        binderFunction: resource(run, "aws:lambda/eventSourceMapping:EventSourceMapping", "instance-events").inputs.functionName,
        binderInvokePolicy: resourcePolicy("binder-invokers") ?? { Version: "2012-10-17", Statement: [] },
        nodeRoleArns: settings.nodeRoleArns ?? [],
        recordName: renderName(settings.dnsName, { ip: "192.0.2.1", suffix: settings.suffix, instanceId: "i-0123456789abcdef0" }),
        suffix: settings.suffix,
        hostedZone: settings.hostedZone,
    };
}
