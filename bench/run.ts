// `npm run bench`: bursts of launches against the EC2/Route53 stand-ins and
// dynalite under AWS's API limits, our binder beside the naive one.
import { performance } from "node:perf_hooks";
import { benchConfig } from "./config";
import { judge } from "./goals";
import { hooksReport } from "./hooks-report";
import { Job, runJobs } from "./jobs";
import { writeBurstChart, writeResults } from "./report";
import { binderRevision } from "./revision";
import { scenarios } from "./scenarios";
import { callsTable, collect, LEGEND, mainTable } from "./table";

async function main(): Promise<void> {
    const began = performance.now();
    const cpu = process.cpuUsage();
    const config = benchConfig();
    const binder = binderRevision();
    const list = scenarios(config);
    const jobs: Job[] = list.flatMap(scenario => scenario.binders.map(binder => ({ scenario, binder })));
    const elapsed = () => ((performance.now() - began) / 1000).toFixed(0);
    console.error(`bench: binder ${binder.commit.slice(0, 7)}${binder.binderModified ? `+modified (${binder.binderDigest})` : ""}; ${jobs.length} runs of ${list.length} scenarios, ${config.parallel} at a time; latency ${config.latencyMs} ms; `
        + `ours: queue, max concurrency ${config.binderConcurrency}, batches of ${config.batchSize}; naive: async, concurrency ${config.concurrency}`);

    const done = await runJobs(jobs, config, config.parallel, r => {
        const x = r.figures;
        const summary = x ? `${x.bound} bound, last at ${x.timeToLastBound.toFixed(1)} s, took ${x.harness.seconds.toFixed(0)} s` : `failed: ${r.error}`;
        console.error(`  [${elapsed()} s] ${r.scenario.name} ${r.binder}: ${summary}`);
    });
    const results = collect(list, done);
    const goals = judge(results);
    const totalSeconds = (performance.now() - began) / 1000;
    // Every worker thread's CPU, as a number of cores busy on average: near the core count, the figures are suspect.
    const used = process.cpuUsage(cpu);
    const coresBusy = (used.user + used.system) / 1e6 / totalSeconds;

    console.log(mainTable(results));
    console.log(`\n${LEGEND}`);
    console.log("\nAWS calls per bind by API (answered calls; throttled attempts counted apart):\n");
    console.log(callsTable(results));
    const hooks = hooksReport(results);
    if (hooks) console.log(`\nNode hooks:\n${hooks}`);
    console.log("\nGoals (our binder):");
    for (const g of goals) console.log(`  ${g.met ? "met   " : "MISSED"}  ${g.goal}: ${g.value}`);
    const json = writeResults(config, results, goals, { totalSeconds, coresBusy, binder });
    const svg = writeBurstChart(config, results);
    console.log(`\nWrote ${json}${svg ? ` and ${svg}` : ""}. Total run time ${totalSeconds.toFixed(0)} s, ${coresBusy.toFixed(2)} cores busy on average.`);
    if (done.some(r => r.error)) process.exitCode = 1;
}

main().catch(err => {
    console.error(err);
    process.exitCode = 1;
});
