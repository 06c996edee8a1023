// What the bench runs: the binders it compares, a scenario's definition, the
// settings of a run and Karpenter's and EC2's timing. scenario.ts runs them, and
// measure.ts, replacement.ts and spot.ts, which it calls, read them from here.
import type { DnsRecordsMode } from "../binder/config";
import type { BackgroundLoad } from "./buckets";
import type { FaultKind } from "./faults";

/** Ours; ours with hand-over off (baseline.ts, the replacement scenarios' baseline); the original sample's approach; workers binding themselves through the node hooks (hooks.ts), no events. */
export type Binder = "ours" | "no-handover" | "naive" | "hooks";
/** The binders that events reach through Lambda. */
export type EventBinder = Exclude<Binder, "hooks">;

/** A burst of launches; Karpenter replacing a bound fleet; Spot reclaiming one. */
export type ScenarioKind = "burst" | "replacement" | "spot-reclaim";

export interface Scenario {
    name: string;
    kind: ScenarioKind;
    /** The burst's launches; for the other kinds, the fleet (bound before the measured phase). */
    launches: number;
    pool: number;
    dnsRecords: DnsRecordsMode;
    faults: FaultKind;
    /** Share of calls that fail, when faults are on. */
    faultRate: number;
    /** Our binder's maximum concurrency (the naive one runs at RunSettings.concurrency). */
    concurrency: number;
    binders: Binder[];
    /** Ours: run the reconciler this often (ms) during the burst; 0 for never. */
    reconcileEveryMs: number;
    /** Other clients drawing on the shared API buckets during the burst. */
    background: BackgroundLoad;
    /** spot-reclaim: the warnings are sent evenly over this many ms (0: all at once). */
    warningSpreadMs?: number;
}

export interface RunSettings {
    latencyMs: number;
    timeoutMs: number;
    seed: number;
    /** The naive binder: Lambda concurrency, and the waits before async redeliveries. */
    concurrency: number;
    retryDelaysMs: number[];
    /** Ours: the event queue's mapping and redrive policy. */
    batchSize: number;
    visibilityTimeoutMs: number;
    maxReceives: number;
    /** The replacement and spot-reclaim scenarios' timing (Karpenter's and EC2's). */
    disruption: DisruptionTiming;
}

/** Karpenter's and EC2's timing (bench/config.ts has the defaults, bench/README.md the reasons). */
export interface DisruptionTiming {
    /** The NodePool's disruption budget: this share of its nodes (rounded up) is replaced at once. */
    budgetShare: number;
    /** A wave's new workers reach running over this many ms. */
    launchSpreadMs: number;
    /** From a new worker's running event to its old worker's shutting-down: Karpenter's wait for the new node, then the old one's drain. */
    drainGapMs: number;
    /** From shutting-down to terminated. */
    shutdownMs: number;
    /** From a wave's last termination to the next wave's launches (Karpenter's disruption controller polls every 10 s). */
    nextWaveMs: number;
    /** Idle time between the fleet's setup and the first wave or warning, so that the setup's API buckets refill. */
    quietMs: number;
}
