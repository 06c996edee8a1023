// One explored run: a world of stand-ins (EC2 with lagging reads, Route53,
// dynalite) in which workers live out their plan, the event queue delivers
// messages about them (duplicated, in any order, again after a failure), binder
// invocations, reconciler runs, the scheduler and an operator act concurrently,
// and every AWS call waits for the scheduler. Then, with no new events, the
// reconciler runs at most twice and the state must be exactly right.
import { DeleteItemCommand, DeleteTableCommand, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { EC2Client } from "@aws-sdk/client-ec2";
import { Route53Client } from "@aws-sdk/client-route-53";
import { ConfiguredRetryStrategy } from "@smithy/core/retry";
import { QueueBatch } from "../../../binder/batch";
import { EC2_RETRY, RETRY } from "../../../binder/aws/clients";
import { BinderSettings } from "../../../binder/config";
import { Context, hasTags } from "../../../binder/context";
import { Dns } from "../../../binder/aws/dns";
import { Ec2 } from "../../../binder/aws/ec2";
import { handleBatch } from "../../../binder/handler";
import { createLogger } from "../../../binder/log";
import { createMetrics } from "../../../binder/metrics";
import { Redelivery } from "../../../binder/aws/queue";
import { CLAIM_LEASE_MS, reconcile } from "../../../binder/reconcile";
import { Store } from "../../../binder/aws/store";
import { startDynalite } from "../aws/dynalite";
import { Ec2Model, InstanceState } from "../aws/ec2";
import { AwsGateway } from "../aws/gateway";
import { Gate, inProcessHandler } from "../aws/in-process";
import { Route53Model } from "../aws/route53";
import { SqsModel } from "../aws/sqs";
import { ADDRESS_TAGS, awsSignal, createBinderTables, drainSignal, INSTANCE_TAGS, stateChange, ZONE } from "../world";
import { seeded } from "../seeded";
import { answerHook, HookSetting } from "../../../binder/hooks";
import { renderName } from "../../../binder/naming";
import { nodeRole } from "../../../binder/identity";
import { TIME_TO_START_MS } from "../../../binder/deadline";
import { IN_SYNC_WAIT } from "../../../binder/aws/dns";
import { releaseCommand } from "../../../cli/release";
import { drainCommand, undrainCommand } from "../../../cli/drain";
import { reconcileCommand } from "../../../cli/reconcile";
import { callers, hookRequest } from "../hooks";
import { ACCOUNT, NODE_ROLE_ARN } from "../world";
import { SchedulerClient } from "../../../scheduler";
import { Allocation, checkFinal, checkStep, Facts, StepState, stepState, Violation } from "./invariants";
import { CliPlan, HookPlan, Plan } from "./plan";
import { Lifetime, StepScheduler, Steps } from "./steps";
import { callFootprint, EVERYTHING } from "./footprint";

/** Virtual time one released step takes. */
const STEP_MS = 250;
/** SQS: a message received this often goes to the failed-events queue instead. */
const MAX_RECEIVES = 5;
/** The event queue's visibility timeout: when a failed message comes back if nobody hands it back sooner. */
const VISIBILITY_MS = 720_000;
/** Shorter than AWS's hour, so that a run also meets instances EC2 no longer shows. */
const TERMINATED_VISIBLE_MS = 10 * 60 * 1000;
/** The states the stack's rule sends to the event queue. */
const SENT_STATES = ["running", "stopping", "stopped", "shutting-down", "terminated"];
/** The states that say a run is over. */
const GONE_STATES = ["stopping", "stopped", "shutting-down", "terminated"];
/** The INSYNC wait with the shipped limit but a backoff of a millisecond: every poll is a step of its own, on virtual time. */
const QUICK_IN_SYNC = { ...IN_SYNC_WAIT, minDelay: 0.001, maxDelay: 0.002 };
/** How often a worker's user data asks `POST /bind` when the answer is 503. */
const HOOK_ATTEMPTS = 3;
/** How many times an operator's change by hand looks for something to change. */
const HAND_ATTEMPTS = 12;
/** The hook function as the stack configures it. */
const HOOK_SETTING: HookSetting = { functionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:explore-hook`, roles: [nodeRole(NODE_ROLE_ARN)!] };

/** A drain as the world knows it: its cause, when it was signalled, whether the binder has handled it, and whether it was ended. */
interface DrainTruth {
    cause: string;
    at: number;
    handled: boolean;
    ended: boolean;
    /** Its every message went to the failed-events queue: whether the binder drained the worker is not known. */
    lost?: boolean;
}

export interface RunResult {
    violations: Violation[];
    /** Reconciler runs it took, after the events, until the state was exactly right; undefined if two were not enough. */
    convergedAfter?: number;
    steps: number;
    /** Workers, binder invocations, reconciler runs, scheduler passes and the operator. */
    actors: number;
    /** The run, step by step: actor, call or move, result. */
    trace: string;
    /** How often each outcome the binder logged came up (drained, handed-over, bound…): what the run exercised. */
    outcomes: Record<string, number>;
}

/** Replacements for the binder's AWS layer: how a test plants a bug to show that the explorer finds it. */
export interface RunOptions {
    store?: (client: DynamoDBClient, settings: BinderSettings) => Store;
    ec2?: (client: EC2Client) => Ec2;
    /** The systematic search's world (below), instead of the random one. */
    systematic?: SystematicWorld;
}

/**
 * The world the systematic search explores, in which steps that touch different
 * things commute: the clock stands still while the steps play (it jumps only when a
 * message comes back after its visibility timeout, a step that touches everything);
 * an EC2 read lags the whole window if its actor is one of `laggingReaders` (it sees
 * nothing written since the run began) and not at all otherwise; the binder's jitter
 * is a constant. The random world draws lags and jitter from streams every step
 * shares, and moves the clock at every step.
 */
export interface SystematicWorld {
    laggingReaders: readonly string[];
}

interface Message {
    id: string;
    instanceId: string;
    /** The state it announces, or the drain signal it carries. */
    says: string;
    event: Record<string, unknown>;
    receiveCount: number;
    visibleAt: number;
    status: "queued" | "in-flight" | "done" | "dead";
    /** The step after which it was done. */
    doneStep?: number;
    /** The run of the instance (its launch time) when the message was sent. */
    run: number;
    /** The drain the message signals, if it does. */
    drain?: DrainTruth;
    /** Done while EC2 still showed its instance (one terminated long ago it no longer shows, and the binder cannot act on it). */
    seen?: boolean;
}

const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

// The run's own bookkeeping, as footprints name it (footprint.ts): the queue as a
// whole (batches, planned duplicates); the count of hooks (the first may be frozen);
// what an operator changed by hand; one message; one worker.
const QUEUE = "world:queue";
const HOOKS = "world:hooks";
const BY_HAND = "world:by-hand";
const messageOf = (id: string) => `world:message#${id}`;
const ALL_MESSAGES = "world:message#*";
/** A worker's drains, its end, and what the scheduler handed out on it. */
const instanceOf = (instanceId: string) => `world:instance#${instanceId}`;
const ALL_INSTANCES = "world:instance#*";

/** A dynalite shared by every run of one process; each run has tables of its own. */
export class Explorer {
    private tables = 0;

    private constructor(private readonly dynamoEndpoint: string, private readonly closeDynamo: () => Promise<void>, private readonly admin: DynamoDBClient) {}

    static async start(): Promise<Explorer> {
        const dynamo = await startDynalite();
        const admin = new DynamoDBClient({ endpoint: dynamo.endpoint, region: "us-east-1", credentials: CREDENTIALS });
        return new Explorer(dynamo.endpoint, dynamo.close, admin);
    }

    async close(): Promise<void> {
        this.admin.destroy();
        await this.closeDynamo();
    }

    async run(plan: Plan, scheduler: StepScheduler, options: RunOptions = {}): Promise<RunResult> {
        const serial = ++this.tables;
        const settings: BinderSettings = {
            stack: "explore",
            instanceTags: INSTANCE_TAGS,
            addressTags: ADDRESS_TAGS,
            hostedZone: ZONE.name,
            hostedZoneId: ZONE.id,
            suffix: ZONE.name,
            dnsName: plan.dnsName,
            dnsTtl: 60,
            dnsRecords: plan.dnsRecords,
            serversTable: `servers-${serial}`,
            claimsTable: `claims-${serial}`,
        };
        await createBinderTables(this.admin, settings);
        const clock = { now: Date.parse("2026-12-01T00:00:00Z") };
        // Terminated instances drop out of DescribeInstances before the final reconciler runs.
        let world: RunWorld | undefined;
        const lagging = options.systematic?.laggingReaders;
        const ec2 = new Ec2Model({
            clock: () => clock.now, readLagMs: plan.readLagMs, random: seeded(plan.ec2Seed), remapChance: 0.5, terminatedVisibleMs: TERMINATED_VISIBLE_MS,
            ...(lagging && { lagFraction: () => (lagging.includes(world?.currentActor() ?? "") ? 0.999 : 0) }),
        });
        const route53 = new Route53Model(ZONE);
        route53.pollsUntilInSync = plan.insyncPolls;
        // With conflicts on, a transaction stays open for a step of its own, so that others meet it.
        const gateway = await AwsGateway.start({
            ec2, route53, sqs: new SqsModel(), dynamoEndpoint: this.dynamoEndpoint,
            ...(plan.conflicts && { holdTransaction: () => world?.commitStep() ?? Promise.resolve() }),
        });
        // The binder's own jitter (its redelivery delays) decides when a message comes
        // back, and so how far the clock jumps: seed it too, so that a seed replays the run.
        const random = Math.random;
        Math.random = options.systematic ? () => 0.5 : seeded(plan.ec2Seed ^ 0x5bd1e995);
        try {
            world = new RunWorld(plan, settings, clock, ec2, route53, gateway, this.admin, scheduler, options);
            return await world.play();
        } finally {
            Math.random = random;
            await gateway.close();
            await this.admin.send(new DeleteTableCommand({ TableName: settings.serversTable }));
            await this.admin.send(new DeleteTableCommand({ TableName: settings.claimsTable }));
        }
    }
}

class RunWorld {
    private readonly steps: Steps;
    private readonly messages: Message[] = [];
    private readonly allocations: Allocation[] = [];
    /** Each worker's drains, in the order they were signalled. */
    private readonly drains = new Map<string, DrainTruth[]>();
    /** What an operator changed by hand, and the step after which: healed once a reconciler run that started after it ends. */
    private readonly byHand = new Map<string, number>();
    /** Workers an operator released with the CLI. */
    private readonly releasedByHand = new Set<string>();
    /** Addresses an operator took out of the pool. */
    private readonly leftPool = new Set<string>();
    /** The state after the last step, to see what the next one removes. */
    private lastState?: StepState;
    private hooks = 0;
    private readonly hooksOf = new Map<string, number>();
    /** When each worker terminated. */
    private readonly terminatedAt = new Map<string, number>();
    /** The steps are being played (the final reconciler runs after, alone). */
    private playing = false;
    /** What an actor's logged outcome tells the world (an operator's undrain that took effect). */
    private readonly onOutcome = new Map<string, (outcome: string) => void>();
    /** At which of its AWS calls an actor's environment is frozen (after its hook answered, as Lambda does). */
    private readonly freezes = new Map<string, number>();
    private readonly callsOf = new Map<string, number>();
    private readonly violations: Violation[] = [];
    private readonly notes: { step: number; actor: string; text: string }[] = [];
    private readonly faults: Map<number, Plan["faults"][number]["kind"]>;
    private readonly duplicates: boolean[];
    private calls = 0;
    /** Calls released so far, by action: a fault may be planned for the nth of an action. */
    private readonly actionCalls = new Map<string, number>();
    private readonly outcomes: Record<string, number> = {};

    constructor(
        private readonly plan: Plan,
        private readonly settings: BinderSettings,
        private readonly clock: { now: number },
        private readonly ec2: Ec2Model,
        private readonly route53: Route53Model,
        private readonly gateway: AwsGateway,
        /** Straight to dynalite, for the checks: not gated, not recorded, never faulted. */
        private readonly direct: DynamoDBClient,
        scheduler: StepScheduler,
        private readonly options: RunOptions,
    ) {
        this.steps = new Steps(scheduler, () => { if (!options.systematic) this.clock.now += STEP_MS; });
        this.faults = new Map(plan.faults.flatMap(f => (f.call === undefined ? [] : [[f.call, f.kind]])));
        this.duplicates = [...plan.duplicates];
    }

    async play(): Promise<RunResult> {
        const { plan, ec2 } = this;
        for (let i = 0; i < Math.max(1, plan.workers.length + plan.spareAddresses); i++) ec2.addAddress({ tags: ADDRESS_TAGS });
        if (plan.leftoverNames) {
            for (const { publicIp } of ec2.addresses()) this.route53.put({ name: renderName(plan.dnsName, { ip: publicIp, suffix: ZONE.name }), type: "A", ttl: 60, values: [publicIp] });
        }
        // Never fewer addresses than one: a run with one short always has a worker that waits.
        // Karpenter's Spot workers: AWS warns of an interruption, or recommends a rebalance, for Spot Instances only.
        const instances = plan.workers.map(w => ec2.addInstance({
            tags: w.tagged ? INSTANCE_TAGS : { team: "other" },
            state: "pending",
            spot: true,
            ...(w.twoCards && { interfaces: [{ deviceIndex: 0, networkCardIndex: 1 }, { deviceIndex: 0, networkCardIndex: 0 }] }),
        }).instanceId);
        // What existed before the run is what every read sees.
        this.clock.now += plan.readLagMs + STEP_MS;

        instances.forEach((instanceId, i) => this.live(instanceId, plan.workers[i]));
        for (let k = 1; k <= plan.reconcilerRuns; k++) this.steps.later("schedule", `reconcile #${k}`, () => this.reconcileNow(`reconciler#${k}`, true));
        this.schedulerActs(1);
        if (plan.hand) this.steps.later("operator", plan.hand, () => this.driftByHand(plan.hand!));
        if (plan.cli && instances.length > 0) this.steps.later("operator", `eip-dns-binder ${plan.cli} ${instances[0]}`, () => this.cli(plan.cli!, instances[0]));
        if (plan.forged) this.forge(plan.forged.kind, instances[plan.forged.worker]);

        this.playing = true;
        await this.steps.run(async () => {
            const snapshot = this.snapshot();
            const after = await stepState(snapshot);
            this.observe(await checkStep(snapshot, this.lastState, after));
            this.lastState = after;
        });
        this.playing = false;
        // The search ended the run at a state it explored before: what follows was checked there.
        if (this.steps.stopped) return this.result();
        return await this.converge();
    }

    // ---- the workers, the queue and the binder ----

    private live(instanceId: string, worker: Plan["workers"][number]): void {
        const states: InstanceState[] = [
            "running",
            ...(worker.stopStart ? ["stopping", "stopped", "pending", "running"] as const : []),
            ...(worker.terminate ? ["shutting-down", "terminated"] as const : []),
        ];
        const next = (i: number) => {
            if (i >= states.length) return;
            const state = states[i];
            this.steps.later(`worker ${instanceId}`, `→ ${state}`, () => {
                // EC2 takes a stopped or terminated instance's addresses off.
                this.touches(true, `ec2:instance#${instanceId}`, "ec2:address#*", instanceOf(instanceId));
                this.ec2.setState(instanceId, state);
                if (state === "terminated") this.terminatedAt.set(instanceId, this.clock.now);
                if (state !== "running") this.retire(a => a.instanceId === instanceId);
                if (SENT_STATES.includes(state)) this.send(instanceId, state, stateChange(instanceId, state));
                // The signal that it goes comes at any moment of its first run, concurrently with the rest of its life.
                if (state === "running" && i === 0 && worker.drain) this.signal(instanceId, worker.drain);
                // So does its node hook: the user data at boot, a pod's preStop and the next pod.
                if (state === "running" && i === 0 && worker.hook) this.callHooks(instanceId, worker.hook);
                next(i + 1);
            });
        };
        next(0);
    }

    /** AWS says the worker goes (if it still runs by then): the scheduler must stop getting it. */
    private signal(instanceId: string, kind: NonNullable<Plan["workers"][number]["drain"]>): void {
        this.steps.later(`worker ${instanceId}`, `${kind} signal`, () => {
            this.touches(false, `ec2:instance#${instanceId}`);
            this.touches(true, instanceOf(instanceId));
            if (this.ec2.instance(instanceId)?.state !== "running") return;
            const truth = this.drainSignalled(instanceId, kind);
            // EC2 shows what the signal says (its reads may lag it): the Spot request marked, the scheduled event.
            this.send(instanceId, kind, awsSignal(this.ec2, kind, [instanceId], new Date(this.clock.now)), truth);
        });
    }

    /**
     * A drain signal AWS never sent, written by someone who can send to the event
     * queue: EC2 shows nothing of it, the world expects no drain, and so a binder
     * that acted on it takes a row (and the scheduler's `allocated`) from a live binding.
     */
    private forge(kind: NonNullable<Plan["forged"]>["kind"], instanceId: string): void {
        this.steps.later("forger", `forged ${kind} for ${instanceId}`, () => {
            this.send(instanceId, `forged ${kind}`, drainSignal(kind, [instanceId], new Date(this.clock.now)));
        });
    }

    /** A drain begins now: what the scheduler handed out on the worker until now is being drained, and its row goes. */
    private drainSignalled(instanceId: string, cause: string): DrainTruth {
        const truth: DrainTruth = { cause, at: this.clock.now, handled: false, ended: false };
        this.drains.set(instanceId, [...(this.drains.get(instanceId) ?? []), truth]);
        this.retire(a => a.instanceId === instanceId);
        return truth;
    }

    /** Ends the drains of `instanceId` that `which` picks (a worker's own, or all signalled so far). */
    private endDrains(instanceId: string, which: (d: DrainTruth) => boolean): void {
        for (const d of this.drains.get(instanceId) ?? []) if (which(d)) d.ended = true;
    }

    // ---- node hooks and the CLI ----

    /** The worker calls its node hook: POST /bind at boot; with `drain-then-bind`, then POST /drain and POST /bind again. */
    private callHooks(instanceId: string, plan: HookPlan): void {
        const calls = plan === "bind" ? ["/bind"] : ["/bind", "/drain", "/bind"];
        const next = (i: number) => {
            if (i >= calls.length) return;
            this.steps.later(`worker ${instanceId}`, `POST ${calls[i]}`, () => {
                this.touches(false, `ec2:instance#${instanceId}`);
                this.touches(true, instanceOf(instanceId));
                if (this.ec2.instance(instanceId)?.state !== "running") return;
                this.hook(instanceId, calls[i], () => next(i + 1));
            });
        };
        next(0);
    }

    /** One invocation of the hook function by the worker's instance-profile session. */
    private hook(instanceId: string, path: string, then: () => void, attempt = 1): void {
        // Named by its worker, so that hooks of different workers do not depend on each other's order.
        const seq = (this.hooksOf.get(instanceId) ?? 0) + 1;
        this.hooksOf.set(instanceId, seq);
        const name = `hook ${instanceId}#${seq}`;
        // Only the run's first hook may be frozen: which that is depends on every hook's order.
        if (this.plan.freezeHookAt !== null) this.touches(true, HOOKS);
        // A pod that asks to be bound again ends its own drain; a preStop drain is signalled now.
        if (path === "/bind") this.endDrains(instanceId, d => d.cause === "node");
        const truth = path === "/drain" ? this.drainSignalled(instanceId, "node") : undefined;
        const freezeAt = ++this.hooks === 1 ? this.plan.freezeHookAt : null;
        const ctx = this.context(name, true, freezeAt ?? undefined);
        this.steps.spawn(name, async () => {
            try {
                const answer = await answerHook(ctx, hookRequest("POST", path, callers.instance(instanceId)), HOOK_SETTING);
                this.touches(true, instanceOf(instanceId));
                // A drain refused or failed part way may or may not be recorded: the worker's next /bind ends it either way.
                if (truth && answer.statusCode === 200) truth.handled = true;
                else if (truth) truth.lost = true;
                this.note(name, `POST ${path} for ${instanceId}: ${answer.statusCode} ${answer.body}`);
                // The user data asks again after a 503, as the node hooks' scripts do (a few times here).
                if (path === "/bind" && answer.statusCode === 503 && attempt < HOOK_ATTEMPTS) {
                    this.steps.later(`worker ${instanceId}`, `POST ${path} again`, () => {
                        this.touches(false, `ec2:instance#${instanceId}`);
                        this.touches(true, instanceOf(instanceId));
                        if (this.ec2.instance(instanceId)?.state === "running") this.hook(instanceId, path, then, attempt + 1);
                        else then();
                    });
                    return;
                }
            } catch (err) {
                this.note(name, `failed: ${String(err)}`);
            }
            then();
        });
    }

    /** An operator's CLI command on a worker, as `eip-dns-binder` runs it. */
    private cli(command: CliPlan, instanceId: string): void {
        this.touches(true, EVERYTHING);
        const name = command === "drain-undrain" ? "cli drain" : `cli ${command}`;
        const ctx = this.context(name);
        const out = (text: string) => this.note(name, text.trim());
        const truth = command.startsWith("drain") ? this.drainSignalled(instanceId, "operator") : undefined;
        if (truth) {
            // The command signals the drain when it first reads the clock, once EC2 has shown it the worker.
            let read = false;
            ctx.now = () => {
                if (!read) {
                    truth.at = this.clock.now;
                    this.touches(true, instanceOf(instanceId));
                }
                read = true;
                return new Date(this.clock.now);
            };
        }
        if (command === "release") this.releasedByHand.add(instanceId);
        const started = this.steps.trace.length;
        this.steps.spawn(name, async () => {
            try {
                // The explored operator means it: a release by hand of a worker that may still run.
                const code = command === "release" ? await releaseCommand(ctx, { instanceId, force: true }, out)
                    : command === "reconcile" ? await reconcileCommand(ctx, { json: false, dryRun: false }, out)
                    : await drainCommand(ctx, instanceId, out);
                this.touches(true, EVERYTHING);
                if (truth && code === 0) truth.handled = true;
                if (command === "reconcile") this.healed(started);
                if (command === "drain-undrain") this.steps.later("operator", `eip-dns-binder undrain ${instanceId}`, () => this.undrain(instanceId));
            } catch (err) {
                // A refusal or a failure part way: whether the drain was recorded is not known.
                if (truth) truth.lost = true;
                this.note(name, `exited: ${String(err)}`);
            }
        });
    }

    /** The operator ends a drain: if the binder ends it, every cause signalled before the command ends. */
    private undrain(instanceId: string): void {
        this.touches(true, EVERYTHING);
        const now = this.clock.now;
        const name = "cli undrain";
        const ctx = this.context(name);
        // The drain ends when the binder ends it, before it publishes the server again.
        this.onOutcome.set(name, outcome => { if (outcome === "undrained") this.endDrains(instanceId, d => d.at <= now); });
        this.steps.spawn(name, async () => {
            try {
                await undrainCommand(ctx, instanceId, text => this.note(name, text.trim()));
            } catch (err) {
                // A failure part way (a delete whose answer was lost, its re-read failing): whether the drain ended is not known.
                for (const d of this.drains.get(instanceId) ?? []) if (d.at <= now && !d.ended) d.lost = true;
                this.note(name, `exited: ${String(err)}`);
            }
        });
    }

    /** EventBridge puts the event in the queue, sometimes twice (at least once delivery). */
    private send(instanceId: string, says: string, event: Record<string, unknown>, drain?: DrainTruth): void {
        // Planned duplicates go to the messages in the order they are sent.
        if (this.duplicates.length > 0) this.touches(true, QUEUE);
        const copies = this.duplicates.shift() ? 2 : 1;
        const run = this.ec2.instance(instanceId)!.launchTime;
        for (let c = 0; c < copies; c++) {
            // Named by its worker, so that messages of different workers do not depend on each other's order.
            const id = `m${this.messages.filter(m => m.instanceId === instanceId).length + 1}@${instanceId}`;
            this.touches(true, messageOf(id));
            const message: Message = { id, instanceId, says, event, receiveCount: 0, visibleAt: this.clock.now, status: "queued", run, drain };
            this.messages.push(message);
            this.offer(message);
        }
    }

    /** The event source mapping polls: a batch of this message and others visible now goes to a new invocation. */
    private offer(message: Message): void {
        this.steps.later("queue", `deliver ${message.id} (${message.instanceId} ${message.says})`, () => {
            this.touches(true, messageOf(message.id));
            // A batch of more than one takes the other messages visible now.
            if (this.plan.batchSize > 1) this.touches(true, QUEUE);
            if (message.status !== "queued") return;
            // The clock jumps: every step after reads it.
            if (message.visibleAt > this.clock.now) this.touches(true, EVERYTHING);
            this.clock.now = Math.max(this.clock.now, message.visibleAt);
            const others = this.messages.filter(m => m !== message && m.status === "queued" && m.visibleAt <= this.clock.now);
            this.invoke([message, ...others.slice(0, this.plan.batchSize - 1)]);
        });
    }

    private invoke(messages: Message[]): void {
        // Named by its first message and its receipt, so that invocations of different messages do not depend on each other's order.
        const name = `binder ${messages[0].id}×${messages[0].receiveCount + 1}`;
        for (const m of messages) {
            m.status = "in-flight";
            m.receiveCount++;
        }
        const handleOf = (m: Message) => `${m.id}/${m.receiveCount}`;
        const batch: QueueBatch = {
            Records: messages.map(m => ({
                messageId: m.id,
                receiptHandle: handleOf(m),
                body: JSON.stringify(m.event),
                attributes: { ApproximateReceiveCount: String(m.receiveCount) },
            })),
        };
        const visibility = new Map<Message, number>();
        const queue = {
            redeliver: async (list: Redelivery[]) => {
                for (const r of list) {
                    const m = messages.find(candidate => handleOf(candidate) === r.receiptHandle);
                    if (m) visibility.set(m, r.delaySeconds * 1000);
                }
                return [];
            },
        };
        // Lambda cuts the invocation off at its timeout: its messages come back once their visibility runs out.
        const deadline = this.plan.timeoutSlackMs === null ? Infinity : this.clock.now + TIME_TO_START_MS + this.plan.timeoutSlackMs;
        const lifetime: Lifetime = {
            expired: () => this.clock.now > deadline,
            onExpiry: () => {
                this.touches(true, EVERYTHING);
                this.note(name, "timed out");
                for (const m of messages) this.comeBack(m, VISIBILITY_MS);
            },
        };
        this.steps.spawn(name, async () => {
            let failed: Set<string>;
            try {
                const response = await handleBatch(this.context(name, true, undefined, deadline), queue, batch);
                failed = new Set(response.batchItemFailures.map(f => f.itemIdentifier));
            } catch (err) {
                this.note(name, `invocation failed: ${String(err)}`);
                failed = new Set(messages.map(m => m.id));
            }
            this.note(name, `batch ${messages.map(m => `${m.id}(${m.instanceId} ${m.says} ×${m.receiveCount})`).join(", ")}: ${failed.size === 0 ? "all done" : `again: ${[...failed].join(", ")}`}`);
            this.touches(true, ...messages.map(m => messageOf(m.id)), ...messages.map(m => instanceOf(m.instanceId)));
            for (const m of messages) {
                if (!failed.has(m.id)) {
                    m.status = "done";
                    m.doneStep = this.steps.trace.length;
                    m.seen = this.shown(m.instanceId);
                    if (m.drain) m.drain.handled = true;
                } else {
                    this.comeBack(m, visibility.get(m) ?? VISIBILITY_MS);
                }
            }
        }, lifetime);
    }

    /** A message its invocation did not finish: SQS delivers it again once it is visible, or moves it to the failed-events queue. */
    private comeBack(m: Message, afterMs: number): void {
        if (m.receiveCount >= MAX_RECEIVES) {
            m.status = "dead";
            // A drain signal in the failed-events queue is lost to the binder until an operator redrives it.
            if (m.drain && !m.drain.handled && this.messages.every(other => other.drain !== m.drain || other.status === "dead")) m.drain.lost = true;
            return;
        }
        m.status = "queued";
        m.visibleAt = this.clock.now + afterMs;
        this.offer(m);
    }

    private reconcileNow(name: string, gated: boolean): Promise<void> {
        const started = this.steps.trace.length;
        const deadline = gated && this.plan.timeoutSlackMs !== null ? this.clock.now + TIME_TO_START_MS + this.plan.timeoutSlackMs : Infinity;
        const run = async () => {
            try {
                const result = await reconcile(this.context(name, gated, undefined, deadline), { dryRun: false });
                const kinds = (list: { kind: string }[]) => list.map(d => d.kind).join(", ") || "none";
                this.note(name, `drift: ${kinds(result.inspection.drift)}; fixed: ${kinds(result.fixed)}; failed: ${kinds(result.failed.map(f => f.drift))}`);
                this.touches(true, BY_HAND);
                this.healed(started);
            } catch (err) {
                this.note(name, `run failed: ${String(err)}`);
            }
        };
        if (!gated) return run();
        this.steps.spawn(name, run, { expired: () => this.clock.now > deadline, onExpiry: () => this.note(name, "timed out") });
        return Promise.resolve();
    }

    /** A reconciler run that started after step `started` has ended: what was changed by hand before it is healed. */
    private healed(started: number): void {
        for (const [what, step] of this.byHand) if (step < started) this.byHand.delete(what);
    }

    // ---- the scheduler and the operator ----

    /**
     * The scheduler acts again and again while the run goes on, each act a step the
     * scheduler of steps places anywhere: every other act frees a server it handed out
     * (if it has one), the others hand a free server out.
     */
    private schedulerActs(k: number): void {
        if (k > this.plan.allocations) return;
        const freeing = k % 2 === 0 && this.allocations.some(a => a.live);
        this.steps.later("scheduler", `${freeing ? "free a server" : "look for a free server"} #${k}`, () => {
            this.touches(true, ALL_INSTANCES);
            if (freeing) this.free(`scheduler#${k}`);
            else this.allocate(`scheduler#${k}`);
            this.schedulerActs(k + 1);
        });
    }

    /** The scheduler's client of the servers table, its calls through the actor's gate. */
    private schedulerClient(client: DynamoDBClient): SchedulerClient {
        // The first candidate in the index's order, so that a run replays exactly.
        return new SchedulerClient({ table: this.settings.serversTable, dynamodb: client, now: () => new Date(this.clock.now), random: () => 0 });
    }

    /** A stream ends: the client releases its server, on the condition of the row's run and owner. */
    private free(name: string): void {
        const allocation = this.allocations.find(a => a.live);
        if (!allocation) return;
        allocation.live = false;
        const client = this.dynamoClient(name);
        this.steps.spawn(name, async () => {
            try {
                const outcome = await this.schedulerClient(client).release(allocation.allocation);
                this.note(name, `freed ${allocation.publicIp} on ${allocation.instanceId}: ${outcome}`);
            } catch (err) {
                this.note(name, `gave up freeing: ${String(err)}`);
            } finally {
                client.destroy();
            }
        });
    }

    /** The scheduler hands a server to a stream through the client, by zone with a fallback to any. */
    private allocate(name: string): void {
        const client = this.dynamoClient(name);
        this.steps.spawn(name, async () => {
            try {
                const got = await this.schedulerClient(client).allocate([{ availabilityZone: "us-east-1a" }, {}], { owner: "scheduler" });
                const allocated = this.steps.trace.length;
                // What the run knows of drains, and which messages are done.
                this.touches(false, ALL_MESSAGES, ALL_INSTANCES);
                if (!got) return;
                this.checkNotDraining(got.instanceId, got.launchedAt, allocated);
                this.checkNotLeaving(got.instanceId, got.launchedAt);
                this.touches(false, `ec2:instance#${got.instanceId}`, "ec2:address#*");
                this.touches(true, ALL_INSTANCES);
                const allocation = { publicIp: got.publicIp, dnsName: got.dnsName, instanceId: got.instanceId, allocationId: got.allocationId ?? "", live: true, allocation: got,
                    ...(got.launchedAt !== undefined && { run: Date.parse(got.launchedAt) }) };
                // A server that is going away when it is handed out, whose row is of an earlier run of the
                // instance (before a stop and start, its withdrawal still on its way), or whose drain signal
                // was sent (its handling still on its way), is not one that stayed bound.
                const instance = this.ec2.instance(allocation.instanceId);
                allocation.live = instance?.state === "running" && this.ec2.address(allocation.allocationId)?.association?.instanceId === allocation.instanceId
                    && got.launchedAt === new Date(instance.launchTime).toISOString()
                    && !this.facts().draining(allocation.instanceId, instance.launchTime)
                    && !this.releasedByHand.has(allocation.instanceId);
                this.allocations.push(allocation);
                this.note(name, `allocated ${allocation.publicIp} on ${allocation.instanceId}`);
            } catch (err) {
                this.note(name, `gave up: ${String(err)}`);
            } finally {
                client.destroy();
            }
        });
    }

    /**
     * No stream is placed on a server whose worker's stop or termination the binder had
     * handled when it was allocated (its row warned and withdrawn); a drain is
     * `allocated-while-draining`'s.
     */
    private checkNotLeaving(instanceId: string, launchedAt: string | undefined): void {
        const run = launchedAt === undefined ? this.ec2.instance(instanceId)?.launchTime : Date.parse(launchedAt);
        if (run === undefined || !this.facts().goneHandled(instanceId, run)) return;
        this.observe([{ invariant: "placed-on-leaving", detail: `the scheduler placed a stream on ${instanceId}'s run of ${launchedAt} after the binder had handled its stop or termination` }]);
    }

    /**
     * Once the binder has handled a worker's drain signal, the scheduler must never
     * again find that run of it free on the list (a run started after the signal is
     * served again).
     */
    private checkNotDraining(instanceId: string, launchedAt: string | undefined, scanned: number): void {
        const run = launchedAt === undefined ? this.ec2.instance(instanceId)?.launchTime : Date.parse(launchedAt);
        if (run === undefined || !this.facts().drainHandled(instanceId, run)) return;
        const handled = this.messages.find(m => m.instanceId === instanceId && m.drain !== undefined && m.doneStep !== undefined && m.doneStep < scanned);
        this.observe([{ invariant: "allocated-while-draining", detail: `the scheduler found ${instanceId} free after its drain${handled ? ` (${handled.says}, ${handled.id})` : ""} was handled` }]);
    }

    /**
     * What an operator does in the console: the reconciler must heal it. A change
     * that finds nothing to change yet (nothing bound, named or listed) comes again
     * later, a few times, so that it lands on a binding rather than on an empty world.
     */
    private driftByHand(kind: NonNullable<Plan["hand"]>, attempt = 1): void {
        const again = () => {
            if (attempt < HAND_ATTEMPTS) this.steps.later("operator", `${kind} (again)`, () => this.driftByHand(kind, attempt + 1));
        };
        this.touches(true, EVERYTHING);
        if (kind === "disassociate") {
            const address = this.ec2.addresses().find(a => a.association);
            if (!address) return again();
            this.retire(a => a.allocationId === address.allocationId);
            this.byHand.set(`association:${address.allocationId}`, this.steps.trace.length);
            this.ec2.disassociateAddress({ associationId: address.association!.associationId });
            this.note("operator", `disassociated ${address.publicIp} from ${address.association!.instanceId}`);
        } else if (kind === "untag-address") {
            const address = this.ec2.addresses().find(a => a.association && hasTags(a.tags, this.settings.addressTags));
            if (!address) return again();
            this.leftPool.add(address.allocationId);
            this.ec2.setAddressTags(address.allocationId, {});
            this.note("operator", `removed the pool tags of ${address.publicIp}, on ${address.association!.instanceId}`);
        } else if (kind === "delete-record") {
            const record = this.route53.records("A")[0];
            if (!record) return again();
            this.byHand.set(`name:${record.name.replace(/\.$/, "")}`, this.steps.trace.length);
            this.route53.changeResourceRecordSets(ZONE.id, [{ action: "DELETE", record }]);
            this.note("operator", `deleted the record ${record.name}`);
        } else {
            const actor = attempt === 1 ? "operator" : `operator#${attempt}`;
            const client = this.dynamoClient(actor);
            this.steps.spawn(actor, async () => {
                try {
                    const row = (await client.send(new ScanCommand({ TableName: this.settings.serversTable }))).Items?.[0];
                    if (!row) return again();
                    this.byHand.set(`row:${row.EIP.S}`, this.steps.trace.length);
                    this.touches(true, EVERYTHING);
                    await client.send(new DeleteItemCommand({
                        TableName: this.settings.serversTable, Key: { EIP: row.EIP, DNS_Record: row.DNS_Record },
                    }));
                    // Whatever the scheduler handed out on that row until now, the operator took away.
                    this.retire(a => a.publicIp === row.EIP.S);
                    this.touches(true, EVERYTHING);
                    this.note("operator", `deleted the row of ${row.EIP.S}`);
                } catch (err) {
                    this.note("operator", `gave up: ${String(err)}`);
                } finally {
                    client.destroy();
                }
            });
        }
    }

    private retire(which: (a: Allocation) => boolean): void {
        for (const a of this.allocations) if (which(a)) a.live = false;
    }

    /** The step being taken reads or writes these parts of the world (for the systematic search's reduction). */
    private touches(write: boolean, ...resources: string[]): void {
        for (const r of resources) this.steps.touch(r, write);
    }

    /** The actor of the step being taken. */
    currentActor(): string | undefined {
        return this.steps.trace[this.steps.trace.length - 1]?.actor;
    }

    /** The commit of the transaction in flight: a step of its own, after its begin. */
    commitStep(): Promise<void> {
        // Once the events are done the final reconciler runs alone, ungated: its transactions commit at once.
        return this.playing ? this.steps.hold("… commit") : Promise.resolve();
    }

    // ---- convergence and checks ----

    private async converge(): Promise<RunResult> {
        const done = () => this.result();
        const pending = this.messages.filter(m => m.status === "queued" || m.status === "in-flight");
        if (pending.length > 0) this.violations.push({ invariant: "queue-drained", detail: `messages left: ${pending.map(m => m.id).join(", ")}` });
        // No new events for a while: EC2 has caught up and every lease has run out.
        this.clock.now += CLAIM_LEASE_MS + this.plan.readLagMs + 60_000;
        for (let run = 1; run <= 2; run++) {
            await this.reconcileNow(`final reconciler#${run}`, false);
            const violations = await checkFinal(this.snapshot());
            if (violations.length === 0) {
                const snapshot = this.snapshot();
                this.violations.push(...(await checkStep(snapshot, undefined, await stepState(snapshot))));
                return { ...done(), convergedAfter: run };
            }
            if (run === 2) this.violations.push(...violations);
        }
        return done();
    }

    private observe(violations: Violation[]): void {
        const step = this.steps.trace.length;
        for (const v of violations) {
            if (!this.violations.some(seen => seen.invariant === v.invariant && seen.detail === v.detail)) this.violations.push({ ...v, step });
        }
    }

    /** What the actors know, for the checks. */
    private facts(): Facts {
        const holding = (id: string, run: number) => (this.drains.get(id) ?? []).filter(d => !d.ended && run <= d.at);
        return {
            goneHandled: (id, run) => this.messages.some(m => m.instanceId === id && m.run === run && GONE_STATES.includes(m.says) && m.status === "done" && m.seen === true),
            drainHandled: (id, run) => holding(id, run).some(d => d.handled && !d.lost),
            draining: (id, run) => holding(id, run).length > 0,
            byHand: what => this.byHand.has(what),
            releasedByHand: id => this.releasedByHand.has(id),
            leftPool: allocationId => this.leftPool.has(allocationId),
        };
    }

    /** Whether DescribeInstances still shows the instance: EC2 stops showing one terminated a while ago. */
    private shown(instanceId: string): boolean {
        const terminated = this.terminatedAt.get(instanceId);
        return terminated === undefined || this.clock.now - terminated < TERMINATED_VISIBLE_MS;
    }

    /** When each worker's latest drain that was not ended was signalled. */
    private signalled(): Map<string, number> {
        const latest = new Map<string, number>();
        for (const [id, drains] of this.drains) {
            const at = Math.max(...drains.filter(d => !d.ended).map(d => d.at));
            if (Number.isFinite(at)) latest.set(id, at);
        }
        return latest;
    }

    private snapshot() {
        return {
            settings: this.settings,
            facts: this.facts(),
            signalled: this.signalled(),
            uncertain: new Set([...this.drains].flatMap(([id, drains]) => (drains.some(d => d.lost && !d.ended) ? [id] : []))),
            ec2: this.ec2,
            route53: this.route53,
            allocations: this.allocations,
            rows: async () => (await this.direct.send(new ScanCommand({ TableName: this.settings.serversTable, ConsistentRead: true }))).Items ?? [],
            bookkeeping: async () => (await this.direct.send(new ScanCommand({ TableName: this.settings.claimsTable, ConsistentRead: true }))).Items ?? [],
        };
    }

    private result(): RunResult {
        // The workers act too: they launch, stop, start and terminate.
        return { violations: this.violations, steps: this.steps.trace.length, actors: this.plan.workers.length + this.steps.actorCount(), trace: this.formatTrace(), outcomes: this.outcomes };
    }

    private formatTrace(): string {
        const outcome = new Map(this.gateway.calls.map(c => [c.input, c]));
        const lines: string[] = [];
        let n = 0;
        for (const entry of this.steps.trace) {
            const call = entry.input === undefined ? undefined : outcome.get(entry.input);
            const result = !call ? "" : call.outcome === "ok" ? (call.injected ? ` → ok, response lost (${call.errorCode})` : " → ok") : ` → ${call.errorCode}${call.injected ? " (injected)" : ""}`;
            lines.push(`#${entry.step} ${entry.actor}: ${entry.what}${result}`);
            while (n < this.notes.length && this.notes[n].step <= entry.step) {
                lines.push(`      ${this.notes[n].actor}: ${this.notes[n].text}`);
                n++;
            }
        }
        for (; n < this.notes.length; n++) lines.push(`      ${this.notes[n].actor}: ${this.notes[n].text}`);
        return lines.join("\n");
    }

    private note(actor: string, text: string): void {
        this.notes.push({ step: this.steps.trace.length, actor, text });
    }

    // ---- each actor's clients ----

    /** The gate of an actor's calls: wait for the scheduler, then arm the fault planned for this call, if any. */
    private gate(actor: string): Gate {
        return {
            enter: async call => {
                const made = (this.callsOf.get(actor) ?? 0) + 1;
                this.callsOf.set(actor, made);
                if (this.freezes.get(actor) === made) {
                    // The environment is frozen between invocations and thawed by a later one, whenever that comes.
                    this.touches(true, EVERYTHING);
                    this.steps.freeze(actor);
                    this.note(actor, "environment frozen");
                    this.steps.later("lambda", `thaw ${actor}`, () => this.steps.thaw(actor));
                }
                await this.steps.gate(actor, `${call.service}:${call.action} ${describeCall(call.input)}`, call.input);
                const footprint = callFootprint(call.service, call.action, call.input);
                this.touches(false, ...footprint.reads);
                this.touches(true, ...footprint.writes);
                // A fault planned by number counts calls across actors: the counting is a shared write.
                if (this.faults.size > 0) this.touches(true, "faults:calls");
                if (this.plan.faults.some(f => f.action === call.action)) this.touches(true, `faults:${call.action}`);
                const released = ++this.calls;
                const nth = (this.actionCalls.get(call.action) ?? 0) + 1;
                this.actionCalls.set(call.action, nth);
                const kind = this.faults.get(released) ?? this.plan.faults.find(f => f.action === call.action && f.nth === nth)?.kind;
                if (!kind) return;
                this.gateway.inject({
                    service: call.service, action: call.action, match: c => c.input === call.input,
                    when: kind === "before" ? "before" : "after",
                    ...(kind === "lost" && { code: "InternalError", status: 500 }),
                });
            },
            leave: () => this.steps.landed(),
        };
    }

    private dynamoClient(actor?: string): DynamoDBClient {
        return new DynamoDBClient({ ...this.clientOptions(actor, RETRY.maxAttempts) });
    }

    private clientOptions(actor: string | undefined, maxAttempts: number) {
        return {
            region: "us-east-1",
            credentials: CREDENTIALS,
            requestHandler: inProcessHandler(this.gateway, actor === undefined ? undefined : this.gate(actor)),
            // The shipped attempts, without the backoff's real-time sleeps.
            maxAttempts,
            retryStrategy: new ConfiguredRetryStrategy(maxAttempts, 0),
        };
    }

    /** An invocation's context: the binder's own AWS layer over clients whose calls pass the actor's gate. */
    private context(actor: string, gated = true, freezeAt?: number, deadline = Infinity): Context {
        const who = gated ? actor : undefined;
        if (freezeAt !== undefined) this.freezes.set(actor, freezeAt);
        const dynamodb = this.dynamoClient(who);
        const log = createLogger(line => {
            const entry = JSON.parse(line) as { level: string; message: string; outcome?: string; error?: { name?: string } };
            if (entry.outcome) {
                this.outcomes[entry.outcome] = (this.outcomes[entry.outcome] ?? 0) + 1;
                const told = this.onOutcome.get(actor);
                if (told) this.touches(true, EVERYTHING);
                told?.(entry.outcome);
            }
            if (entry.level !== "INFO" || entry.outcome) this.note(actor, `${entry.level} ${entry.message}${entry.outcome ? ` [${entry.outcome}]` : ""}${entry.error?.name ? ` (${entry.error.name})` : ""}`);
        });
        return {
            settings: this.settings,
            ec2: (this.options.ec2 ?? (client => new Ec2(client)))(new EC2Client(this.clientOptions(who, EC2_RETRY.maxAttempts))),
            store: this.options.store?.(dynamodb, this.settings) ?? new Store(dynamodb, this.settings.serversTable, this.settings.claimsTable),
            dns: new Dns(new Route53Client(this.clientOptions(who, RETRY.maxAttempts)), this.settings.hostedZoneId, this.settings.dnsTtl, this.settings.stack, QUICK_IN_SYNC),
            log,
            metrics: createMetrics(this.settings.stack, () => {}),
            now: () => new Date(this.clock.now),
            timeLeft: () => deadline - this.clock.now,
        };
    }
}

/** The few input fields that tell one call from another in a trace. */
function describeCall(input: unknown): string {
    if (typeof input !== "object" || input === null) return "";
    const record = input as Record<string, unknown>;
    if (typeof record.Action === "string") {
        return Object.entries(record)
            .filter(([key]) => /^(AllocationId|NetworkInterfaceId|AssociationId|Filter\.\d+\.Value\.1|InstanceId\.\d+)$/.test(key))
            .map(([, value]) => value)
            .join(" ");
    }
    const item = (record.Item ?? record.Key) as Record<string, { S?: string }> | undefined;
    const table = typeof record.TableName === "string" ? record.TableName.replace(/-\d+$/, "") : "";
    const keyOf = (i?: Record<string, { S?: string }>) => (i ? (i.Id?.S ?? i.EIP?.S ?? "") : "");
    return [table, keyOf(item), typeof record.ConditionExpression === "string" ? "if …" : ""].filter(Boolean).join(" ");
}
