// Runs one binder through one scenario in a fresh world and measures it: a burst
// of launches, or (replacement.ts, spot.ts) a fleet bound first and then replaced
// or reclaimed while the binder runs.
import { seeded } from "../tests/support/seeded";
import { stateChange } from "../tests/support/world";
import { audit } from "./audit";
import type { Binder, RunSettings, Scenario, ScenarioKind } from "./definitions";
import { injectFaults } from "./faults";
import { Freezer } from "./freeze";
import { measure, newLambda, ScenarioRun } from "./measure";
import { runHookStorm } from "./hooks";
import { Figures, figures } from "./metrics";
import { runReplacement } from "./replacement";
import { runSpotReclaim } from "./spot";
import { BenchWorld } from "./world";

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
