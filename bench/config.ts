// Bench settings, each overridable by an environment variable for a quicker or
// different run (e.g. BENCH_ONLY=per-address-50 npm run bench).
import { BackgroundLoad } from "./buckets";
import { RunSettings } from "./definitions";

export interface BenchConfig extends RunSettings {
    /** Our binder's maximum concurrency (the stack's binderConcurrency) in most scenarios; the -cN ones run it at `concurrency`. */
    binderConcurrency: number;
    /** How often the reconciler runs in the -reconciling scenario (ms, real time). */
    reconcileEveryMs: number;
    /** Share of calls failed in the transient-fault and failing-invocation scenarios. */
    transientRate: number;
    failingRate: number;
    /** Scenarios run at once, each in its own worker thread with its own stand-ins and buckets. */
    parallel: number;
    /** Other clients' steady requests a second in the -shared scenarios. */
    background: BackgroundLoad;
    /** Only scenarios whose name matches this regular expression. */
    only?: RegExp;
}

function numberFrom(name: string, fallback: number): number {
    const raw = process.env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, not '${raw}'`);
    return value;
}

export function benchConfig(): BenchConfig {
    const delays = process.env.BENCH_RETRY_DELAYS_MS;
    // The stack's function timeout (infra/lambda.ts).
    const timeoutMs = numberFrom("BENCH_TIMEOUT_MS", 120_000);
    return {
        latencyMs: numberFrom("BENCH_LATENCY_MS", 30),
        // The original sample's reserved concurrency.
        concurrency: numberFrom("BENCH_CONCURRENCY", 50),
        // Lambda's async defaults: two retries, after one minute and then two.
        retryDelaysMs: delays ? delays.split(",").map(Number) : [60_000, 120_000],
        timeoutMs,
        // The event queue and its mapping as the stack deploys them: binderConcurrency's default,
        // ten messages a batch, a visibility timeout of six function timeouts, five receives before the DLQ.
        binderConcurrency: numberFrom("BENCH_BINDER_CONCURRENCY", 10),
        batchSize: numberFrom("BENCH_BATCH_SIZE", 10),
        visibilityTimeoutMs: numberFrom("BENCH_VISIBILITY_TIMEOUT_MS", 6 * timeoutMs),
        maxReceives: numberFrom("BENCH_MAX_RECEIVES", 5),
        // Far more often than the stack's schedule, so that runs land in the burst.
        reconcileEveryMs: numberFrom("BENCH_RECONCILE_EVERY_MS", 5_000),
        transientRate: numberFrom("BENCH_TRANSIENT_RATE", 0.05),
        failingRate: numberFrom("BENCH_FAILING_RATE", 0.01),
        seed: numberFrom("BENCH_SEED", 1),
        parallel: Math.max(1, numberFrom("BENCH_PARALLEL", 4)),
        // Half of DescribeInstances' refill for Karpenter; a fifth of the account's Route53 rate for another tool.
        background: {
            ec2DescribeInstances: numberFrom("BENCH_BACKGROUND_DESCRIBE_INSTANCES", 10),
            route53: numberFrom("BENCH_BACKGROUND_ROUTE53", 1),
        },
        // Karpenter's and EC2's timing in the replacement and spot-reclaim scenarios (bench/README.md says why these).
        disruption: {
            budgetShare: numberFrom("BENCH_DISRUPTION_BUDGET", 0.1),
            launchSpreadMs: numberFrom("BENCH_LAUNCH_SPREAD_MS", 2_000),
            drainGapMs: numberFrom("BENCH_DRAIN_GAP_MS", 5_000),
            shutdownMs: numberFrom("BENCH_SHUTDOWN_MS", 30_000),
            nextWaveMs: numberFrom("BENCH_NEXT_WAVE_MS", 10_000),
            quietMs: 60_000,
        },
        only: process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined,
    };
}
