// One explored run: a world of stand-ins (EC2 with lagging reads, Route53,
// dynalite) in which workers live out their plan, the event queue delivers
// messages about them (duplicated, in any order, again after a failure), binder
// invocations, reconciler runs, the scheduler and an operator act concurrently,
// and every AWS call waits for the scheduler. Then, with no new events, the
// reconciler runs at most twice and the state must be exactly right.
import { DeleteItemCommand, DeleteTableCommand, DynamoDBClient, ScanCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { EC2Client } from "@aws-sdk/client-ec2";
import { Route53Client } from "@aws-sdk/client-route-53";
import { ConfiguredRetryStrategy } from "@smithy/core/retry";
import type { Scheduler } from "fast-check";
import { QueueBatch } from "../../../binder/batch";
import { EC2_RETRY, RETRY } from "../../../binder/aws/clients";
import { BinderSettings } from "../../../binder/config";
import { Context } from "../../../binder/context";
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
import { ADDRESS_TAGS, createBinderTables, drainSignal, INSTANCE_TAGS, stateChange, ZONE } from "../world";
import { seeded } from "../seeded";
import { Allocation, checkFinal, checkStep, Violation } from "./invariants";
import { Plan } from "./plan";
import { Steps } from "./steps";

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
}

const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

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

    async run(plan: Plan, scheduler: Scheduler, options: RunOptions = {}): Promise<RunResult> {
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
        const ec2 = new Ec2Model({ clock: () => clock.now, readLagMs: plan.readLagMs, random: seeded(plan.ec2Seed), remapChance: 0.5, terminatedVisibleMs: TERMINATED_VISIBLE_MS });
        const route53 = new Route53Model(ZONE);
        route53.pollsUntilInSync = 0;
        const gateway = await AwsGateway.start({ ec2, route53, sqs: new SqsModel(), dynamoEndpoint: this.dynamoEndpoint });
        // The binder's own jitter (its redelivery delays) decides when a message comes
        // back, and so how far the clock jumps: seed it too, so that a seed replays the run.
        const random = Math.random;
        Math.random = seeded(plan.ec2Seed ^ 0x5bd1e995);
        try {
            const world = new RunWorld(plan, settings, clock, ec2, route53, gateway, this.admin, scheduler, options);
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
    /** When each worker's drain signal was sent (virtual ms): a run that started by then is drained. */
    private readonly signalled = new Map<string, number>();
    private readonly violations: Violation[] = [];
    private readonly notes: { step: number; actor: string; text: string }[] = [];
    private readonly faults: Map<number, Plan["faults"][number]["kind"]>;
    private readonly duplicates: boolean[];
    private invocations = 0;
    private calls = 0;
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
        scheduler: Scheduler,
        private readonly options: RunOptions,
    ) {
        this.steps = new Steps(scheduler, () => { this.clock.now += STEP_MS; });
        this.faults = new Map(plan.faults.map(f => [f.call, f.kind]));
        this.duplicates = [...plan.duplicates];
    }

    async play(): Promise<RunResult> {
        const { plan, ec2 } = this;
        for (let i = 0; i < Math.max(1, plan.workers.length + plan.spareAddresses); i++) ec2.addAddress({ tags: ADDRESS_TAGS });
        // Never fewer addresses than one: a run with one short always has a worker that waits.
        const instances = plan.workers.map(w => ec2.addInstance({
            tags: w.tagged ? INSTANCE_TAGS : { team: "other" },
            state: "pending",
            ...(w.twoCards && { interfaces: [{ deviceIndex: 0, networkCardIndex: 1 }, { deviceIndex: 0, networkCardIndex: 0 }] }),
        }).instanceId);
        // What existed before the run is what every read sees.
        this.clock.now += plan.readLagMs + STEP_MS;

        instances.forEach((instanceId, i) => this.live(instanceId, plan.workers[i]));
        for (let k = 1; k <= plan.reconcilerRuns; k++) this.steps.later("schedule", `reconcile #${k}`, () => this.reconcileNow(`reconciler#${k}`, true));
        for (let k = 1; k <= plan.allocations; k++) this.steps.later("scheduler", `look for a free server #${k}`, () => this.allocate(`scheduler#${k}`));
        if (plan.hand) this.steps.later("operator", plan.hand, () => this.driftByHand(plan.hand!));

        await this.steps.run(async () => this.observe(await checkStep(this.snapshot())));
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
                this.ec2.setState(instanceId, state);
                if (state !== "running") this.retire(a => a.instanceId === instanceId);
                if (SENT_STATES.includes(state)) this.send(instanceId, state, stateChange(instanceId, state));
                // The signal that it goes comes at any moment of its first run, concurrently with the rest of its life.
                if (state === "running" && i === 0 && worker.drain) this.signal(instanceId, worker.drain);
                next(i + 1);
            });
        };
        next(0);
    }

    /** AWS says the worker goes (if it still runs by then): the scheduler must stop getting it. */
    private signal(instanceId: string, kind: NonNullable<Plan["workers"][number]["drain"]>): void {
        this.steps.later(`worker ${instanceId}`, `${kind} signal`, () => {
            if (this.ec2.instance(instanceId)?.state !== "running") return;
            this.signalled.set(instanceId, this.clock.now);
            // What the scheduler handed out on it until now is being drained: its row goes.
            this.retire(a => a.instanceId === instanceId);
            this.send(instanceId, kind, drainSignal(kind, [instanceId], new Date(this.clock.now)));
        });
    }

    /** EventBridge puts the event in the queue, sometimes twice (at least once delivery). */
    private send(instanceId: string, says: string, event: Record<string, unknown>): void {
        const copies = this.duplicates.shift() ? 2 : 1;
        for (let c = 0; c < copies; c++) {
            const message: Message = { id: `m${this.messages.length + 1}`, instanceId, says, event, receiveCount: 0, visibleAt: this.clock.now, status: "queued" };
            this.messages.push(message);
            this.offer(message);
        }
    }

    /** The event source mapping polls: a batch of this message and others visible now goes to a new invocation. */
    private offer(message: Message): void {
        this.steps.later("queue", `deliver ${message.id} (${message.instanceId} ${message.says})`, () => {
            if (message.status !== "queued") return;
            this.clock.now = Math.max(this.clock.now, message.visibleAt);
            const others = this.messages.filter(m => m !== message && m.status === "queued" && m.visibleAt <= this.clock.now);
            this.invoke([message, ...others.slice(0, this.plan.batchSize - 1)]);
        });
    }

    private invoke(messages: Message[]): void {
        const name = `binder#${++this.invocations}`;
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
        this.steps.spawn(name, async () => {
            let failed: Set<string>;
            try {
                const response = await handleBatch(this.context(name), queue, batch);
                failed = new Set(response.batchItemFailures.map(f => f.itemIdentifier));
            } catch (err) {
                this.note(name, `invocation failed: ${String(err)}`);
                failed = new Set(messages.map(m => m.id));
            }
            this.note(name, `batch ${messages.map(m => `${m.id}(${m.instanceId} ${m.says} ×${m.receiveCount})`).join(", ")}: ${failed.size === 0 ? "all done" : `again: ${[...failed].join(", ")}`}`);
            for (const m of messages) {
                if (!failed.has(m.id)) {
                    m.status = "done";
                    m.doneStep = this.steps.trace.length;
                } else if (m.receiveCount >= MAX_RECEIVES) {
                    m.status = "dead";
                } else {
                    m.status = "queued";
                    m.visibleAt = this.clock.now + (visibility.get(m) ?? VISIBILITY_MS);
                    this.offer(m);
                }
            }
        });
    }

    private reconcileNow(name: string, gated: boolean): Promise<void> {
        const run = async () => {
            try {
                const result = await reconcile(this.context(name, gated), { dryRun: false });
                const kinds = (list: { kind: string }[]) => list.map(d => d.kind).join(", ") || "none";
                this.note(name, `drift: ${kinds(result.inspection.drift)}; fixed: ${kinds(result.fixed)}; failed: ${kinds(result.failed.map(f => f.drift))}`);
            } catch (err) {
                this.note(name, `run failed: ${String(err)}`);
            }
        };
        if (!gated) return run();
        this.steps.spawn(name, run);
        return Promise.resolve();
    }

    // ---- the scheduler and the operator ----

    /** The scheduler hands the first free server to a stream: `allocated = true`, on the row it read. */
    private allocate(name: string): void {
        const client = this.dynamoClient(name);
        this.steps.spawn(name, async () => {
            try {
                const out = await client.send(new ScanCommand({ TableName: this.settings.serversTable }));
                const scanned = this.steps.trace.length;
                const free = (out.Items ?? []).filter(item => item.allocated?.BOOL === false).sort((a, b) => (a.EIP.S! < b.EIP.S! ? -1 : 1))[0];
                if (!free) return;
                this.checkNotDraining(free.InstanceId.S!, free.LaunchedAt?.S, scanned);
                await client.send(new UpdateItemCommand({
                    TableName: this.settings.serversTable,
                    Key: { EIP: free.EIP, DNS_Record: free.DNS_Record },
                    UpdateExpression: "SET allocated = :true",
                    ConditionExpression: "InstanceId = :instance AND allocated = :false",
                    ExpressionAttributeValues: { ":true": { BOOL: true }, ":false": { BOOL: false }, ":instance": free.InstanceId },
                }));
                const allocation = { publicIp: free.EIP.S!, dnsName: free.DNS_Record.S!, instanceId: free.InstanceId.S!, allocationId: free.AllocationId?.S ?? "", live: true };
                // A server that is going away when it is handed out, whose row is of an earlier run of the
                // instance (before a stop and start, its withdrawal still on its way), or whose drain signal
                // was sent (its handling still on its way), is not one that stayed bound.
                const instance = this.ec2.instance(allocation.instanceId);
                const signalled = this.signalled.get(allocation.instanceId);
                allocation.live = instance?.state === "running" && this.ec2.address(allocation.allocationId)?.association?.instanceId === allocation.instanceId
                    && free.LaunchedAt?.S === new Date(instance.launchTime).toISOString()
                    && !(signalled !== undefined && instance.launchTime <= signalled);
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
     * Once the binder has handled a worker's drain signal, the scheduler must never
     * again find that run of it free on the list (a run started after the signal is
     * served again).
     */
    private checkNotDraining(instanceId: string, launchedAt: string | undefined, scanned: number): void {
        const signalled = this.signalled.get(instanceId);
        if (signalled === undefined || (launchedAt !== undefined && Date.parse(launchedAt) > signalled)) return;
        const handled = this.messages.find(m => m.instanceId === instanceId && !SENT_STATES.includes(m.says) && m.doneStep !== undefined && m.doneStep < scanned);
        if (handled) this.observe([{ invariant: "allocated-while-draining", detail: `the scheduler found ${instanceId} free after its ${handled.says} (${handled.id}) was handled` }]);
    }

    /** What an operator does in the console: the reconciler must heal it. */
    private driftByHand(kind: NonNullable<Plan["hand"]>): void {
        if (kind === "disassociate") {
            const address = this.ec2.addresses().find(a => a.association);
            if (!address) return;
            this.retire(a => a.allocationId === address.allocationId);
            this.ec2.disassociateAddress({ associationId: address.association!.associationId });
            this.note("operator", `disassociated ${address.publicIp} from ${address.association!.instanceId}`);
        } else if (kind === "delete-record") {
            const record = this.route53.records("A")[0];
            if (!record) return;
            this.route53.changeResourceRecordSets(ZONE.id, [{ action: "DELETE", record }]);
            this.note("operator", `deleted the record ${record.name}`);
        } else {
            const client = this.dynamoClient("operator");
            this.steps.spawn("operator", async () => {
                try {
                    const row = (await client.send(new ScanCommand({ TableName: this.settings.serversTable }))).Items?.[0];
                    if (!row) return;
                    await client.send(new DeleteItemCommand({
                        TableName: this.settings.serversTable, Key: { EIP: row.EIP, DNS_Record: row.DNS_Record },
                    }));
                    // Whatever the scheduler handed out on that row until now, the operator took away.
                    this.retire(a => a.publicIp === row.EIP.S);
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
                this.violations.push(...(await checkStep(this.snapshot())));
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

    private snapshot() {
        return {
            settings: this.settings,
            signalled: this.signalled,
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
                await this.steps.gate(actor, `${call.service}:${call.action} ${describeCall(call.input)}`, call.input);
                const kind = this.faults.get(++this.calls);
                if (!kind) return;
                this.gateway.inject({
                    service: call.service, action: call.action, match: c => c === call,
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
    private context(actor: string, gated = true): Context {
        const who = gated ? actor : undefined;
        const dynamodb = this.dynamoClient(who);
        const log = createLogger(line => {
            const entry = JSON.parse(line) as { level: string; message: string; outcome?: string; error?: { name?: string } };
            if (entry.outcome) this.outcomes[entry.outcome] = (this.outcomes[entry.outcome] ?? 0) + 1;
            if (entry.level !== "INFO" || entry.outcome) this.note(actor, `${entry.level} ${entry.message}${entry.outcome ? ` [${entry.outcome}]` : ""}${entry.error?.name ? ` (${entry.error.name})` : ""}`);
        });
        return {
            settings: this.settings,
            ec2: (this.options.ec2 ?? (client => new Ec2(client)))(new EC2Client(this.clientOptions(who, EC2_RETRY.maxAttempts))),
            store: this.options.store?.(dynamodb, this.settings) ?? new Store(dynamodb, this.settings.serversTable, this.settings.claimsTable),
            dns: new Dns(new Route53Client(this.clientOptions(who, RETRY.maxAttempts)), this.settings.hostedZoneId, this.settings.dnsTtl, this.settings.stack),
            log,
            metrics: createMetrics(this.settings.stack, () => {}),
            now: () => new Date(this.clock.now),
            timeLeft: () => Infinity,
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
