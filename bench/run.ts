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
import { SCHEDULER_SCENARIO, schedulerBench } from "./scheduler";
import { callsTable, collect, DISRUPTION_LEGEND, LEGEND, mainTable, replacementTable, spotTable } from "./table";

async function main(): Promise<void> {
    const began = performance.now();
    const cpu = process.cpuUsage();
    const config = benchConfig();
    const binder = binderRevision();
    const list = scenarios(config);
    const jobs: Job[] = list.flatMap(scenario => scenario.binders.map(binder => ({ scenario, binder })));
    // The scheduler's allocations, client beside the former Scan-and-update recipe: no binder runs in it.
    if (!config.only || config.only.test(SCHEDULER_SCENARIO)) {
        console.error(`bench: ${SCHEDULER_SCENARIO}, latency ${config.latencyMs} ms`);
        console.log(`${(await schedulerBench(config)).table}\n`);
    }
    if (jobs.length === 0) return;
    const elapsed = () => ((performance.now() - began) / 1000).toFixed(0);
    console.error(`bench: binder ${binder.commit.slice(0, 7)}${binder.binderModified ? `+modified (${binder.binderDigest})` : ""}; ${jobs.length} runs of ${list.length} scenarios, ${config.parallel} at a time; latency ${config.latencyMs} ms; `
        + `ours: queue, max concurrency ${config.binderConcurrency}, batches of ${config.batchSize}; naive: async, concurrency ${config.concurrency}`);

    const done = await runJobs(jobs, config, config.parallel, r => {
        const x = r.figures;
        const what = !x ? "" : x.replacement ? `wait p99 ${x.replacement.wait.p99.toFixed(2)} s, ${x.replacement.boundBy.handOver} handed over`
            : x.drain ? `withdrawn p99 ${x.drain.withdrawn.p99.toFixed(2)} s, ${x.drain.violations} violations`
            : `${x.bound} bound, last at ${x.timeToLastBound.toFixed(1)} s`;
        const summary = x ? `${what}, took ${x.harness.seconds.toFixed(0)} s` : `failed: ${r.error}`;
        console.error(`  [${elapsed()} s] ${r.scenario.name} ${r.binder}: ${summary}`);
    });
    const results = collect(list, done);
    const goals = judge(results);
    const totalSeconds = (performance.now() - began) / 1000;
    // Every worker thread's CPU, as a number of cores busy on average: near the core count, the figures are suspect.
    const used = process.cpuUsage(cpu);
    const coresBusy = (used.user + used.system) / 1e6 / totalSeconds;

    if (results.some(r => r.scenario.kind === "burst")) console.log(`${mainTable(results)}\n\n${LEGEND}`);
    if (results.some(r => r.scenario.kind === "replacement")) console.log(`\nReplacement (Karpenter replacing the fleet):\n\n${replacementTable(results)}`);
    if (results.some(r => r.scenario.kind === "spot-reclaim")) console.log(`\nSpot reclaim (interruption warnings, then interruptions):\n\n${spotTable(results)}`);
    if (results.some(r => r.scenario.kind !== "burst")) console.log(`\n${DISRUPTION_LEGEND}`);
    console.log("\nAWS calls per bind by API (answered calls; throttled attempts counted apart; replacement, spot-reclaim: per replaced or warned worker):\n");
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
