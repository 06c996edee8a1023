// Runs one binder through one scenario in a fresh world and measures it.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { createEventHandler } from "../binder";
import { DnsRecordsMode } from "../binder/config";
import { seeded } from "../tests/support/seeded";
import { stateChange } from "../tests/support/world";
import { audit } from "./audit";
import { BackgroundLoad } from "./buckets";
import { FaultKind, injectFaults } from "./faults";
import { Freezer } from "./freeze";
import { Handler, Invocation, LambdaOptions, LambdaSim } from "./lambda";
import { Captured, captureLogs } from "./logs";
import { runHookStorm } from "./hooks";
import { Figures, figures } from "./metrics";
import { createNaiveHandler } from "./naive";
import { reconcileAlongside, ReconcilerRuns } from "./reconciler";
import { BenchWorld } from "./world";

/** The hooks: workers bind themselves through the node hooks (hooks.ts), no events. */
export type Binder = "ours" | "naive" | "hooks";

export interface Scenario {
    name: string;
    launches: number;
    pool: number;
    dnsRecords: DnsRecordsMode;
    faults: FaultKind;
    /** Share of calls that fail, when faults are on. */
    faultRate: number;
    /** Our binder's maximum concurrency (the naive one runs at RunSettings.concurrency). */
    concurrency: number;
    binders: Binder[];
    /** Ours: run the reconciler this often (ms) during the burst; 0 for never. */
    reconcileEveryMs: number;
    /** Other clients drawing on the shared API buckets during the burst. */
    background: BackgroundLoad;
}

export interface RunSettings {
    latencyMs: number;
    timeoutMs: number;
    seed: number;
    /** The naive binder: Lambda concurrency, and the waits before async redeliveries. */
    concurrency: number;
    retryDelaysMs: number[];
    /** Ours: the event queue's mapping and redrive policy. */
    batchSize: number;
    visibilityTimeoutMs: number;
    maxReceives: number;
}

const HANDLERS: Record<Exclude<Binder, "hooks">, () => Handler> = { ours: createEventHandler, naive: createNaiveHandler };

/** Ours is fed by the event queue; the naive binder is invoked once per event, as in the original sample. */
function lambdaOptions(scenario: Scenario, binder: Exclude<Binder, "hooks">, run: RunSettings): LambdaOptions {
    const { timeoutMs } = run;
    return binder === "ours"
        ? { mode: "queue", maxConcurrency: scenario.concurrency, batchSize: run.batchSize, visibilityTimeoutMs: run.visibilityTimeoutMs, maxReceives: run.maxReceives, timeoutMs }
        : { mode: "async", concurrency: run.concurrency, retryDelaysMs: run.retryDelaysMs, timeoutMs };
}

export async function runScenario(scenario: Scenario, binder: Binder, run: RunSettings): Promise<Figures> {
    if (binder === "hooks") return runHookStorm({ ...scenario, latencyMs: run.latencyMs, seed: run.seed });
    const world = new BenchWorld({ launches: scenario.launches, pool: scenario.pool, dnsRecords: scenario.dnsRecords, latencyMs: run.latencyMs, background: scenario.background });
    const freezer = new Freezer();
    await freezer.start();
    await world.open();
    try {
        injectFaults(world.gateway, scenario.faults, scenario.faultRate, seeded(run.seed));
        // Handlers read their settings and endpoint from the environment at cold start, as in Lambda.
        Object.assign(process.env, world.environment());
        const events = world.instanceIds.map(id => stateChange(id, "running"));
        const lambda = new LambdaSim(world.clock, HANDLERS[binder], lambdaOptions(scenario, binder, run), freezer);
        world.sqs.accepts = (handle, seconds) => lambda.changeVisibility(handle, seconds);

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
            const reconciling = binder === "ours" && scenario.reconcileEveryMs > 0 ? reconcileAlongside(scenario.reconcileEveryMs) : undefined;
            invocations = await lambda.run(events);
            reconciler = await reconciling?.stop();
        } finally {
            captured = stopCapture();
            loop.disable();
        }
        const seconds = (performance.now() - began) / 1000;
        const used = process.threadCpuUsage(cpu);
        return figures({
            world,
            invocations,
            coldStarts: lambda.coldStarts,
            logs: captured.logs,
            metricDocuments: captured.metricDocuments,
            audit: await audit(world),
            faults: scenario.faults,
            reconciler,
            harness: {
                seconds,
                skippedSeconds: (world.clock.skippedMs - skippedBefore) / 1000,
                cpuShare: (used.user + used.system) / 1e6 / seconds,
                loopDelayP99Ms: loop.percentile(99) / 1e6,
            },
        });
    } finally {
        await world.close();
        await freezer.stop();
    }
}
