// Drift as table cells, shared by the status and reconcile reports.
import { Drift, PoolEntry, REPORT_ONLY } from "../binder/reconcile";
import { NONE } from "./format";

export const DRIFT_HEADER = ["KIND", "INSTANCE", "ADDRESS", "DETAIL"];

/** Kind, instance, address and detail; a drift that names only an allocation shows its public IP. */
export function driftCells(drift: Drift, pool: PoolEntry[]): string[] {
    const address = drift.publicIp ?? pool.find(entry => entry.allocationId === drift.allocationId)?.publicIp;
    return [drift.kind, drift.instanceId ?? NONE, address ?? NONE, drift.detail];
}

/** Drift the reconciler reports but never changes. */
export const isLeftAlone = (drift: Drift) => REPORT_ONLY.includes(drift.kind);
