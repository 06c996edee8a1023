// Running a binder in a scenario's world: its Lambda (fed by the queue or
// invoked per event), a measured phase with the harness's own health and the
// binder's logs recorded, and an unmeasured one that binds a fleet first.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { createEventHandler } from "../binder";
import { stateChange } from "../tests/support/world";
import { createNoHandoverHandler } from "./baseline";
import { Freezer } from "./freeze";
import { Handler, Invocation, LambdaOptions, LambdaSim } from "./lambda";
import { Captured, captureLogs, LogLine } from "./logs";
import { Figures } from "./metrics";
import { createNaiveHandler } from "./naive";
import { reconcileAlongside, ReconcilerRuns } from "./reconciler";
import type { EventBinder, RunSettings, Scenario } from "./definitions";
import { BenchWorld } from "./world";

/** One binder in one scenario's world, open and with its environment set. */
export interface ScenarioRun {
    world: BenchWorld;
    scenario: Scenario;
    binder: EventBinder;
    run: RunSettings;
    freezer: Freezer;
}

const HANDLERS: Record<EventBinder, () => Handler> = { "ours": createEventHandler, "no-handover": createNoHandoverHandler, "naive": createNaiveHandler };

/** Ours (with hand-over or without) is fed by the event queue; the naive binder is invoked once per event, as in the original sample. */
function lambdaOptions({ scenario, binder, run }: ScenarioRun): LambdaOptions {
    const { timeoutMs } = run;
    return binder === "naive"
        ? { mode: "async", concurrency: run.concurrency, retryDelaysMs: run.retryDelaysMs, timeoutMs }
        : { mode: "queue", maxConcurrency: scenario.concurrency, batchSize: run.batchSize, visibilityTimeoutMs: run.visibilityTimeoutMs, maxReceives: run.maxReceives, timeoutMs };
}

/** A fresh Lambda (cold containers) for the binder, taking the visibility changes its handler makes through the SQS stand-in. */
export function newLambda(s: ScenarioRun): LambdaSim {
    const lambda = new LambdaSim(s.world.clock, HANDLERS[s.binder], lambdaOptions(s), s.freezer);
    s.world.sqs.accepts = (handle, seconds) => lambda.changeVisibility(handle, seconds);
    return lambda;
}

/** What a measured phase saw, besides the world's own record (calls, buckets, EC2). */
export interface Measured {
    invocations: Invocation[];
    logs: LogLine[];
    metricDocuments: number;
    reconciler?: ReconcilerRuns;
    harness: Figures["harness"];
}

/**
 * Runs `body` (a Lambda's run) as the measured phase: the binder's log lines are
 * captured, the reconciler runs beside it every `reconcileEveryMs` if that is
 * above 0, and the thread's CPU and event-loop delay show whether the harness kept up.
 */
export async function measure(world: BenchWorld, body: () => Promise<Invocation[]>, reconcileEveryMs = 0): Promise<Measured> {
    const loop = monitorEventLoopDelay({ resolution: 10 });
    const cpu = process.threadCpuUsage();
    const began = performance.now();
    const skippedBefore = world.clock.skippedMs;
    loop.enable();
    const stopCapture = captureLogs();
    let invocations: Invocation[];
    let captured: Captured;
    let reconciler: ReconcilerRuns | undefined;
    try {
        const reconciling = reconcileEveryMs > 0 ? reconcileAlongside(reconcileEveryMs) : undefined;
        invocations = await body();
        reconciler = await reconciling?.stop();
    } finally {
        captured = stopCapture();
        loop.disable();
    }
    const seconds = (performance.now() - began) / 1000;
    const used = process.threadCpuUsage(cpu);
    return {
        invocations,
        logs: captured.logs,
        metricDocuments: captured.metricDocuments,
        reconciler,
        harness: {
            seconds,
            skippedSeconds: (world.clock.skippedMs - skippedBefore) / 1000,
            cpuShare: (used.user + used.system) / 1e6 / seconds,
            loopDelayP99Ms: loop.percentile(99) / 1e6,
        },
    };
}

/**
 * Setup, not measured: a burst of the fleet's launches through the binder's own
 * Lambda, which must end with every worker bound (the pool is the fleet's size).
 * Its calls are forgotten, so that the scenario counts only its own.
 */
export async function bindFleet(s: ScenarioRun): Promise<void> {
    const { world } = s;
    const stopCapture = captureLogs();
    try {
        await newLambda(s).run(world.instanceIds.map(id => stateChange(id, "running")));
    } finally {
        stopCapture();
    }
    const bound = new Set(world.ec2.addresses().flatMap(a => a.association?.instanceId ?? []));
    const missing = world.instanceIds.filter(id => !bound.has(id)).length;
    if (missing > 0) throw new Error(`setup: ${missing} of the fleet's ${world.instanceIds.length} workers were not bound`);
    world.gateway.clearCalls();
    world.throttler.throttled.clear();
}
