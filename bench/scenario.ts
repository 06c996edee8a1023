// Runs one binder through one scenario in a fresh world and measures it.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { createEventHandler, EventHandler } from "../binder";
import { DnsRecordsMode } from "../binder/config";
import { stateChange } from "../tests/support/world";
import { audit } from "./audit";
import { FaultKind, injectFaults, seeded } from "./faults";
import { Freezer } from "./freeze";
import { Invocation, LambdaSim } from "./lambda";
import { Captured, captureLogs } from "./logs";
import { Figures, figures } from "./metrics";
import { createNaiveHandler } from "./naive";
import { BenchWorld } from "./world";

export type Binder = "ours" | "naive";

export interface Scenario {
    name: string;
    launches: number;
    pool: number;
    dnsRecords: DnsRecordsMode;
    faults: FaultKind;
    /** Share of calls that fail, when faults are on. */
    faultRate: number;
    concurrency: number;
    binders: Binder[];
}

export interface RunSettings {
    latencyMs: number;
    retryDelaysMs: number[];
    timeoutMs: number;
    seed: number;
}

const HANDLERS: Record<Binder, () => EventHandler> = { ours: createEventHandler, naive: createNaiveHandler };

export async function runScenario(scenario: Scenario, binder: Binder, run: RunSettings): Promise<Figures> {
    const world = new BenchWorld({ launches: scenario.launches, pool: scenario.pool, dnsRecords: scenario.dnsRecords, latencyMs: run.latencyMs });
    const freezer = new Freezer();
    await freezer.start();
    await world.open();
    try {
        injectFaults(world.gateway, scenario.faults, scenario.faultRate, seeded(run.seed));
        // Handlers read their settings and endpoint from the environment at cold start, as in Lambda.
        Object.assign(process.env, world.environment());
        const events = world.instanceIds.map(id => stateChange(id, "running"));
        const lambda = new LambdaSim(world.clock, HANDLERS[binder], {
            concurrency: scenario.concurrency,
            retryDelaysMs: run.retryDelaysMs,
            timeoutMs: run.timeoutMs,
        }, freezer);

        const loop = monitorEventLoopDelay({ resolution: 10 });
        const cpu = process.threadCpuUsage();
        const began = performance.now();
        const skippedBefore = world.clock.skippedMs;
        loop.enable();
        const stopCapture = captureLogs();
        let invocations: Invocation[];
        let captured: Captured;
        try {
            invocations = await lambda.run(events);
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
