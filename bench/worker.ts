// A worker thread's body: one binder through one scenario, figures posted back.
// Each worker has its own event loop, environment, stand-ins and buckets, so
// scenarios run side by side without sharing a clock, an endpoint or a limit.
import { parentPort, workerData } from "node:worker_threads";
import { Binder, RunSettings, Scenario } from "./definitions";
import { runScenario } from "./scenario";

const { scenario, binder, run } = workerData as { scenario: Scenario; binder: Binder; run: RunSettings };

runScenario(scenario, binder, run).then(
    figures => parentPort!.postMessage({ figures }),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.stack ?? err.message : String(err) }),
);
