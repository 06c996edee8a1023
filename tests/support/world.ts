// A whole world for the binder to run in: EC2 and Route53 stand-ins and dynalite
// behind one recording gateway, the binder's tables, and checks of the invariants
// from docs/claim-protocol.md over the final state.
import { AttributeValue, DynamoDBClient, PutItemCommand, ScanCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { createEventHandler, createReconcileHandler, EventHandler, ReconcileHandler } from "../../binder";
import { QueueBatch } from "../../binder/batch";
import { BinderSettings, binderEnvironment, DnsRecordsMode, EVENT_QUEUE_URL_ENV, NODE_ROLE_ARNS_ENV } from "../../binder/config";
import { renderName } from "../../binder/naming";
import { ownerText } from "../../binder/aws/dns";
import { CLAIM_KEY, OFFER_INDEX, SERVER_KEY, waitKey, WAITLIST_INDEX } from "../../binder/schema";
import { Ec2Model, Ec2ModelOptions, InstanceState, ModelInstance } from "./aws/ec2";
import { AwsGateway, GatewayOptions } from "./aws/gateway";
import { Route53Model } from "./aws/route53";
import { QUEUE_PATH, SqsModel } from "./aws/sqs";
import { createTable, startDynalite } from "./aws/dynalite";

export const INSTANCE_TAGS = { "team": "live", "karpenter.sh/nodepool": "media" };
export const ADDRESS_TAGS = { team: "live", pool: "media" };
export const ZONE = { id: "Z0TESTZONE", name: "live.example.com" };
/** The account the stand-ins model, and whose node role may call the node hooks. */
export const ACCOUNT = "123456789012";
export const NODE_ROLE = "KarpenterNodeRole-media";
/** Configured with a path, which a session's ARN leaves out. */
export const NODE_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/eks/nodes/${NODE_ROLE}`;

export interface WorldOptions {
    poolSize: number;
    dnsRecords?: DnsRecordsMode;
    dnsName?: string;
    gateway?: Pick<GatewayOptions, "latencyMs" | "throttle">;
    /** EC2's clock, read lag and randomness, for a test that stages lagging reads. */
    ec2?: Ec2ModelOptions;
}

export interface ServerItem {
    EIP: string;
    DNS_Record: string;
    AssociationId: string;
    InstanceId: string;
    AllocationId: string;
    allocated: boolean;
    BoundAt: string;
    LaunchedAt?: string;
    AvailabilityZone?: string;
    InstanceType?: string;
    PrivateIp?: string;
    NodePool?: string;
    CapacityType?: string;
    /** The offers index's keys (none on a row published before the index, or leaving). */
    Offer?: string;
    OfferKey?: string;
}

export interface LogLine {
    level: string;
    message: string;
    [field: string]: unknown;
}

let tableSerial = 0;

const plain = (item: Record<string, AttributeValue>) =>
    Object.fromEntries(Object.entries(item).map(([key, value]) => [key, value.S ?? value.BOOL ?? value.N]));

/** An EventBridge EC2 state-change event, as AWS sends it. */
export function stateChange(instanceId: string, state: string): Record<string, unknown> {
    return {
        "version": "0",
        "id": `evt-${instanceId}-${state}`,
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": new Date().toISOString(),
        "region": "us-east-1",
        "resources": [`arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`],
        "detail": { "instance-id": instanceId, state },
    };
}

/** The signals that drain a worker, as tests send them. */
export type DrainSignalKind = "spot-interruption" | "rebalance-recommendation" | "scheduled-change";

/**
 * A drain signal for `instanceIds`, shaped as AWS documents each event (the
 * fixtures in tests/fixtures/events hold the documented samples): a Spot
 * interruption warning, a rebalance recommendation (one instance each), or an
 * AWS Health scheduled change, which may name several. `time` is when it was sent.
 */
export function drainSignal(kind: DrainSignalKind, instanceIds: string[], time: Date = new Date()): Record<string, unknown> {
    const envelope = {
        "version": "0",
        "id": `evt-${kind}-${instanceIds.join("-")}-${time.getTime()}`,
        "account": "123456789012",
        // AWS sends whole seconds; the milliseconds kept here let a test's clock tell a signal from a launch a moment before it.
        "time": time.toISOString(),
        "region": "us-east-1",
    };
    const arn = (id: string) => `arn:aws:ec2:us-east-1:123456789012:instance/${id}`;
    if (kind === "spot-interruption") {
        return { ...envelope, "detail-type": "EC2 Spot Instance Interruption Warning", "source": "aws.ec2", "resources": [arn(instanceIds[0])], "detail": { "instance-id": instanceIds[0], "instance-action": "terminate" } };
    }
    if (kind === "rebalance-recommendation") {
        return { ...envelope, "detail-type": "EC2 Instance Rebalance Recommendation", "source": "aws.ec2", "resources": [arn(instanceIds[0])], "detail": { "instance-id": instanceIds[0] } };
    }
    const start = new Date(time.getTime() + 14 * 24 * 3600 * 1000).toUTCString();
    return {
        ...envelope, "detail-type": "AWS Health Event", "source": "aws.health", "resources": instanceIds,
        "detail": {
            eventArn: "arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_1",
            service: "EC2", eventTypeCode: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", eventTypeCategory: "scheduledChange", statusCode: "upcoming",
            startTime: start, eventRegion: "us-east-1",
            affectedEntities: instanceIds.map(entityValue => ({ entityValue, status: "PENDING" })),
        },
    };
}

/**
 * A drain signal AWS really sends, and what EC2 shows before it: a Spot interruption
 * marks the instance's Spot request (`marked-for-termination`), a scheduled change
 * is an event on each instance (`instance-retirement`); a rebalance recommendation
 * has nothing to show, and AWS sends one for Spot Instances only.
 */
export function awsSignal(ec2: Ec2Model, kind: DrainSignalKind, instanceIds: string[], time?: Date): Record<string, unknown> {
    for (const instanceId of instanceIds) {
        if (kind === "spot-interruption") ec2.interruptSpot(instanceId);
        else if (kind === "scheduled-change") ec2.scheduleEvent(instanceId);
        else if (!ec2.instance(instanceId)?.spotRequest) throw new Error(`${instanceId} is not a Spot Instance: AWS recommends no rebalance for it`);
    }
    return drainSignal(kind, instanceIds, time);
}

let messageSerial = 0;

/** An SQS batch of `events`, as the event queue's mapping hands them to the binder. */
export function queueBatch(...events: unknown[]): QueueBatch & { Records: Record<string, unknown>[] } {
    return {
        Records: events.map(event => {
            const messageId = `00000000-0000-4000-8000-${String(++messageSerial).padStart(12, "0")}`;
            return {
                messageId,
                receiptHandle: `handle-${messageId}`,
                body: JSON.stringify(event),
                attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()) },
                messageAttributes: {},
                eventSource: "aws:sqs",
                eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:instance-events",
                awsRegion: "us-east-1",
            };
        }),
    };
}

/** Creates the binder's two tables with the key schema the stack gives them. */
export async function createBinderTables(client: DynamoDBClient, settings: Pick<BinderSettings, "serversTable" | "claimsTable">): Promise<void> {
    await createTable(client, {
        TableName: settings.serversTable,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [{ AttributeName: SERVER_KEY.partition, KeyType: "HASH" }, { AttributeName: SERVER_KEY.sort, KeyType: "RANGE" }],
        AttributeDefinitions: [SERVER_KEY.partition, SERVER_KEY.sort, OFFER_INDEX.partition, OFFER_INDEX.sort].map(AttributeName => ({ AttributeName, AttributeType: "S" })),
        GlobalSecondaryIndexes: [{
            IndexName: OFFER_INDEX.name,
            KeySchema: [{ AttributeName: OFFER_INDEX.partition, KeyType: "HASH" }, { AttributeName: OFFER_INDEX.sort, KeyType: "RANGE" }],
            Projection: { ProjectionType: "ALL" },
        }],
    });
    await createTable(client, {
        TableName: settings.claimsTable,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [{ AttributeName: CLAIM_KEY, KeyType: "HASH" }],
        AttributeDefinitions: [CLAIM_KEY, WAITLIST_INDEX.partition, WAITLIST_INDEX.sort].map(AttributeName => ({ AttributeName, AttributeType: "S" })),
        GlobalSecondaryIndexes: [{
            IndexName: WAITLIST_INDEX.name,
            KeySchema: [{ AttributeName: WAITLIST_INDEX.partition, KeyType: "HASH" }, { AttributeName: WAITLIST_INDEX.sort, KeyType: "RANGE" }],
            Projection: { ProjectionType: "ALL" },
        }],
    });
}

/**
 * The environment the stack gives the binder Lambdas, with every AWS endpoint (the event
 * queue's too) at `endpoint`, the node hooks' roles, and the account for the Lambda host's
 * context (tools/lambda-host.js).
 */
export function lambdaEnvironment(s: BinderSettings, endpoint: string): Record<string, string> {
    return {
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        AWS_ENDPOINT_URL: endpoint,
        AWS_LAMBDA_FUNCTION_NAME: "eip-dns-binder",
        LAMBDA_HOST_ACCOUNT_ID: ACCOUNT,
        [EVENT_QUEUE_URL_ENV]: `${endpoint}${QUEUE_PATH}`,
        [NODE_ROLE_ARNS_ENV]: JSON.stringify([NODE_ROLE_ARN]),
        ...binderEnvironment({ ...s, instanceTags: JSON.stringify(s.instanceTags), addressTags: JSON.stringify(s.addressTags), dnsTtl: String(s.dnsTtl) }),
    };
}

export class World {
    readonly logs: LogLine[] = [];
    /** Embedded-metric-format documents the function wrote. */
    readonly metrics: Record<string, any>[] = [];
    readonly settings: BinderSettings;
    private restoreStdout = () => {};

    private constructor(
        readonly options: WorldOptions,
        readonly ec2: Ec2Model,
        readonly route53: Route53Model,
        readonly sqs: SqsModel,
        readonly gateway: AwsGateway,
        readonly dynamodb: DynamoDBClient,
        private readonly closeDynamo: () => Promise<void>,
    ) {
        tableSerial++;
        this.settings = {
            stack: "test",
            instanceTags: INSTANCE_TAGS,
            addressTags: ADDRESS_TAGS,
            hostedZone: ZONE.name,
            hostedZoneId: ZONE.id,
            suffix: ZONE.name,
            dnsName: options.dnsName ?? "{ip-dashed}.{suffix}",
            dnsTtl: 60,
            dnsRecords: options.dnsRecords ?? "per-address",
            serversTable: `servers-${tableSerial}`,
            claimsTable: `claims-${tableSerial}`,
        };
    }

    static async create(options: WorldOptions): Promise<World> {
        const dynamo = await startDynalite();
        const direct = new DynamoDBClient({ endpoint: dynamo.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
        const ec2 = new Ec2Model(options.ec2);
        const route53 = new Route53Model(ZONE);
        const sqs = new SqsModel();
        const gateway = await AwsGateway.start({ ec2, route53, sqs, dynamoEndpoint: dynamo.endpoint, ...options.gateway });
        const world = new World(options, ec2, route53, sqs, gateway, direct, dynamo.close);
        await createBinderTables(direct, world.settings);
        for (let i = 0; i < options.poolSize; i++) world.ec2.addAddress({ tags: ADDRESS_TAGS });
        return world;
    }

    /** A world whose environment the in-process handlers read, with a fresh binder and reconciler. */
    static async open(options: WorldOptions): Promise<{ world: World; handler: EventHandler; reconcile: ReconcileHandler }> {
        const world = await World.create(options);
        world.useEnvironment();
        return { world, handler: createEventHandler(), reconcile: createReconcileHandler() };
    }

    /** The environment the stack gives the Lambda, pointed at the gateway. */
    environment(): Record<string, string> {
        return lambdaEnvironment(this.settings, this.gateway.endpoint);
    }

    /** Sets the environment for an in-process handler and captures its JSON log lines. */
    useEnvironment(): void {
        Object.assign(process.env, this.environment());
        const write = process.stdout.write.bind(process.stdout);
        process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
            const text = chunk.toString();
            if (text.startsWith("{")) {
                for (const line of text.trim().split("\n")) {
                    const entry = JSON.parse(line);
                    if ("_aws" in entry) this.metrics.push(entry);
                    else this.logs.push(entry);
                }
                return true;
            }
            return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
        }) as typeof process.stdout.write;
        this.restoreStdout = () => { process.stdout.write = write; };
    }

    /** A running instance that carries the instance tags (or `tags`). */
    launch(tags: Record<string, string> = INSTANCE_TAGS, state: InstanceState = "running"): ModelInstance {
        return this.ec2.addInstance({ tags, state });
    }

    /** A running Spot Instance that carries the instance tags. */
    launchSpot(): ModelInstance {
        return this.ec2.addInstance({ tags: INSTANCE_TAGS, state: "running", spot: true });
    }

    /** A drain signal AWS really sends (see awsSignal). */
    signal(kind: DrainSignalKind, instanceIds: string[], time?: Date): Record<string, unknown> {
        return awsSignal(this.ec2, kind, instanceIds, time);
    }

    async servers(): Promise<ServerItem[]> {
        return (await this.scanAll(this.settings.serversTable)).map(item => plain(item) as unknown as ServerItem);
    }

    /** Instances' claims: {Id: instance id, AllocationId, …}. */
    async claims(): Promise<Record<string, string>[]> {
        return (await this.bookkeeping()).filter(item => item.Id.startsWith("i-"));
    }

    /** Addresses' locks: {Id: allocation id, InstanceId, LockedAt}. */
    async locks(): Promise<Record<string, string>[]> {
        return (await this.bookkeeping()).filter(item => item.Id.startsWith("eipalloc-"));
    }

    /** Drain marks: {Id: drain/<instance id>, Cause, SignalledAt, Deadline?, RecordedAt}. */
    async drains(): Promise<Record<string, string>[]> {
        return (await this.bookkeeping()).filter(item => item.Id.startsWith("drain/"));
    }

    /** The workers on the waitlist: instance id → since when. */
    async waitlist(): Promise<Record<string, string>> {
        const places = (await this.bookkeeping()).filter(item => item.Id.startsWith(waitKey("")));
        return Object.fromEntries(places.map(place => [place.Id.slice(waitKey("").length), place.Since]));
    }

    private async bookkeeping(): Promise<Record<string, string>[]> {
        return (await this.scanAll(this.settings.claimsTable)).map(item => plain(item) as Record<string, string>);
    }

    /** Every item of a table, page after page (a fleet's table is more than one). */
    private async scanAll(TableName: string): Promise<Record<string, AttributeValue>[]> {
        const items: Record<string, AttributeValue>[] = [];
        let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
        do {
            const out = await this.dynamodb.send(new ScanCommand({ TableName, ConsistentRead: true, ExclusiveStartKey }));
            items.push(...(out.Items ?? []));
            ExclusiveStartKey = out.LastEvaluatedKey;
        } while (ExclusiveStartKey);
        return items;
    }

    /** What another invocation binding `instanceId` to `address` has written before it associates: the claim and the lock. */
    async claimAndLock(instanceId: string, address: { allocationId: string; publicIp: string }): Promise<void> {
        const now = new Date().toISOString();
        await this.dynamodb.send(new PutItemCommand({ TableName: this.settings.claimsTable, Item: {
            Id: { S: instanceId }, AllocationId: { S: address.allocationId }, PublicIp: { S: address.publicIp },
            DnsName: { S: this.nameOf(address.publicIp, instanceId) }, ClaimedAt: { S: now },
        } }));
        await this.dynamodb.send(new PutItemCommand({ TableName: this.settings.claimsTable, Item: {
            Id: { S: address.allocationId }, InstanceId: { S: instanceId }, LockedAt: { S: now },
        } }));
    }

    /** What the scheduler does when it hands a server to a stream. */
    async allocate(publicIp: string, dnsName: string): Promise<void> {
        await this.dynamodb.send(new UpdateItemCommand({
            TableName: this.settings.serversTable,
            Key: { EIP: { S: publicIp }, DNS_Record: { S: dnsName } },
            UpdateExpression: "SET allocated = :true",
            ExpressionAttributeValues: { ":true": { BOOL: true } },
        }));
    }

    nameOf(publicIp: string, instanceId: string): string {
        return renderName(this.settings.dnsName, { ip: publicIp, suffix: this.settings.suffix, instanceId });
    }

    isTarget(instance: ModelInstance): boolean {
        return instance.state === "running" && Object.entries(INSTANCE_TAGS).every(([k, v]) => instance.tags[k] === v);
    }

    /** Pool addresses associated to `instanceId`. */
    addressesOf(instanceId: string) {
        return this.ec2.addresses().filter(a => a.association?.instanceId === instanceId);
    }

    /**
     * The invariants over the whole final state: every pool address is free or bound to
     * a running target (one each way), rows are exactly the bound servers, claims are
     * exactly the bindings, and in per-binding mode records are exactly the bound names.
     * A `draining` worker keeps its binding and name, without a row.
     */
    async checkInvariants(draining: string[] = []): Promise<{ bound: number }> {
        const addresses = this.ec2.addresses();
        const bound = addresses.filter(a => a.association);
        for (const address of bound) {
            const instance = this.ec2.instance(address.association!.instanceId)!;
            expect(this.isTarget(instance), `${address.publicIp} is on ${instance.instanceId}, which is not a running target`).to.equal(true);
        }
        const holders = bound.map(a => a.association!.instanceId);
        expect(new Set(holders).size, "an instance holds two pool addresses").to.equal(holders.length);

        const named = bound.map(a => ({
            EIP: a.publicIp,
            DNS_Record: this.nameOf(a.publicIp, a.association!.instanceId),
            AssociationId: a.association!.associationId,
            InstanceId: a.association!.instanceId,
            AllocationId: a.allocationId,
        }));
        const expectedRows = named.filter(row => !draining.includes(row.InstanceId));
        const rows = (await this.servers()).map(({ EIP, DNS_Record, AssociationId, InstanceId, AllocationId }) => ({ EIP, DNS_Record, AssociationId, InstanceId, AllocationId }));
        expect(rows, "server rows are not exactly the bound servers").to.have.deep.members(expectedRows);
        expect(rows).to.have.length(expectedRows.length);

        const bindings = bound.map(a => ({ instanceId: a.association!.instanceId, allocationId: a.allocationId }));
        const claims = (await this.claims()).map(c => ({ instanceId: c.Id, allocationId: c.AllocationId }));
        expect(claims, "claims are not exactly the bindings").to.have.deep.members(bindings);
        expect(claims).to.have.length(bound.length);
        const locks = (await this.locks()).map(l => ({ instanceId: l.InstanceId, allocationId: l.Id }));
        expect(locks, "locks are not exactly the bindings").to.have.deep.members(bindings);
        expect(locks).to.have.length(bound.length);

        if (this.settings.dnsRecords === "per-binding") {
            const records = this.route53.records("A").map(r => ({ name: r.name, values: r.values }));
            const expected = named.map(r => ({ name: `${r.DNS_Record}.`, values: [r.EIP] }));
            // Beside each name, the TXT record that names the instance it is bound to.
            const owners = this.route53.records("TXT").map(r => ({ name: r.name, values: r.values }));
            const expectedOwners = named.map(r => ({ name: `${r.DNS_Record}.`, values: [ownerText(this.settings.stack, r.InstanceId)] }));
            if (this.options.dnsName?.includes("{instance-id}")) {
                expect(records, "records are not exactly the bound names").to.have.deep.members(expected);
                expect(records).to.have.length(expected.length);
                expect(owners, "TXT records are not exactly the bound names' owners").to.have.deep.members(expectedOwners);
            } else {
                expect(records, "a bound name does not resolve").to.deep.include.members(expected);
                expect(owners, "a bound name's TXT record does not name its instance").to.deep.include.members(expectedOwners);
            }
        } else {
            expect(this.gateway.calls.filter(c => c.service === "route53"), "per-address binding called Route53").to.have.length(0);
        }
        return { bound: bound.length };
    }

    /**
     * Hands `events` to the binder as one SQS batch, as the event queue does. Rejects
     * when the binder reports a message failed, with the error it logged for it.
     */
    async handle(handler: EventHandler, ...events: unknown[]): Promise<void> {
        const seen = this.logs.length;
        const { batchItemFailures } = await handler(queueBatch(...events), { awsRequestId: "test-request" });
        if (batchItemFailures.length === 0) return;
        const ids = events.map(event => (event as { detail?: Record<string, unknown> }).detail?.["instance-id"]);
        const logged = this.logs.slice(seen).find(line => line.outcome === "failed" && ids.includes(line.instanceId))?.error as { name?: string; message?: string } | undefined;
        throw Object.assign(new Error(logged?.message ?? `${batchItemFailures.length} message(s) failed`), { name: logged?.name ?? "Error" });
    }

    async close(): Promise<void> {
        this.restoreStdout();
        await this.gateway.close();
        this.dynamodb.destroy();
        await this.closeDynamo();
    }
}
