// Runs every (scenario, binder) pair in worker threads, a few at a time, the
// longest first so the short ones fill in around them.
import { resolve } from "node:path";
import { Worker } from "node:worker_threads";
import { Binder, RunSettings, Scenario } from "./definitions";
import { Figures } from "./metrics";
import { runScenario } from "./scenario";

export interface Job {
    scenario: Scenario;
    binder: Binder;
}

export interface JobResult extends Job {
    figures?: Figures;
    error?: string;
}

// Rough cost: one association per pool address, three Route53 calls per per-binding bind, twice for ours (its conflicts).
const weight = ({ scenario, binder }: Job) =>
    scenario.pool * (scenario.dnsRecords === "per-binding" ? 3 : 1) * (binder === "ours" ? 2 : 1) * (scenario.faults === "none" ? 1 : 1.2);

// Workers load TypeScript themselves: the main thread's ts-node hook does not reach them.
const BOOT = `require("ts-node").register({ transpileOnly: true }); require(${JSON.stringify(resolve(__dirname, "worker.ts"))});`;

/**
 * One at a time runs in this thread, which is easier to debug. Like the workers, it only
 * transpiles (`npm run bench` runs ts-node with --transpile-only; `npm test` type-checks):
 * the bench's clock is real time, and a module type-checked as a burst first requires it
 * would add the compiler's time to the binder's (per-binding-200 took 40.5–43.6 s so,
 * against 38.2 s without).
 */
async function runHere(job: Job, run: RunSettings): Promise<JobResult> {
    try {
        return { ...job, figures: await runScenario(job.scenario, job.binder, run) };
    } catch (err) {
        return { ...job, error: err instanceof Error ? err.stack ?? err.message : String(err) };
    }
}

function runInWorker(job: Job, run: RunSettings): Promise<JobResult> {
    return new Promise(done => {
        const worker = new Worker(BOOT, { eval: true, workerData: { ...job, run } });
        let settled = false;
        const finish = (result: JobResult) => {
            if (settled) return;
            settled = true;
            void worker.terminate();
            done(result);
        };
        worker.once("message", (message: { figures?: Figures; error?: string }) => finish({ ...job, ...message }));
        worker.once("error", err => finish({ ...job, error: err.stack ?? err.message }));
        worker.once("exit", code => finish({ ...job, error: `worker exited with code ${code} before reporting` }));
    });
}

export async function runJobs(jobs: Job[], run: RunSettings, parallel: number, onDone: (result: JobResult) => void): Promise<JobResult[]> {
    const queue = [...jobs].sort((a, b) => weight(b) - weight(a));
    const results: JobResult[] = [];
    const lane = async () => {
        for (let job = queue.shift(); job; job = queue.shift()) {
            const result = await (parallel > 1 ? runInWorker(job, run) : runHere(job, run));
            results.push(result);
            onDone(result);
        }
    };
    await Promise.all(Array.from({ length: parallel }, lane));
    return results;
}
