// Small canonical scenarios for the systematic search: each is a named part of a
// Plan over the defaults below (two tagged workers, two addresses, one reconciler
// run, the scheduler handing out a server once, no faults, a fixed EC2 seed), so
// that an actor added to Plan gets a default here and a scenario of its own.
import type { Plan, WorkerPlan } from "./plan";

export const DEFAULT_PLAN: Plan = {
    dnsRecords: "per-address",
    dnsName: "{ip-dashed}.{suffix}",
    spareAddresses: 0,
    workers: [worker(), worker()],
    duplicates: [],
    batchSize: 1,
    reconcilerRuns: 1,
    allocations: 1,
    hand: null,
    cli: null,
    faults: [],
    readLagMs: 1_000,
    ec2Seed: 7,
    insyncPolls: 0,
    timeoutSlackMs: null,
    freezeHookAt: null,
    conflicts: false,
    forged: null,
};

function worker(changes: Partial<WorkerPlan> = {}): WorkerPlan {
    return { tagged: true, stopStart: false, terminate: false, twoCards: false, drain: null, hook: null, ...changes };
}

export interface Scenario {
    description: string;
    plan: Partial<Plan>;
}

/** One worker: small enough to enumerate at bound 2 in seconds (`npm test` does). */
const ALONE = { workers: [worker({ drain: "spot-interruption" })], readLagMs: 0 } as const;

export const SCENARIOS: Record<string, Scenario> = {
    "stop-start": {
        description: "two workers, one stopped and started again while the other binds",
        plan: { workers: [worker({ stopStart: true }), worker()] },
    },
    drain: {
        description: "two workers, one warned of a Spot interruption while it binds",
        plan: { workers: [worker({ drain: "spot-interruption" }), worker()] },
    },
    release: {
        description: "two workers, one terminated, its address released",
        plan: { workers: [worker({ terminate: true }), worker()] },
    },
    "drain-alone": {
        description: "one worker warned of a Spot interruption while it binds, EC2 without lag, the scheduler allocating, no reconciler run",
        plan: { ...ALONE, workers: [...ALONE.workers], reconcilerRuns: 0 },
    },
    "drain-alone-reconciled": {
        description: "drain-alone with one reconciler run",
        plan: { ...ALONE, workers: [...ALONE.workers] },
    },
    forged: {
        description: "two workers, a forged Spot warning for one of them while it binds and the scheduler allocates",
        plan: { forged: { kind: "spot-interruption", worker: 0 }, readLagMs: 0, reconcilerRuns: 0 },
    },
    pair: {
        description: "two workers that launch together, EC2 without lag, neither the scheduler nor a reconciler run",
        plan: { readLagMs: 0, reconcilerRuns: 0, allocations: 0 },
    },
};

export function scenarioPlan(name: string): Plan {
    const scenario = SCENARIOS[name];
    if (!scenario) throw new Error(`no scenario ${name}; there are ${Object.keys(SCENARIOS).join(", ")}`);
    return { ...DEFAULT_PLAN, ...scenario.plan };
}
