// `npm run explore -- --runs N [--seed S] [--trace]`: a long exploration of the
// claim protocol's interleavings. Each run is seeded (seed S+i), so any run can be
// replayed alone with `--seed <its seed> --runs 1 --trace`.
import fc from "fast-check";
import { describeFailure } from "../tests/support/explorer/property";
import { Explorer, RunResult } from "../tests/support/explorer/run";
import { planArbitrary } from "../tests/support/explorer/plan";

function option(name: string, fallback: number): number {
    const at = process.argv.indexOf(`--${name}`);
    if (at < 0) return fallback;
    const value = Number(process.argv[at + 1]);
    if (!Number.isSafeInteger(value)) throw new Error(`--${name} takes a whole number, got ${process.argv[at + 1]}`);
    return value;
}

async function main(): Promise<void> {
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
