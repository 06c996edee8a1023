// bench/results.json and bench/burst-500.svg.
import { writeFileSync } from "node:fs";
import { cpus, platform, release, totalmem } from "node:os";
import { join } from "node:path";
import { burstChart } from "./chart";
import { BenchConfig } from "./config";
import { Goal } from "./goals";
import { Revision } from "./revision";
import { ScenarioResult } from "./table";

const OUT = __dirname;

/** Rounds every number to milliseconds (or thousandths) so the file stays readable. */
const rounded = (_key: string, value: unknown) => (typeof value === "number" && !Number.isInteger(value) ? Math.round(value * 1000) / 1000 : value);

export interface RunInfo {
    totalSeconds: number;
    coresBusy: number;
    binder: Revision;
}

export function writeResults(config: BenchConfig, results: ScenarioResult[], goals: Goal[], run: RunInfo): string {
    const path = join(OUT, "results.json");
    const document = {
        date: new Date().toISOString(),
        machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, node: process.version, os: `${platform()} ${release()}`, memoryGiB: totalmem() / 2 ** 30 },
        binder: run.binder,
        config: { ...config, only: config.only?.source },
        totalRunSeconds: run.totalSeconds,
        coresBusyOnAverage: run.coresBusy,
        goals,
        scenarios: results,
    };
    writeFileSync(path, `${JSON.stringify(document, rounded, 2)}\n`);
    return path;
}

export function writeBurstChart(config: BenchConfig, results: ScenarioResult[]): string | undefined {
    const burst = results.find(r => r.scenario.name === "per-address-500");
    if (!burst) return undefined;
    const target = Math.min(burst.scenario.launches, burst.scenario.pool);
    const ours = (concurrency: number) => `ours: queue, max concurrency ${concurrency}, batches of ${config.batchSize}`;
    const series = [
        { label: ours(burst.scenario.concurrency), color: "#1f77b4", boundAt: burst.figures.ours?.boundAt ?? [] },
        { label: `naive: async, concurrency ${config.concurrency}`, color: "#d62728", boundAt: burst.figures.naive?.boundAt ?? [] },
    ];
    // Ours again at the naive binder's concurrency, when it ran: what raising binderConcurrency costs.
    const high = results.find(r => r.scenario.name === `per-address-500-c${config.concurrency}`);
    if (high?.figures.ours) series.push({ label: ours(high.scenario.concurrency), color: "#7fb8e0", boundAt: high.figures.ours.boundAt });
    const path = join(OUT, "burst-500.svg");
    const title = `Burst of ${burst.scenario.launches} launches, pool ${burst.scenario.pool}, per-address: workers bound over time`;
    const seconds = (ms: number) => `${ms / 1000} s`;
    const note = [
        `${config.latencyMs} ms per AWS call; ours: SQS event queue, a batch per invocation; naive: EventBridge → Lambda async, an event per invocation`,
        `failed events redelivered: ours when the ${seconds(config.visibilityTimeoutMs)} visibility timeout ends (at most ${config.maxReceives} receives),`
            + ` naive after ${config.retryDelaysMs.map(seconds).join(" and ")}`,
    ];
    writeFileSync(path, burstChart(title, note, target, series));
    return path;
}
