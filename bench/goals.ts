// The goals, judged on our binder's figures.
import { ScenarioResult } from "./table";

export interface Goal {
    goal: string;
    value: string;
    met: boolean;
}

const worst = (values: number[]) => (values.length ? Math.max(...values) : NaN);

export function judge(results: ScenarioResult[]): Goal[] {
    const ours = results.flatMap(r => (r.figures.ours ? [{ scenario: r.scenario, floor: r.floorSeconds, x: r.figures.ours }] : []));
    const burst = ours.find(o => o.scenario.name === "per-address-500");
    const perAddressClean = ours.filter(o => o.scenario.dnsRecords === "per-address" && o.scenario.faults === "none");
    const ratio = burst ? burst.x.timeToLastBound / burst.floor : NaN;
    const calls = worst(perAddressClean.map(o => o.x.callsPerBindTotal));
    const conflicts = worst(ours.map(o => o.x.conflictsPerBind));
    const duplicates = ours.reduce((n, o) => n + o.x.duplicates, 0);
    const leaks = ours.reduce((n, o) => n + o.x.leaks + o.x.audit.staleRows, 0);
    return [
        { goal: "per-address-500: time to all bound / floor <= 1.5", value: burst ? `${ratio.toFixed(2)} (${burst.x.timeToLastBound.toFixed(1)} s / ${burst.floor.toFixed(1)} s${burst.x.allBound ? "" : ", not all bound"})` : "not run", met: ratio <= 1.5 && !!burst?.x.allBound },
        { goal: "0 duplicates (every scenario)", value: String(duplicates), met: duplicates === 0 },
        { goal: "0 leaks or stale rows (every scenario)", value: String(leaks), met: leaks === 0 },
        { goal: "<= 5 AWS calls per bind, per-address (worst fault-free scenario)", value: Number.isNaN(calls) ? "not run" : calls.toFixed(2), met: calls <= 5 },
        { goal: "<= 0.2 claim conflicts per bind (worst scenario)", value: Number.isNaN(conflicts) ? "not run" : conflicts.toFixed(2), met: conflicts <= 0.2 },
    ];
}
