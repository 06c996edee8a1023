// The goals, judged on our binder's figures.
import { ScenarioResult } from "./table";

export interface Goal {
    goal: string;
    value: string;
    met: boolean;
}

/**
 * The issues' "done when", judged as they are written: per address on the
 * 500-launch burst, per binding on the 200-launch one, and duplicates and leaks,
 * which must be 0 in every scenario. The worst calls and conflicts per bind
 * elsewhere are in the table, not goals.
 */
export function judge(results: ScenarioResult[]): Goal[] {
    const ours = results.flatMap(r => (r.figures.ours ? [{ scenario: r.scenario, floor: r.floorSeconds, x: r.figures.ours }] : []));
    const burst = ours.find(o => o.scenario.name === "per-address-500");
    const ratio = burst ? burst.x.timeToLastBound / burst.floor : NaN;
    const calls = burst ? burst.x.callsPerBindTotal : NaN;
    const conflicts = burst ? burst.x.conflictsPerBind : NaN;
    const named = ours.find(o => o.scenario.name === "per-binding-200");
    const namedRatio = named ? named.x.timeToLastBound / named.floor : NaN;
    const route53 = named ? named.x.route53PerBind : NaN;
    const duplicates = ours.reduce((n, o) => n + o.x.duplicates, 0);
    const leaks = ours.reduce((n, o) => n + o.x.leaks + o.x.audit.staleRows, 0);
    const figure = (value: number) => (Number.isNaN(value) ? "not run" : value.toFixed(2));
    return [
        { goal: "per-address-500: time to all bound / floor <= 1.5", value: burst ? `${ratio.toFixed(2)} (${burst.x.timeToLastBound.toFixed(1)} s / ${burst.floor.toFixed(1)} s${burst.x.allBound ? "" : ", not all bound"})` : "not run", met: ratio <= 1.5 && !!burst?.x.allBound },
        { goal: "per-address-500: <= 5 AWS calls per bind", value: figure(calls), met: calls <= 5 },
        { goal: "per-address-500: <= 0.2 claim conflicts per bind", value: figure(conflicts), met: conflicts <= 0.2 },
        { goal: "per-binding-200: time to all bound / floor <= 1.3", value: named ? `${namedRatio.toFixed(2)} (${named.x.timeToLastBound.toFixed(1)} s / ${named.floor.toFixed(1)} s${named.x.allBound ? "" : ", not all bound"})` : "not run", met: namedRatio <= 1.3 && !!named?.x.allBound },
        { goal: "per-binding-200: <= 0.3 Route53 requests per bind", value: figure(route53), met: route53 <= 0.3 },
        { goal: "0 duplicates (every scenario)", value: String(duplicates), met: duplicates === 0 },
        { goal: "0 leaks or stale rows (every scenario)", value: String(leaks), met: leaks === 0 },
    ];
}
