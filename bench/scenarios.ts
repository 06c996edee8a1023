// The scenario matrix. Ours runs at the stack's default maximum concurrency
// (binderConcurrency), the naive binder at the original sample's 50; the -c50
// scenarios run ours at 50 too, to show what raising binderConcurrency costs.
// The -shared scenarios add other clients of the account on the APIs the binder
// shares with them: Karpenter's DescribeInstances, another tool's Route53 requests.
// The replacement and spot-reclaim scenarios bind a fleet first, then replace it
// as Karpenter does or reclaim it as EC2 does (replacement.ts, spot.ts).
import { NO_BACKGROUND } from "./buckets";
import { BenchConfig } from "./config";
import { Scenario } from "./definitions";

export function scenarios(config: BenchConfig): Scenario[] {
    const both = ["ours", "naive"] as Scenario["binders"];
    const base = {
        kind: "burst", dnsRecords: "per-address", faults: "none", faultRate: 0, concurrency: config.binderConcurrency, binders: both, reconcileEveryMs: 0, background: NO_BACKGROUND,
    } as const;
    const burst = (launches: number, share: number) => ({ launches, pool: Math.round(launches * share) });
    const list: Scenario[] = [];
    for (const launches of [50, 200, 500]) {
        for (const share of [1, 0.9]) {
            const tag = share === 1 ? "" : "-pool90";
            list.push({ ...base, name: `per-address-${launches}${tag}`, ...burst(launches, share) });
        }
    }
    // Ours only: the naive binder's run would be the plain scenario's again.
    for (const launches of config.concurrency === config.binderConcurrency ? [] : [200, 500]) {
        list.push({ ...base, name: `per-address-${launches}-c${config.concurrency}`, ...burst(launches, 1), concurrency: config.concurrency, binders: ["ours"] });
    }
    for (const launches of [50, 200, 500]) {
        list.push({ ...base, name: `per-binding-${launches}`, ...burst(launches, 1), dnsRecords: "per-binding" });
    }
    list.push({ ...base, name: "per-binding-50-pool90", ...burst(50, 0.9), dnsRecords: "per-binding" });
    for (const dnsRecords of ["per-address", "per-binding"] as const) {
        list.push({ ...base, name: `${dnsRecords}-200-shared`, ...burst(200, 1), dnsRecords, binders: ["ours"], background: config.background });
    }
    for (const launches of [50, 200, 500]) {
        list.push({
            ...base,
            name: `per-address-${launches}-transient`,
            ...burst(launches, 1),
            faults: "transient",
            faultRate: config.transientRate,
            binders: launches === 500 ? ["ours"] : both,
        });
    }
    // The reconciler racing the burst: its binds and releases against the binder's.
    list.push({ ...base, name: "per-address-200-reconciling", ...burst(200, 1), binders: ["ours"], reconcileEveryMs: config.reconcileEveryMs });
    list.push({ ...base, name: "per-address-200-failing", ...burst(200, 1), faults: "failing", faultRate: config.failingRate });
    // Karpenter replacing the whole fleet, the pool exactly its size: ours beside ours with hand-over off (baseline.ts).
    for (const fleet of [50, 200]) {
        list.push({ ...base, kind: "replacement", name: `replacement-${fleet}`, ...burst(fleet, 1), binders: ["ours", "no-handover"] });
    }
    // Spot reclaiming 50 bound workers: warnings over 5 s, and all at once.
    for (const [tag, warningSpreadMs] of [["", 5_000], ["-at-once", 0]] as const) {
        list.push({ ...base, kind: "spot-reclaim", name: `spot-reclaim-50${tag}`, ...burst(50, 1), binders: ["ours"], warningSpreadMs });
    }
    // A boot storm through the node hooks: each worker binds itself at boot (hooks.ts); per-address-200 is the same storm through events.
    list.push({ ...base, name: "hooks-200", ...burst(200, 1), binders: ["hooks"] });
    return list.filter(s => !config.only || config.only.test(s.name));
}
