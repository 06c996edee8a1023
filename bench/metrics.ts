// One binder's figures in one scenario, from the Lambda's invocations, the
// gateway's call record, the throttling buckets, the log lines and the audit.
import { Audit, duplicatesOf, leaksOf } from "./audit";
import { faultCodes, FaultKind } from "./faults";
import { Invocation } from "./lambda";
import { LogLine } from "./logs";
import { ReconcilerRuns } from "./reconciler";
import { BenchWorld } from "./world";

export interface Figures {
    /** Seconds from the burst until the last target that ends bound was bound. */
    timeToLastBound: number;
    /** Whether every target that could have an address ended bound. */
    allBound: boolean;
    bound: number;
    /** Targets whose handler reported success but that end without an address (silently lost). */
    lost: number;
    /** Seconds from the burst until each target that ends bound was bound, sorted (the chart's data). */
    boundAt: number[];
    /** Handler duration (start to done) of the invocation that bound, in seconds. */
    bindLatency: { p50: number; p99: number; max: number };
    /** Seconds from the burst (the event's arrival) until bound, queueing and redeliveries included. */
    launchToBound: { p50: number; p99: number };
    /** Answered (not throttled) AWS calls per bound target, by API, and in total. */
    callsPerBind: Record<string, number>;
    callsPerBindTotal: number;
    /** Answered Route53 requests per bound target (like callsPerBind; throttled attempts are in `throttled`). */
    route53PerBind: number;
    throttled: Record<string, number>;
    throttledTotal: number;
    /** Ours: log lines with conflict: true. Naive: associations that took an address off another instance. */
    conflicts: number;
    conflictsPerBind: number;
    /** AssociateAddress calls answered Resource.AlreadyAssociated. */
    alreadyAssociated: number;
    /** Naive: associations that pushed an address off the instance's own private IP. */
    displaced: number;
    invocations: { total: number; failed: number; timedOut: number; deadLettered: number; coldStarts: number; errors: Record<string, number> };
    /** Ours, when the scenario runs it: the reconciler's runs beside the burst. */
    reconciler?: ReconcilerRuns;
    /** Embedded-metric documents the handler wrote (ours only). */
    metricDocuments: number;
    /** Injected faults, and the deliveries failed by one (ours: also the instances its log says one failed). */
    faults: { injected: number; surfaced: number };
    /** Ours: why binds and releases failed, from the handler's "failed" log lines (name and the SDK's attempts). */
    failureReasons: Record<string, number>;
    audit: Audit;
    duplicates: number;
    leaks: number;
    /** The node hooks' storm (hooks.ts): answers by status and error, calls made, environments started. */
    hooks?: { answers: Record<string, number>; calls: number; environments: number };
    /** Bench health: CPU this scenario's thread used (share of one core) and its event-loop delay, so a slow harness shows. */
    harness: { seconds: number; skippedSeconds: number; cpuShare: number; loopDelayP99Ms: number };
    /** Replacement scenarios: the new workers' waits and what bound them. */
    replacement?: ReplacementFigures;
    /** Spot reclaim scenarios: warning to row withdrawn, and the addresses' release. */
    drain?: DrainFigures;
}

/** Replacement scenarios (replacement.ts): the new workers' waits and what bound them. */
export interface ReplacementFigures {
    replaced: number;
    waves: number;
    waveSize: number;
    /** Seconds from the old worker's termination event (shutting-down, the first of the two sent) to its new worker's row published. */
    wait: { p50: number; p99: number; max: number; min: number };
    /** Seconds from the new worker's running event to its row published. */
    launchToBound: { p50: number; p99: number; max: number };
    /**
     * What bound each new worker: a release's hand-over, its own running event at its
     * first delivery or at a redelivery; or nothing by the end (unbound).
     */
    boundBy: { handOver: number; firstDelivery: number; redelivery: number; unbound: number };
    /** The binder's "bound" log lines per new worker: above 1, binds of a worker another invocation had bound or was binding. */
    bindsPerWorker: number;
}

/** Spot reclaim scenarios (spot.ts): warning to row withdrawn, and the addresses' release. */
export interface DrainFigures {
    warned: number;
    /** The warnings were sent evenly over this many seconds (0: all at once). */
    warningSpreadSeconds: number;
    /** Seconds from each warning sent to its worker's row removed from the servers table. */
    withdrawn: { p50: number; p99: number; max: number };
    /** Warned workers whose row was never removed before their interruption. */
    notWithdrawn: number;
    /** Warned workers with a row after their drain: one never withdrawn, or one published again after the warning. */
    violations: number;
    /** Workers the binder logged drained (a fresh mark). */
    drained: number;
    /** Warned workers the binder released after EC2 interrupted them, taking the address off the instance itself. */
    released: number;
    /** Pool addresses free at the end, of the pool. */
    addressesFree: number;
    pool: number;
}

export interface Observed {
    world: BenchWorld;
    invocations: Invocation[];
    coldStarts: number;
    logs: LogLine[];
    metricDocuments: number;
    audit: Audit;
    faults: FaultKind;
    reconciler?: ReconcilerRuns;
    harness: Figures["harness"];
    /** The instance each event number binds (default: the burst's launches); undefined for an event that binds none. */
    eventTargets?: (string | undefined)[];
    /** Calls are counted per this many workers (default: the bound ones); the disruption scenarios count per replaced or warned worker. */
    workers?: number;
}

const THROTTLING = new Set(["RequestLimitExceeded", "Throttling", "ThrottlingException"]);

/** The p-th percentile of sorted values (nearest rank); 0 for none. */
export function percentile(sorted: number[], p: number): number {
    if (sorted.length === 0) return 0;
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const perBind = (count: number, bound: number) => (bound === 0 ? 0 : count / bound);

export function figures(o: Observed): Figures {
    const { world, invocations, audit } = o;
    const targetOf = o.eventTargets ?? world.instanceIds;
    const boundIds = new Set(world.ec2.addresses().flatMap(a => (a.association ? [a.association.instanceId] : [])));
    // The first successful invocation of each target that ends bound is when it was bound.
    const binding = new Map<number, Invocation>();
    for (const inv of [...invocations].sort((a, b) => a.end - b.end)) {
        const target = targetOf[inv.event];
        if (inv.ok && !binding.has(inv.event) && target !== undefined && boundIds.has(target)) binding.set(inv.event, inv);
    }
    const boundAt = [...binding.values()].map(inv => inv.end / 1000).sort((a, b) => a - b);
    const latencies = [...binding.values()].map(inv => (inv.end - inv.start) / 1000).sort((a, b) => a - b);

    const calls = world.gateway.calls;
    const answered = calls.filter(c => !(c.errorCode && THROTTLING.has(c.errorCode)));
    const callsPerBind: Record<string, number> = {};
    for (const call of answered) callsPerBind[call.action] = (callsPerBind[call.action] ?? 0) + 1;
    const workers = o.workers ?? audit.bound;
    for (const action of Object.keys(callsPerBind)) callsPerBind[action] = perBind(callsPerBind[action], workers);
    const throttled = Object.fromEntries(world.throttler.throttled);
    const throttledTotal = Object.values(throttled).reduce((a, b) => a + b, 0);

    const loggedConflicts = o.logs.filter(l => l.conflict === true).length;
    const conflicts = loggedConflicts + world.ec2.steals;
    const failed = invocations.filter(i => !i.ok);
    const errors: Record<string, number> = {};
    for (const inv of failed) errors[inv.error ?? "?"] = (errors[inv.error ?? "?"] ?? 0) + 1;
    const finalAttempts = new Map<number, Invocation>();
    for (const inv of invocations) if ((finalAttempts.get(inv.event)?.attempt ?? 0) < inv.attempt) finalAttempts.set(inv.event, inv);
    const codes = new Set(faultCodes(o.faults));
    // A message ours reports failed carries no error (ReportedFailed); its "failed" log line names it.
    const reportedFaults = o.logs.filter(l => l.outcome === "failed" && codes.has(String((l.error as { name?: unknown } | undefined)?.name))).length;

    return {
        timeToLastBound: boundAt.length ? boundAt[boundAt.length - 1] : 0,
        allBound: audit.bound === Math.min(audit.targets, world.spec.pool),
        bound: audit.bound,
        lost: new Set(invocations.filter(i => i.ok && targetOf[i.event] !== undefined && !boundIds.has(targetOf[i.event]!)).map(i => i.event)).size,
        boundAt,
        bindLatency: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? 0 },
        launchToBound: { p50: percentile(boundAt, 50), p99: percentile(boundAt, 99) },
        callsPerBind,
        callsPerBindTotal: perBind(answered.length, workers),
        route53PerBind: perBind(answered.filter(c => c.service === "route53").length, workers),
        throttled,
        throttledTotal,
        conflicts,
        conflictsPerBind: perBind(conflicts, workers),
        alreadyAssociated: calls.filter(c => c.action === "AssociateAddress" && c.errorCode === "Resource.AlreadyAssociated").length,
        displaced: world.ec2.displaced,
        invocations: {
            total: invocations.length,
            failed: failed.length,
            timedOut: invocations.filter(i => i.timedOut).length,
            deadLettered: [...finalAttempts.values()].filter(i => !i.ok).length,
            coldStarts: o.coldStarts,
            errors,
        },
        reconciler: o.reconciler,
        metricDocuments: o.metricDocuments,
        failureReasons: reasonsOf(o.logs),
        faults: { injected: calls.filter(c => c.injected).length, surfaced: failed.filter(i => codes.has((i.error ?? "").split(" ")[0])).length + reportedFaults },
        audit,
        duplicates: duplicatesOf(audit),
        leaks: leaksOf(audit),
        harness: o.harness,
    };
}

function reasonsOf(logs: LogLine[]): Record<string, number> {
    const reasons: Record<string, number> = {};
    for (const line of logs.filter(l => l.outcome === "failed")) {
        const { name, attempts } = (line.error ?? {}) as { name?: string; attempts?: number };
        const reason = `${name ?? "?"}${attempts && attempts > 1 ? ` after ${attempts} attempts` : ""}`;
        reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
    return reasons;
}
