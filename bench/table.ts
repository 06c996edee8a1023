// The stdout tables: one row per burst scenario and binder, a ratio row (ours /
// naive); the replacement and spot-reclaim scenarios in tables of their own; and
// AWS calls per bind by API.
import { floorSeconds } from "./chart";
import { JobResult } from "./jobs";
import { Figures } from "./metrics";
import { Binder, Scenario } from "./definitions";

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
    for (const r of results.filter(r => r.scenario.kind === "burst")) {
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

/** What every disruption table ends with: cost, the audit, the invocations and the harness's health. */
const TAIL = ["calls/worker", "throttled", "dup", "leaks", "stale", "invocations", "failed", "cpu", "lag p99"];

function tail(x: Figures): string[] {
    return [
        f(x.callsPerBindTotal, 1),
        String(x.throttledTotal),
        String(x.duplicates),
        String(x.leaks),
        String(x.audit.staleRows),
        String(x.invocations.total),
        String(x.invocations.failed),
        `${f(x.harness.cpuShare * 100, 0)}%`,
        `${f(x.harness.loopDelayP99Ms, 0)}ms`,
    ];
}

function errorRows(r: ScenarioResult, columns: string[]): string[][] {
    return Object.entries(r.errors).map(([binder, error]) => [r.scenario.name, binder, `ERROR: ${error.split("\n")[0]}`, ...columns.slice(3).map(() => "")]);
}

const REPLACEMENT_COLUMNS = ["scenario", "binder", "replaced", "waves", "wait p50 s", "p99 s", "max s", "hand-over", "1st delivery", "redelivery", "unbound", "binds/worker", ...TAIL];

/** The replacement scenarios: ours, the baseline without hand-over, and the ratio of their waits. */
export function replacementTable(results: ScenarioResult[]): string {
    const rows: string[][] = [REPLACEMENT_COLUMNS];
    for (const r of results.filter(r => r.scenario.kind === "replacement")) {
        for (const binder of ["ours", "no-handover"] as const) {
            const x = r.figures[binder];
            const m = x?.replacement;
            if (!x || !m) continue;
            rows.push([r.scenario.name, binder, String(m.replaced), `${m.waves}x${m.waveSize}`, f(m.wait.p50, 2), f(m.wait.p99, 2), f(m.wait.max, 2),
                String(m.boundBy.handOver), String(m.boundBy.firstDelivery), String(m.boundBy.redelivery), String(m.boundBy.unbound), f(m.bindsPerWorker, 2), ...tail(x)]);
        }
        const [ours, baseline] = [r.figures.ours?.replacement, r.figures["no-handover"]?.replacement];
        if (ours && baseline) {
            const cells = REPLACEMENT_COLUMNS.map(() => "");
            cells[1] = "ours/no-handover";
            cells[4] = ratio(ours.wait.p50, baseline.wait.p50);
            cells[5] = ratio(ours.wait.p99, baseline.wait.p99);
            cells[6] = ratio(ours.wait.max, baseline.wait.max);
            rows.push(cells);
        }
        rows.push(...errorRows(r, REPLACEMENT_COLUMNS));
    }
    return render(rows);
}

const SPOT_COLUMNS = ["scenario", "binder", "warned", "over s", "withdrawn p50 s", "p99 s", "max s", "not withdrawn", "violations", "drained", "released", "free/pool", ...TAIL];

/** The spot-reclaim scenarios: warning to row withdrawn, rows after the drain, and the release after the interruption. */
export function spotTable(results: ScenarioResult[]): string {
    const rows: string[][] = [SPOT_COLUMNS];
    for (const r of results.filter(r => r.scenario.kind === "spot-reclaim")) {
        for (const [binder, x] of Object.entries(r.figures)) {
            const d = x.drain;
            if (!d) continue;
            rows.push([r.scenario.name, binder, String(d.warned), f(d.warningSpreadSeconds, 0), f(d.withdrawn.p50, 2), f(d.withdrawn.p99, 2), f(d.withdrawn.max, 2),
                String(d.notWithdrawn), String(d.violations), String(d.drained), String(d.released), `${d.addressesFree}/${d.pool}`, ...tail(x)]);
        }
        rows.push(...errorRows(r, SPOT_COLUMNS));
    }
    return render(rows);
}

export const DISRUPTION_LEGEND = [
    "replacement: Karpenter replaces the bound fleet in waves of its disruption budget (10% of the nodes); pool = fleet; waves: count x size",
    "  wait: old worker's shutting-down event sent to the new worker's row published; hand-over / 1st delivery / redelivery: what bound each new worker",
    "  binds/worker: the binder's 'bound' log lines per new worker (above 1: concurrent hand-overs binding the same waiting workers)",
    "  no-handover: ours with the waitlist switched off (bench/baseline.ts), i.e. before hand-over: a waiting worker's event must come back",
    "spot-reclaim: every worker warned (over s: warnings spread over that many seconds), interrupted two minutes after its warning",
    "  withdrawn: warning sent to its row removed; violations: warned workers with a row after the drain (never withdrawn, or published again)",
    "  drained: fresh drain marks logged; released: workers the binder released after the interruption; free/pool: pool addresses free at the end",
    "calls/worker: answered AWS calls per replaced or warned worker (setup not counted)",
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
