// `reconcile [--dry-run]`: what the reconciler found and what became of each drift.
import { Context } from "../binder/context";
import { reconcile, Reconciliation } from "../binder/reconcile";
import { DRIFT_HEADER, driftCells, isLeftAlone } from "./drift";
import { json, table } from "./format";

function reconcileReport(result: Reconciliation, dryRun: boolean): string {
    const { inspection, fixed, failed, exhausted } = result;
    if (inspection.drift.length === 0) return "no drift\n";
    const errors = new Map(failed.map(failure => [failure.drift, failure.error]));
    const rows = inspection.drift.map(drift => {
        const [kind, instance, address, detail] = driftCells(drift, inspection.pool);
        const error = errors.get(drift);
        const outcome = isLeftAlone(drift) ? "left alone" : dryRun ? "would fix" : exhausted.includes(drift) ? "waits" : error === undefined ? "fixed" : "failed";
        return [outcome, kind, instance, address, error === undefined ? detail : `${detail}: ${error}`];
    });
    const leftAlone = inspection.drift.filter(isLeftAlone).length;
    const outcome = dryRun ? "dry run, nothing changed"
        : [`${fixed.length} fixed`, `${failed.length} failed`, ...(exhausted.length > 0 ? [`${exhausted.length} wait for a free address`] : []), ...(leftAlone > 0 ? [`${leftAlone} left alone`] : [])].join(", ");
    return `${[...table(["RESULT", ...DRIFT_HEADER], rows), "", `${inspection.drift.length} drift: ${outcome}`].join("\n")}\n`;
}

/** Exit code 1 when a fix failed, so a script or a pipeline notices (targets waiting for a free address are no failure). */
export async function reconcileCommand(ctx: Context, options: { json: boolean; dryRun: boolean }, out: (text: string) => void): Promise<number> {
    const result = await reconcile(ctx, { dryRun: options.dryRun });
    out(options.json ? json(result) : reconcileReport(result, options.dryRun));
    return result.failed.length > 0 ? 1 : 0;
}
