// `status`: the pool, the drift the reconciler would fix, and a one-line summary.
import { Context } from "../binder/context";
import { inspect, Inspection, PoolEntry } from "../binder/reconcile";
import { DRIFT_HEADER, driftCells } from "./drift";
import { age, count, json, NONE, table } from "./format";

const POOL_HEADER = ["ADDRESS", "NAME", "INSTANCE", "STATE", "ALLOCATED", "AGE"];

/** Sorts dotted quads by number, so 10.0.0.9 comes before 10.0.0.10. */
const ipOrder = (ip: string) => ip.split(".").map(part => part.padStart(3, "0")).join(".");

function poolCells(entry: PoolEntry, now: Date): string[] {
    const allocated = entry.allocated === undefined ? NONE : entry.allocated ? "yes" : "no";
    const bound = entry.boundAt ? age(now.getTime() - Date.parse(entry.boundAt)) : NONE;
    return [entry.publicIp, entry.dnsName ?? NONE, entry.instanceId ?? NONE, entry.state ?? NONE, allocated, bound];
}

export function statusReport(inspection: Inspection, now: Date): string {
    const pool = [...inspection.pool].sort((a, b) => ipOrder(a.publicIp).localeCompare(ipOrder(b.publicIp)));
    const lines = table(POOL_HEADER, pool.map(entry => poolCells(entry, now)));
    if (inspection.drift.length > 0) lines.push("", ...table(DRIFT_HEADER, inspection.drift.map(drift => driftCells(drift, pool))));
    lines.push("", `${count(pool.length, "address", "addresses")}, ${inspection.free} free, ${inspection.drift.length} drift`);
    return `${lines.join("\n")}\n`;
}

export async function statusCommand(ctx: Context, options: { json: boolean }, out: (text: string) => void): Promise<number> {
    const inspection = await inspect(ctx);
    out(options.json ? json(inspection) : statusReport(inspection, ctx.now()));
    return 0;
}
