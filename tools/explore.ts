// `npm run explore -- --runs N [--seed S] [--trace]`: a long exploration of the
// claim protocol's interleavings. Each run is seeded (seed S+i), so any run can be
// replayed alone with `--seed <its seed> --runs 1 --trace`.
//
// `npm run explore -- --systematic [--bound K] [--scenario NAME] [--max-schedules N]`:
// every schedule of each canonical scenario with at most K preemptions (2 by default);
// `--estimate [--probes P]` only estimates how many there are. `--replay NAME:CHOICES`
// prints the trace of one schedule (CHOICES as the search reports them, e.g. 7=2,15=1).
// `--first` stops at the first schedule that breaks an invariant, `--until NAME` at the
// first that breaks that one; `--no-reduction` runs every schedule in full.
import fc from "fast-check";
import { describeFailure } from "../tests/support/explorer/property";
import { Explorer, RunResult } from "../tests/support/explorer/run";
import { planArbitrary } from "../tests/support/explorer/plan";
import { SCENARIOS, scenarioPlan, scenarioWorld } from "../tests/support/explorer/scenarios";
import { seeded } from "../tests/support/seeded";
import { DEFAULT_BOUND, estimateSchedules, replaySchedule, searchScenario } from "../tests/support/explorer/systematic";

function option(name: string, fallback: number): number {
    const at = process.argv.indexOf(`--${name}`);
    if (at < 0) return fallback;
    const value = Number(process.argv[at + 1]);
    if (!Number.isSafeInteger(value)) throw new Error(`--${name} takes a whole number, got ${process.argv[at + 1]}`);
    return value;
}

function text(name: string): string | undefined {
    const at = process.argv.indexOf(`--${name}`);
    return at < 0 ? undefined : process.argv[at + 1];
}

/** The systematic search over the canonical scenarios (or one), or the replay of one schedule. */
async function systematic(): Promise<void> {
    const bound = option("bound", DEFAULT_BOUND);
    const replay = text("replay");
    const explorer = await Explorer.start();
    try {
        if (replay !== undefined) {
            const colon = replay.indexOf(":");
            const [name, choices] = colon < 0 ? [replay, ""] : [replay.slice(0, colon), replay.slice(colon + 1)];
            const result = await replaySchedule(explorer, scenarioPlan(name), choices, undefined, scenarioWorld(name));
            console.log(`${name}:${choices} (${result.preemptions} preemption(s)): ${result.violations.length > 0 ? describeFailure(scenarioPlan(name), result) : `no violation\n${result.trace}`}`);
            if (result.violations.length > 0) process.exitCode = 1;
            return;
        }
        const names = text("scenario") === undefined ? Object.keys(SCENARIOS) : [text("scenario")!];
        for (const name of names) {
            const plan = scenarioPlan(name);
            if (process.argv.includes("--estimate")) {
                const started = Date.now();
                const estimate = await estimateSchedules(scheduler => explorer.run(plan, scheduler, { systematic: scenarioWorld(name) }), bound, option("probes", 10), seeded(1));
                const perRun = (Date.now() - started) / estimate.runs;
                console.log(`${name}, bound ${bound}: about ${Math.round(estimate.schedules)} schedules (${estimate.runs} runs sampled, ${perRun.toFixed(0)} ms each: about ${(estimate.schedules * perRun / 60_000).toFixed(0)} min)`);
                continue;
            }
            const report = await searchScenario(explorer, plan, {
                bound, world: scenarioWorld(name), maxSchedules: option("max-schedules", Number.MAX_SAFE_INTEGER),
                reduce: !process.argv.includes("--no-reduction"), stopOnViolation: process.argv.includes("--first"), until: text("until"),
            });
            console.log(`${name} (${SCENARIOS[name].description}), bound ${bound}: ${report.schedules} schedules (${report.covered} ended at a state explored before), ${report.complete ? "complete" : "NOT complete (stopped at --max-schedules or at the first violation)"}, ${(report.ms / 1000).toFixed(1)} s, at most ${report.maxSteps} steps`);
            if (report.violations.size === 0) console.log("  violations: none");
            for (const [invariant, { schedules, choices }] of report.violations) {
                console.log(`  ${invariant}: ${schedules} schedule(s); replay: npm run explore -- --replay ${name}:${choices}`);
                process.exitCode = 1;
            }
        }
    } finally {
        await explorer.close();
    }
}

async function main(): Promise<void> {
    if (process.argv.includes("--systematic") || process.argv.includes("--replay")) return systematic();
    const runs = option("runs", 200);
    const firstSeed = option("seed", Date.now() % 1_000_000_000);
    const showTrace = process.argv.includes("--trace");
    const explorer = await Explorer.start();
    const byInvariant = new Map<string, number>();
    const converged = new Map<string, number>();
    const failedSeeds: number[] = [];
    let longest: RunResult | undefined;
    let longestSeed = firstSeed;
    let actors = 0;
    let fewestActors = Infinity;
    let steps = 0;
    const outcomes = new Map<string, number>();
    const started = Date.now();
    try {
        for (let i = 0; i < runs; i++) {
            const seed = firstSeed + i;
            let last: RunResult | undefined;
            await fc.check(fc.asyncProperty(planArbitrary, fc.scheduler(), async (plan, scheduler) => {
                last = await explorer.run(plan, scheduler);
                if (showTrace || last.violations.length > 0) console.log(`seed ${seed}: ${last.violations.length > 0 ? describeFailure(plan, last) : `no violation\n${last.trace}`}`);
            }), { seed, numRuns: 1 });
            const result = last!;
            for (const v of result.violations) byInvariant.set(v.invariant, (byInvariant.get(v.invariant) ?? 0) + 1);
            if (result.violations.length > 0) failedSeeds.push(seed);
            const key = result.convergedAfter === undefined ? "never (violation)" : `${result.convergedAfter} reconciler run(s)`;
            converged.set(key, (converged.get(key) ?? 0) + 1);
            if (!longest || result.steps > longest.steps) {
                longest = result;
                longestSeed = seed;
            }
            actors += result.actors;
            fewestActors = Math.min(fewestActors, result.actors);
            steps += result.steps;
            for (const [outcome, n] of Object.entries(result.outcomes)) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + n);
            if ((i + 1) % 100 === 0) console.error(`${i + 1}/${runs} runs, ${failedSeeds.length} with violations, ${((Date.now() - started) / 1000).toFixed(0)} s`);
        }
    } finally {
        await explorer.close();
    }
    console.log(`runs: ${runs} (seeds ${firstSeed}–${firstSeed + runs - 1}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`actors per run: ${(actors / runs).toFixed(1)} on average, ${fewestActors} at least; steps per run: ${(steps / runs).toFixed(1)} on average, ${longest?.steps ?? 0} at most (seed ${longestSeed})`);
    console.log(`violations by invariant: ${byInvariant.size === 0 ? "none" : [...byInvariant].map(([k, n]) => `${k} ${n}`).join(", ")}`);
    console.log(`runs with violations: ${failedSeeds.length}${failedSeeds.length ? ` (seeds ${failedSeeds.slice(0, 20).join(", ")}${failedSeeds.length > 20 ? ", …" : ""})` : ""}`);
    console.log(`converged after: ${[...converged].sort().map(([k, n]) => `${k}: ${n}`).join(", ")}`);
    console.log(`outcomes the binder logged: ${[...outcomes].sort().map(([k, n]) => `${k} ${n}`).join(", ")}`);
    if (failedSeeds.length > 0) process.exitCode = 1;
}

main().catch(err => {
    console.error(err);
    process.exit(2);
});
