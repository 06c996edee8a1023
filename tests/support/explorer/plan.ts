// What one explored run sets in motion, drawn by fast-check from its seed (and
// shrunk by it when a run fails): the workers' lives (drain signals and node hook
// calls included), the pool's size, the messages about them, the reconciler runs,
// the scheduler's allocations and frees, a hand-made change, an operator's CLI
// command, a forged drain signal, and how weak the world is: faults, Route53's INSYNC delay, Lambda
// timeouts, a frozen hook environment and DynamoDB transactions that conflict.
import fc from "fast-check";
import type { DnsRecordsMode } from "../../../binder/config";
import type { DrainSignalKind } from "../world";

export interface WorkerPlan {
    /** Carries the instance tags (an untagged instance must cost one read and nothing else). */
    tagged: boolean;
    /** Stopped and started again after it first runs. */
    stopStart: boolean;
    /** Terminated at the end of its script. */
    terminate: boolean;
    /** Has a second network card, whose device-0 interface EC2 lists first. */
    twoCards: boolean;
    /** A signal that it goes (Spot interruption, rebalance, scheduled change), sent once at some point while it runs. */
    drain: DrainSignalKind | null;
    /**
     * What the worker asks of its node hook once it runs: `bind` at boot; `drain-then-bind`
     * also drains itself (a pod's preStop) and then asks to be bound again (the next pod).
     */
    hook: HookPlan | null;
}

export type HookPlan = "bind" | "drain-then-bind";

/** What an operator does with the CLI, on the first worker, at some moment of the run. */
export type CliPlan = "release" | "drain" | "drain-undrain" | "reconcile";

export type HandDrift = "delete-row" | "disassociate" | "delete-record" | "untag-address";

export type FaultKind =
    /** The call fails and changes nothing. */
    | "before"
    /** The call takes effect and its response is lost, with an error the SDK does not retry. */
    | "after"
    /** The call takes effect and its response is lost with a 500, which the SDK retries. */
    | "lost";

export interface FaultPlan {
    /** The number of the released AWS call it hits (1 = the first of the run)… */
    call?: number;
    /** …or the `nth` released call of this action (`AssociateAddress`, say). */
    action?: string;
    nth?: number;
    kind: FaultKind;
}

/** Someone who can send to the event queue writes a drain signal AWS never sent, for a worker, at some moment. */
export interface ForgedPlan {
    kind: "spot-interruption" | "scheduled-change";
    /** The worker it names (an index into workers). */
    worker: number;
}

export interface Plan {
    dnsRecords: DnsRecordsMode;
    /** Name template: per-address names carry the IP; per-binding may carry the instance id. */
    dnsName: string;
    /** Addresses beyond one per worker; -1: one short, so a worker waits for another's release. */
    spareAddresses: number;
    workers: WorkerPlan[];
    /** Which messages the queue delivers twice, in the order they are sent. */
    duplicates: boolean[];
    /** Up to how many messages one binder invocation takes. */
    batchSize: number;
    reconcilerRuns: number;
    /** Times the scheduler acts: hands out a free server, or frees one it handed out. */
    allocations: number;
    hand: HandDrift | null;
    cli: CliPlan | null;
    faults: FaultPlan[];
    /** How far EC2 reads may lag its writes (virtual ms). */
    readLagMs: number;
    /** Seeds the EC2 model's choices: each read's lag, each remap. */
    ec2Seed: number;
    /** GetChange answers that say PENDING before a Route53 change is INSYNC. */
    insyncPolls: number;
    /**
     * The invocations' Lambda timeout, beyond the time a bind needs to start (virtual ms):
     * an invocation still at work then is cut off at its next AWS call. Null: never.
     */
    timeoutSlackMs: number | null;
    /** A node hook's environment is frozen at this AWS call of its work (after it answered) and thawed later. */
    freezeHookAt: number | null;
    /** DynamoDB transactions stay open for a step, so that others meet them (TransactionConflict). */
    conflicts: boolean;
    /** A forged drain signal: it must change nothing. */
    forged: ForgedPlan | null;
    /**
     * Per binding: every address's name is left from an earlier binding (an A record alone,
     * as the binder wrote before names carried their owner), with no lock. Only the
     * systematic scenarios stage it.
     */
    leftoverNames: boolean;
}

/**
 * Every run has EC2 lag and at least six actors: two workers, a binder invocation,
 * a reconciler run and two passes of the scheduler (and often many more).
 */
export const planArbitrary: fc.Arbitrary<Plan> = fc
    .record({
        perBinding: fc.boolean(),
        instanceIdNames: fc.boolean(),
        spareAddresses: fc.integer({ min: -1, max: 1 }),
        workers: fc.array(fc.record({
            untagged: fc.integer({ min: 0, max: 5 }), stopStart: fc.boolean(), terminate: fc.boolean(), twoCards: fc.boolean(),
            drain: fc.option(fc.constantFrom<DrainSignalKind>("spot-interruption", "rebalance-recommendation", "scheduled-change"), { freq: 2 }),
            hook: fc.option(fc.constantFrom<HookPlan>("bind", "drain-then-bind"), { freq: 2 }),
        }), { minLength: 2, maxLength: 3 }),
        duplicates: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        batchSize: fc.integer({ min: 1, max: 3 }),
        reconcilerRuns: fc.integer({ min: 1, max: 2 }),
        allocations: fc.integer({ min: 3, max: 8 }),
        hand: fc.option(fc.constantFrom<HandDrift>("delete-row", "disassociate", "delete-record", "untag-address"), { freq: 2 }),
        cli: fc.option(fc.constantFrom<CliPlan>("release", "drain", "drain-undrain", "reconcile"), { freq: 3 }),
        faults: fc.array(fc.record({ call: fc.integer({ min: 1, max: 60 }), kind: fc.constantFrom<FaultKind>("before", "after", "lost") }), { maxLength: 2 }),
        readLagMs: fc.constantFrom(1_000, 3_000, 8_000),
        ec2Seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        insyncPolls: fc.integer({ min: 0, max: 2 }),
        timeoutSlackMs: fc.option(fc.integer({ min: 1, max: 80 }).map(seconds => seconds * 1000), { freq: 3 }),
        freezeHookAt: fc.option(fc.integer({ min: 1, max: 8 }), { freq: 2 }),
        conflicts: fc.boolean(),
        forged: fc.option(fc.record({ kind: fc.constantFrom<ForgedPlan["kind"]>("spot-interruption", "scheduled-change"), worker: fc.integer({ min: 0, max: 2 }) }), { freq: 2 }),
    })
    .map(raw => ({
        dnsRecords: raw.perBinding ? "per-binding" : "per-address",
        dnsName: raw.perBinding && raw.instanceIdNames ? "{instance-id}.{suffix}" : "{ip-dashed}.{suffix}",
        spareAddresses: raw.spareAddresses,
        // One worker in six is not a target.
        // An operator's undrain ends every cause the binder has recorded when it reads them; which of a
        // signal still on its way that is, the run cannot tell, so the worker it undrains gets no other drain.
        workers: raw.workers.map(({ untagged, stopStart, terminate, twoCards, drain, hook }, i) => {
            const undrained = i === 0 && raw.cli === "drain-undrain";
            return { tagged: untagged !== 0, stopStart, terminate, twoCards, drain: undrained ? null : drain, hook: undrained && hook === "drain-then-bind" ? "bind" : hook };
        }),
        duplicates: raw.duplicates,
        batchSize: raw.batchSize,
        reconcilerRuns: raw.reconcilerRuns,
        allocations: raw.allocations,
        hand: raw.hand === "delete-record" && !raw.perBinding ? "delete-row" : raw.hand,
        cli: raw.cli,
        faults: raw.faults,
        readLagMs: raw.readLagMs,
        ec2Seed: raw.ec2Seed,
        insyncPolls: raw.perBinding ? raw.insyncPolls : 0,
        timeoutSlackMs: raw.timeoutSlackMs,
        freezeHookAt: raw.freezeHookAt,
        conflicts: raw.conflicts,
        forged: raw.forged && { ...raw.forged, worker: raw.forged.worker % raw.workers.length },
        leftoverNames: false,
    }));
