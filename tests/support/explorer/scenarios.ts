// Small canonical scenarios for the systematic search: each is a named part of a
// Plan over the defaults below (two tagged workers, two addresses, one reconciler
// run, the scheduler handing out a server once, no faults, a fixed EC2 seed), so
// that an actor added to Plan gets a default here and a scenario of its own.
import type { Plan, WorkerPlan } from "./plan";
import type { SystematicWorld } from "./run";

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
    leftoverNames: false,
};

function worker(changes: Partial<WorkerPlan> = {}): WorkerPlan {
    return { tagged: true, stopStart: false, terminate: false, twoCards: false, drain: null, hook: null, ...changes };
}

export interface Scenario {
    description: string;
    plan: Partial<Plan>;
    /** The actors whose EC2 reads lag the whole window (see SystematicWorld); none by default. */
    laggingReaders?: string[];
}

/** One worker: small enough to enumerate at bound 2 in seconds (`npm test` does). */
const ALONE = { workers: [worker({ drain: "spot-interruption" })], readLagMs: 0 } as const;

/** One worker, a spare address, no scheduler: the review's breaks, each staged by what it needs. */
const BREAK = { workers: [worker()], spareAddresses: 1, allocations: 0, reconcilerRuns: 0, readLagMs: 0 } as const;

export const SCENARIOS: Record<string, Scenario> = {
    // The canonical ones: two workers, two addresses, one stop, drain or release, one hook, one reconciler run.
    "stop-start": {
        description: "two workers, one stopped and started again while the other binds through its node hook",
        plan: { workers: [worker({ stopStart: true }), worker({ hook: "bind" })] },
    },
    drain: {
        description: "two workers, one warned of a Spot interruption while the other binds through its node hook",
        plan: { workers: [worker({ drain: "spot-interruption" }), worker({ hook: "bind" })] },
    },
    release: {
        description: "two workers, one terminated and its address released while the other binds through its node hook",
        plan: { workers: [worker({ terminate: true }), worker({ hook: "bind" })] },
    },
    // Break 3: a row whose address is on nothing.
    "lost-associate": {
        description: "one worker, two addresses, its launch delivered twice; its first AssociateAddress takes effect but answers an error the SDK gives up on",
        plan: { ...BREAK, workers: [...BREAK.workers], duplicates: [true], faults: [{ action: "AssociateAddress", nth: 1, kind: "after" }] },
    },
    // Break 4: orphan-row deletes a live, allocated row.
    "lagging-reconciler": {
        description: "one worker bound and handed out while a reconciler run reads EC2 as it was before the launch (instance pending, address free)",
        plan: { ...BREAK, workers: [...BREAK.workers], allocations: 1, reconcilerRuns: 1, readLagMs: 1_000 },
        laggingReaders: ["reconciler#1"],
    },
    // Break 6: stale-record deletes a new binding's name.
    "stale-record-race": {
        description: "one worker binding, with names per binding that carry only the IP, left from earlier bindings, while a reconciler run removes stale names",
        plan: { ...BREAK, workers: [...BREAK.workers], reconcilerRuns: 1, dnsRecords: "per-binding", dnsName: "{ip-dashed}.{suffix}", leftoverNames: true },
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

function scenario(name: string): Scenario {
    const found = SCENARIOS[name];
    if (!found) throw new Error(`no scenario ${name}; there are ${Object.keys(SCENARIOS).join(", ")}`);
    return found;
}

export function scenarioPlan(name: string): Plan {
    return { ...DEFAULT_PLAN, ...scenario(name).plan };
}

export function scenarioWorld(name: string): SystematicWorld {
    return { laggingReaders: scenario(name).laggingReaders ?? [] };
}
