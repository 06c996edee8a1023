// The goals, judged on our binder's figures.
import { ScenarioResult } from "./table";

export interface Goal {
    goal: string;
    value: string;
    met: boolean;
}

/**
 * The "done when", judged as it is written: on the 500-launch burst,
 * except duplicates and leaks, which must be 0 in every scenario. The worst
 * calls and conflicts per bind elsewhere are in the table, not goals.
 */
export function judge(results: ScenarioResult[]): Goal[] {
    const ours = results.flatMap(r => (r.figures.ours ? [{ scenario: r.scenario, floor: r.floorSeconds, x: r.figures.ours }] : []));
    const burst = ours.find(o => o.scenario.name === "per-address-500");
    const ratio = burst ? burst.x.timeToLastBound / burst.floor : NaN;
    const calls = burst ? burst.x.callsPerBindTotal : NaN;
    const conflicts = burst ? burst.x.conflictsPerBind : NaN;
    const duplicates = ours.reduce((n, o) => n + o.x.duplicates, 0);
    const leaks = ours.reduce((n, o) => n + o.x.leaks + o.x.audit.staleRows, 0);
    const figure = (value: number) => (Number.isNaN(value) ? "not run" : value.toFixed(2));
    return [
        { goal: "per-address-500: time to all bound / floor <= 1.5", value: burst ? `${ratio.toFixed(2)} (${burst.x.timeToLastBound.toFixed(1)} s / ${burst.floor.toFixed(1)} s${burst.x.allBound ? "" : ", not all bound"})` : "not run", met: ratio <= 1.5 && !!burst?.x.allBound },
        { goal: "per-address-500: <= 5 AWS calls per bind", value: figure(calls), met: calls <= 5 },
        { goal: "per-address-500: <= 0.2 claim conflicts per bind", value: figure(conflicts), met: conflicts <= 0.2 },
        { goal: "0 duplicates (every scenario)", value: String(duplicates), met: duplicates === 0 },
        { goal: "0 leaks or stale rows (every scenario)", value: String(leaks), met: leaks === 0 },
    ];
}
