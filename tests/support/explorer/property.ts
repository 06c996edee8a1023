// The exploration as a fast-check property: a plan and a schedule per run, the
// run's violations as its failure, with the trace that shows how it got there.
import fc from "fast-check";
import { Plan, planArbitrary } from "./plan";
import { Explorer, RunOptions, RunResult } from "./run";

/** A run that broke an invariant: its violations, one per line, then the trace. */
export function describeFailure(plan: Plan, result: RunResult): string {
    const violations = result.violations.map(v => `  ${v.invariant}${v.step === undefined ? " (at the end)" : ` (after step ${v.step})`}: ${v.detail}`);
    return [`${result.violations.length} invariant violation(s):`, ...violations, `plan: ${JSON.stringify(plan)}`, "trace:", result.trace].join("\n");
}

/** The property: every run keeps every invariant and converges within two reconciler runs. */
export function explorationProperty(explorer: Explorer, onRun: (plan: Plan, result: RunResult) => void = () => {}, options: RunOptions = {}) {
    return fc.asyncProperty(planArbitrary, fc.scheduler(), async (plan, scheduler) => {
        const result = await explorer.run(plan, scheduler, options);
        onRun(plan, result);
        if (result.violations.length > 0) throw new Error(describeFailure(plan, result));
    });
}
