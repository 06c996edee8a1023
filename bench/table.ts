// The stdout tables: one row per scenario and binder, a ratio row (ours / naive),
// and AWS calls per bind by API.
import { floorSeconds } from "./chart";
import { JobResult } from "./jobs";
import { Figures } from "./metrics";
import { Binder, Scenario } from "./scenario";

export interface ScenarioResult {
    scenario: Scenario;
    floorSeconds: number;
    figures: Partial<Record<Binder, Figures>>;
    errors: Partial<Record<Binder, string>>;
}

export function collect(scenarios: Scenario[], results: JobResult[]): ScenarioResult[] {
    return scenarios.map(scenario => {
        const mine = results.filter(r => r.scenario.name === scenario.name);
        return {
            scenario,
            floorSeconds: floorSeconds(Math.min(scenario.launches, scenario.pool)),
            figures: Object.fromEntries(mine.filter(r => r.figures).map(r => [r.binder, r.figures])),
            errors: Object.fromEntries(mine.filter(r => r.error).map(r => [r.binder, r.error])),
        };
    });
}

const f = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "-");
const ratio = (a: number, b: number) => (b > 0 ? `${f(a / b, 2)}x` : "-");

const COLUMNS = ["scenario", "binder", "bound", "last s", "floor s", "last/floor", "p50 s", "p99 s", "calls/bind", "throttled",
    "conflicts/bind", "dup", "leaks", "stale", "lost", "invocations", "failed", "dead", "faults/surfaced", "cpu", "lag p99"];

function row(r: ScenarioResult, binder: Binder, x: Figures): string[] {
    const possible = Math.min(r.scenario.launches, r.scenario.pool);
    return [
        r.scenario.name,
        binder,
        `${x.bound}/${possible}${x.allBound ? "" : "!"}`,
        f(x.timeToLastBound),
        f(r.floorSeconds),
        r.floorSeconds > 0 ? f(x.timeToLastBound / r.floorSeconds, 2) : "-",
        f(x.bindLatency.p50, 2),
        f(x.bindLatency.p99, 2),
        f(x.callsPerBindTotal, 2),
        String(x.throttledTotal),
        f(x.conflictsPerBind, 2),
        String(x.duplicates),
        String(x.leaks),
        String(x.audit.staleRows),
        String(x.lost),
        String(x.invocations.total),
        String(x.invocations.failed),
        String(x.invocations.deadLettered),
        x.faults.injected ? `${x.faults.injected}/${x.faults.surfaced}` : "-",
        `${f(x.harness.cpuShare * 100, 0)}%`,
        `${f(x.harness.loopDelayP99Ms, 0)}ms`,
    ];
}

function ratioRow(ours: Figures, naive: Figures): string[] {
    const cells = COLUMNS.map(() => "");
    cells[1] = "ours/naive";
    cells[3] = ratio(ours.timeToLastBound, naive.timeToLastBound);
    cells[6] = ratio(ours.bindLatency.p50, naive.bindLatency.p50);
    cells[7] = ratio(ours.bindLatency.p99, naive.bindLatency.p99);
    cells[8] = ratio(ours.callsPerBindTotal, naive.callsPerBindTotal);
    cells[9] = ratio(ours.throttledTotal, naive.throttledTotal);
    cells[10] = ratio(ours.conflictsPerBind, naive.conflictsPerBind);
    return cells;
}

function render(rows: string[][]): string {
    const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)));
    return rows.map(r => r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ")).join("\n");
}

export function mainTable(results: ScenarioResult[]): string {
    const rows: string[][] = [COLUMNS];
    for (const r of results) {
        const { ours, naive } = r.figures;
        if (ours) rows.push(row(r, "ours", ours));
        if (naive) rows.push(row(r, "naive", naive));
        if (ours && naive) rows.push(ratioRow(ours, naive));
        if (r.figures.hooks) rows.push(row(r, "hooks", r.figures.hooks));
        for (const [binder, error] of Object.entries(r.errors)) rows.push([r.scenario.name, binder, `ERROR: ${error.split("\n")[0]}`, ...COLUMNS.slice(3).map(() => "")]);
    }
    return render(rows);
}

export const LEGEND = [
    "bound: bound / could be bound (! = not all); last s: burst to last worker bound; floor s: EC2's mutating bucket alone, max(0, (N - 50) / 5)",
    "p50/p99 s: handler start to done of the invocation that bound; calls/bind: answered AWS calls (all APIs) per bound worker; throttled: throttled attempts",
    "conflicts/bind: ours, 'address already associated' log lines; naive, associations that took an address off another instance",
    "dup: instances with two addresses or in two rows, addresses in two rows; leaks: addresses on non-targets or without their row, claims not matching a binding",
    "stale: rows naming an address their instance does not hold; lost: handler reported success, worker ends without an address",
    "invocations/failed/dead: deliveries of an event to the handler (an SQS batch of 10 counts 10) incl. redeliveries, failed ones,",
    "  events dead-lettered (ours after its max receives, naive after 3 attempts); faults/surfaced: injected, and deliveries failed by one",
    "cpu, lag p99: the scenario thread's CPU share and event-loop delay (harness health)",
].join("\n");

export function callsTable(results: ScenarioResult[]): string {
    const actions = [...new Set(results.flatMap(r => Object.values(r.figures).flatMap(x => Object.keys(x.callsPerBind))))].sort();
    const rows: string[][] = [["scenario", "binder", ...actions, "throttled by API"]];
    for (const r of results) {
        for (const [binder, x] of Object.entries(r.figures)) {
            const throttled = Object.entries(x.throttled).map(([api, n]) => `${api.split(":")[1]} ${n}`).join(", ");
            rows.push([r.scenario.name, binder, ...actions.map(a => f(x.callsPerBind[a] ?? 0, 2)), throttled || "-"]);
        }
    }
    return render(rows);
}
