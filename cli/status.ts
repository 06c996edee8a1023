// `status`: the pool, the workers draining and waiting, the drift the reconciler
// would fix, and a one-line summary.
import { Context } from "../binder/context";
import { DrainEntry, inspect, Inspection, PoolEntry, WaitEntry } from "../binder/reconcile";
import { DRIFT_HEADER, driftCells } from "./drift";
import { age, count, countdown, json, NONE, table } from "./format";

const POOL_HEADER = ["ADDRESS", "NAME", "INSTANCE", "STATE", "ALLOCATED", "AGE"];
const DRAINING_HEADER = ["INSTANCE", "ADDRESS", "CAUSE", "AGE", "DEADLINE", "STATE"];
const WAITING_HEADER = ["INSTANCE", "WAITING", "NOTE"];

/** Sorts dotted quads by number, so 10.0.0.9 comes before 10.0.0.10. */
const ipOrder = (ip: string) => ip.split(".").map(part => part.padStart(3, "0")).join(".");

const since = (iso: string, now: Date) => age(now.getTime() - Date.parse(iso));

function poolCells(entry: PoolEntry, now: Date): string[] {
    const allocated = entry.allocated === undefined ? NONE : entry.allocated ? "yes" : "no";
    const bound = entry.boundAt ? since(entry.boundAt, now) : NONE;
    return [entry.publicIp, entry.dnsName ?? NONE, entry.instanceId ?? NONE, entry.state ?? NONE, allocated, bound];
}

/** A draining worker: the address it keeps, why (every cause that holds) and since its first signal it drains, and how long it has left. */
function drainingCells(entry: DrainEntry, pool: PoolEntry[], now: Date): string[] {
    const address = pool.find(a => a.instanceId === entry.instanceId)?.publicIp ?? NONE;
    const first = entry.signals[0];
    const deadlines = entry.signals.flatMap(s => (s.deadline ? [s.deadline] : [])).sort();
    const deadline = deadlines.length > 0 ? countdown(Date.parse(deadlines[0]) - now.getTime()) : NONE;
    return [entry.instanceId, address, entry.signals.map(s => s.cause).join(","), since(first.signalledAt, now), deadline, entry.state ?? NONE];
}

/** A waiting worker; the note says why the next hand-over or reconcile takes it off the list. */
function waitingCells(entry: WaitEntry, now: Date): string[] {
    const notes = [...(entry.holds ? ["holds an address"] : []), ...(entry.running ? [] : ["no longer a running target"])];
    return [entry.instanceId, since(entry.since, now), notes.join(", ") || NONE];
}

/** Longest draining first. */
const drainOrder = (a: DrainEntry, b: DrainEntry) => a.signals[0].signalledAt.localeCompare(b.signals[0].signalledAt) || a.instanceId.localeCompare(b.instanceId);

export function statusReport(inspection: Inspection, now: Date): string {
    const pool = [...inspection.pool].sort((a, b) => ipOrder(a.publicIp).localeCompare(ipOrder(b.publicIp)));
    const { draining, waiting, drift } = inspection;
    const lines = table(POOL_HEADER, pool.map(entry => poolCells(entry, now)));
    if (draining.length > 0) lines.push("", ...table(DRAINING_HEADER, [...draining].sort(drainOrder).map(entry => drainingCells(entry, pool, now))));
    if (waiting.length > 0) lines.push("", ...table(WAITING_HEADER, waiting.map(entry => waitingCells(entry, now))));
    if (drift.length > 0) lines.push("", ...table(DRIFT_HEADER, drift.map(d => driftCells(d, pool))));
    const summary = [
        count(pool.length, "address", "addresses"), `${inspection.free} free`, `${drift.length} drift`,
        ...(draining.length > 0 ? [`${draining.length} draining`] : []),
        ...(waiting.length > 0 ? [`${waiting.length} waiting`] : []),
    ];
    lines.push("", summary.join(", "));
    return `${lines.join("\n")}\n`;
}

export async function statusCommand(ctx: Context, options: { json: boolean }, out: (text: string) => void): Promise<number> {
    const inspection = await inspect(ctx);
    out(options.json ? json(inspection) : statusReport(inspection, ctx.now()));
    return 0;
}
