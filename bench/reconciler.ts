// The reconciler beside a burst: its handler runs again and again while the
// events are handled, so that its binds and releases race the binder's, which
// is what a scheduled run that lands in a burst does.
import { createReconcileHandler } from "../binder";

export interface ReconcilerRuns {
    runs: number;
    failed: number;
    /** Drifts it fixed over all its runs (during a burst, mostly targets whose event is still queued). */
    fixed: number;
}

/** Starts running the reconciler every `everyMs` (real time); `stop` waits for the run in progress. */
export function reconcileAlongside(everyMs: number): { stop(): Promise<ReconcilerRuns> } {
    const handler = createReconcileHandler();
    const result: ReconcilerRuns = { runs: 0, failed: 0, fixed: 0 };
    let stopped = false;
    let wake = () => {};
    const loop = (async () => {
        while (!stopped) {
            try {
                const reconciliation = await handler({ "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} });
                result.fixed += reconciliation.fixed.length;
            } catch {
                result.failed++;
            }
            result.runs++;
            await new Promise<void>(resolve => {
                const timer = setTimeout(resolve, everyMs);
                wake = () => { clearTimeout(timer); resolve(); };
            });
        }
    })();
    return {
        async stop() {
            stopped = true;
            wake();
            await loop;
            return result;
        },
    };
}
