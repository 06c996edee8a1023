// The node hooks' boot storm next to the same storm through events: how long until
// every worker had its 200, what the workers were answered, and what it cost.
import { ScenarioResult } from "./table";

export function hooksReport(results: ScenarioResult[]): string | undefined {
    const hooks = results.find(r => r.scenario.name === "hooks-200")?.figures.hooks;
    if (!hooks?.hooks) return undefined;
    const events = results.find(r => r.scenario.name === "per-address-200")?.figures.ours;
    const answers = Object.entries(hooks.hooks.answers).sort(([a], [b]) => a.localeCompare(b)).map(([answer, n]) => `${answer}: ${n}`).join(", ");
    return [
        `hooks-200: every worker answered 200 within ${hooks.timeToLastBound.toFixed(1)} s (p50 ${hooks.launchToBound.p50.toFixed(1)} s), ${hooks.bound}/200 bound;`
            + ` ${hooks.hooks.calls} calls (${answers}), ${hooks.hooks.environments} environments; ${hooks.callsPerBindTotal.toFixed(2)} AWS calls per bind,`
            + ` ${hooks.throttledTotal} throttled`,
        events
            ? `per-address-200 (the same storm through events): last bound at ${events.timeToLastBound.toFixed(1)} s (p50 ${events.launchToBound.p50.toFixed(1)} s); ${events.callsPerBindTotal.toFixed(2)} AWS calls per bind, ${events.throttledTotal} throttled`
            : "per-address-200 (the same storm through events): not run",
    ].join("\n");
}
