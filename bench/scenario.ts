// Runs one binder through one scenario in a fresh world and measures it: a burst
// of launches, or (replacement.ts, spot.ts) a fleet bound first and then replaced
// or reclaimed while the binder runs.
import { DnsRecordsMode } from "../binder/config";
import { seeded } from "../tests/support/seeded";
import { stateChange } from "../tests/support/world";
import { audit } from "./audit";
import { BackgroundLoad } from "./buckets";
import { FaultKind, injectFaults } from "./faults";
import { Freezer } from "./freeze";
import { measure, newLambda, ScenarioRun } from "./measure";
import { runHookStorm } from "./hooks";
import { Figures, figures } from "./metrics";
import { DisruptionTiming, runReplacement } from "./replacement";
import { runSpotReclaim } from "./spot";
import { BenchWorld } from "./world";

/** Ours; ours with hand-over off (baseline.ts, the replacement scenarios' baseline); the original sample's approach; workers binding themselves through the node hooks (hooks.ts), no events. */
export type Binder = "ours" | "no-handover" | "naive" | "hooks";
/** The binders that events reach through Lambda. */
export type EventBinder = Exclude<Binder, "hooks">;

/** A burst of launches; Karpenter replacing a bound fleet; Spot reclaiming one. */
export type ScenarioKind = "burst" | "replacement" | "spot-reclaim";

export interface Scenario {
    name: string;
    kind: ScenarioKind;
    /** The burst's launches; for the other kinds, the fleet (bound before the measured phase). */
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
    /** spot-reclaim: the warnings are sent evenly over this many ms (0: all at once). */
    warningSpreadMs?: number;
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
    /** The replacement and spot-reclaim scenarios' timing (Karpenter's and EC2's). */
    disruption: DisruptionTiming;
}

const RUNNERS: Record<ScenarioKind, (s: ScenarioRun) => Promise<Figures>> = { "burst": runBurst, "replacement": runReplacement, "spot-reclaim": runSpotReclaim };

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
        return await RUNNERS[scenario.kind]({ world, scenario, binder, run, freezer });
    } finally {
        await world.close();
        await freezer.stop();
    }
}

/** Every launch's running event at once; ours with the reconciler beside it when the scenario says. */
async function runBurst(s: ScenarioRun): Promise<Figures> {
    const { world, scenario, binder } = s;
    const events = world.instanceIds.map(id => stateChange(id, "running"));
    const lambda = newLambda(s);
    const measured = await measure(world, () => lambda.run(events), binder === "ours" ? scenario.reconcileEveryMs : 0);
    return figures({ world, ...measured, coldStarts: lambda.coldStarts, audit: await audit(world), faults: scenario.faults });
}
