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
    const series = [
        { label: `ours, c=${burst.scenario.concurrency}`, color: "#1f77b4", boundAt: burst.figures.ours?.boundAt ?? [] },
        { label: `naive, c=${burst.scenario.concurrency}`, color: "#d62728", boundAt: burst.figures.naive?.boundAt ?? [] },
    ];
    // The same burst at the lower concurrency, when it ran: it shows what contention costs.
    const low = results.find(r => r.scenario.name === `per-address-500-c${config.lowConcurrency}`)?.figures.ours;
    if (low) series.push({ label: `ours, c=${config.lowConcurrency}`, color: "#7fb8e0", boundAt: low.boundAt });
    const path = join(OUT, "burst-500.svg");
    const title = `Burst of ${burst.scenario.launches} launches, pool ${burst.scenario.pool}, per-address: workers bound over time`;
    const note = `c = Lambda concurrency; ${config.latencyMs} ms per AWS call; failed events redelivered after ${config.retryDelaysMs.map(d => d / 1000).join(" s, ")} s`;
    writeFileSync(path, burstChart(title, note, target, series));
    return path;
}
