// The dev stack's program, run under Pulumi mocks as `pulumi preview` would run it
// (tools/mock-stack.ts), and what the demo takes from it: the stack output the
// operator CLI reads, the pool addresses with the tags and names the program gives
// them, and the event queue's mapping as the program declares it.
import { DEFAULT_POOL } from "../../infra/pools";
import { runStack, StackRun } from "../mock-stack";

/** What `pulumi stack output --json` prints, as far as the demo reads it. */
export interface StackOutput {
    binderSettings: Record<string, string>;
    /** Pool address → its DNS name. */
    pool: Record<string, string>;
    [output: string]: unknown;
}

/** The event queue's mapping to the binder, the queue's redrive policy and the function's timeout. */
export interface MappingOptions {
    batchSize: number;
    maxConcurrency: number;
    visibilityTimeoutMs: number;
    maxReceives: number;
    timeoutMs: number;
}

export interface PoolAddress {
    publicIp: string;
    tags: Record<string, string>;
}

export interface DemoStack {
    output: StackOutput;
    /** Resources the program declared. */
    resources: number;
    addresses: PoolAddress[];
    /** The per-address A records the program creates (none per binding). */
    records: { name: string; ttl: number; values: string[] }[];
    mapping: MappingOptions;
}

/** The one declared resource of `type` named `name`. */
function named(run: StackRun, type: string, name: string): Record<string, any> {
    const found = run.ofType(type).filter(r => r.name === name);
    if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
    return found[0].inputs;
}

/** Runs Pulumi.<stack>.yaml's program with `overrides` under mocks. */
export async function previewStack(name: string, overrides: Record<string, unknown>): Promise<DemoStack> {
    const stack = await runStack(name, overrides);
    // The stack file's keys make one pool, the top-level one: its resources, by their names within it.
    const run = stack.pool(DEFAULT_POOL);
    const output = run.outputs as StackOutput;
    // The program allocates the pool in order and exports it in that order (nothing is tagged outside the mocked account).
    const ips = Object.keys(output.pool);
    const eips = run.ofType("aws:ec2/eip:Eip");
    if (eips.length !== ips.length) throw new Error(`the stack allocates ${eips.length} addresses but exports ${ips.length}`);
    const queue = named(run, "aws:sqs/queue:Queue", "instance-events");
    const mapping = named(run, "aws:lambda/eventSourceMapping:EventSourceMapping", "instance-events");
    return {
        output,
        resources: stack.resources.length,
        addresses: eips.map((eip, i) => ({ publicIp: ips[i], tags: eip.inputs.tags })),
        records: run.ofType("aws:route53/record:Record").map(({ inputs }) => ({ name: inputs.name, ttl: inputs.ttl, values: inputs.records })),
        mapping: {
            batchSize: mapping.batchSize,
            maxConcurrency: mapping.scalingConfig.maximumConcurrency,
            visibilityTimeoutMs: queue.visibilityTimeoutSeconds * 1000,
            maxReceives: JSON.parse(queue.redrivePolicy).maxReceiveCount,
            timeoutMs: named(run, "aws:lambda/function:Function", "binder").timeout * 1000,
        },
    };
}
