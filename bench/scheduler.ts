// The `scheduler-1000` scenario: 1,000 allocations over 500 bound servers by 10
// concurrent schedulers, each by zone, through the scheduler client (a Query of the
// offers index, then a claim conditional on the server's run), beside the recipe the
// README used to give (Scan for `allocated = false`, then a claim conditional on it).
// Each scheduler keeps at most 40 streams and releases its oldest beyond that, so
// the servers never run out; releases are not timed. Rows are seeded as the binder
// publishes them, in dynalite behind the tests' gateway with the bench's latency.
import { performance } from "node:perf_hooks";
import { AttributeValue, DynamoDBClient, PutItemCommand, ScanCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { OFFER, OFFER_INDEX, offerKey } from "../binder/schema";
import { Allocation, SchedulerClient } from "../scheduler";
import { startDynalite } from "../tests/support/aws/dynalite";
import { Ec2Model } from "../tests/support/aws/ec2";
import { AwsGateway } from "../tests/support/aws/gateway";
import { Route53Model } from "../tests/support/aws/route53";
import { SqsModel } from "../tests/support/aws/sqs";
import { createBinderTables, ZONE } from "../tests/support/world";
import { BenchConfig } from "./config";
import { percentile } from "./metrics";
import { seeded } from "../tests/support/seeded";

export const SCHEDULER_SCENARIO = "scheduler-1000";

const SERVERS = 500;
const SCHEDULERS = 10;
const ALLOCATIONS = 1_000;
const KEPT = 40;
const ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"];

export interface RecipeFigures {
    recipe: string;
    allocations: number;
    /** Allocations that found nothing (none expected). */
    empty: number;
    seconds: number;
    callsPerAllocation: number;
    conflictsPerAllocation: number;
    latency: { p50: number; p99: number };
}

/** One scheduler's allocate and release, however it does them; `calls` and `conflicts` count what allocating cost. */
interface Recipe {
    allocate(zone: string): Promise<unknown | undefined>;
    release(held: unknown): Promise<void>;
    calls(): number;
    conflicts(): number;
}

const S = (value: string): AttributeValue => ({ S: value });

/** Runs both recipes on fresh tables; the table printed by `npm run bench`. */
export async function schedulerBench(config: BenchConfig): Promise<{ figures: RecipeFigures[]; table: string }> {
    const figures = [await measure(config, "client", clientRecipe), await measure(config, "scan-and-update", scanRecipe)];
    const head = "| recipe | allocations | empty | seconds | allocations/s | calls/allocation | conflicts/allocation | latency p50 (ms) | p99 (ms) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |";
    const rows = figures.map(f => `| ${f.recipe} | ${f.allocations} | ${f.empty} | ${f.seconds.toFixed(1)} | ${(f.allocations / f.seconds).toFixed(1)} | ${f.callsPerAllocation.toFixed(2)} | ${f.conflictsPerAllocation.toFixed(3)} | ${f.latency.p50.toFixed(0)} | ${f.latency.p99.toFixed(0)} |`);
    return { figures, table: `${SCHEDULER_SCENARIO} (${ALLOCATIONS} allocations over ${SERVERS} servers by ${SCHEDULERS} schedulers, by zone; latency ${config.latencyMs} ms a call):\n\n${[head, ...rows].join("\n")}` };
}

async function measure(config: BenchConfig, name: string, recipeOf: (client: DynamoDBClient, table: string, random: () => number) => Recipe): Promise<RecipeFigures> {
    const dynamo = await startDynalite();
    const gateway = await AwsGateway.start({ ec2: new Ec2Model(), route53: new Route53Model(ZONE), sqs: new SqsModel(), dynamoEndpoint: dynamo.endpoint, latencyMs: config.latencyMs });
    const direct = new DynamoDBClient({ endpoint: dynamo.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    const table = "servers";
    const clients: DynamoDBClient[] = [];
    try {
        await createBinderTables(direct, { serversTable: table, claimsTable: "claims" });
        await seedRows(direct, table);
        const random = seeded(config.seed);
        const recipes = Array.from({ length: SCHEDULERS }, () => {
            const client = new DynamoDBClient({ endpoint: gateway.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
            clients.push(client);
            return recipeOf(client, table, random);
        });
        const latencies: number[] = [];
        let empty = 0;
        const began = performance.now();
        await Promise.all(recipes.map(async recipe => {
            const held: unknown[] = [];
            for (let i = 0; i < ALLOCATIONS / SCHEDULERS; i++) {
                const start = performance.now();
                const got = await recipe.allocate(ZONES[Math.floor(random() * ZONES.length)]);
                latencies.push(performance.now() - start);
                if (got === undefined) empty++;
                else held.push(got);
                if (held.length > KEPT) await recipe.release(held.shift());
            }
        }));
        const seconds = (performance.now() - began) / 1000;
        latencies.sort((a, b) => a - b);
        const calls = recipes.reduce((sum, r) => sum + r.calls(), 0);
        const conflicts = recipes.reduce((sum, r) => sum + r.conflicts(), 0);
        return { recipe: name, allocations: ALLOCATIONS, empty, seconds, callsPerAllocation: calls / ALLOCATIONS, conflictsPerAllocation: conflicts / ALLOCATIONS, latency: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) } };
    } finally {
        clients.forEach(client => client.destroy());
        direct.destroy();
        await gateway.close();
        await dynamo.close();
    }
}

/** 500 rows as the binder publishes them, spread over three zones. */
async function seedRows(client: DynamoDBClient, table: string): Promise<void> {
    const launchedAt = "2026-12-08T00:00:00.000Z";
    for (let i = 0; i < SERVERS; i++) {
        const ip = `198.51.${100 + Math.floor(i / 250)}.${i % 250}`;
        const placement = { availabilityZone: ZONES[i % ZONES.length], capacityType: "on-demand", nodePool: "media", instanceType: "c7i.2xlarge" };
        await client.send(new PutItemCommand({
            TableName: table,
            Item: {
                EIP: S(ip), DNS_Record: S(`${ip.replace(/\./g, "-")}.${ZONE.name}`), AssociationId: S(`eipassoc-${i}`), InstanceId: S(`i-${String(i).padStart(17, "0")}`),
                AllocationId: S(`eipalloc-${i}`), LaunchedAt: S(launchedAt), BoundAt: S(launchedAt), allocated: { BOOL: false },
                AvailabilityZone: S(placement.availabilityZone), CapacityType: S(placement.capacityType), NodePool: S(placement.nodePool), InstanceType: S(placement.instanceType),
                [OFFER_INDEX.partition]: S(OFFER.free), [OFFER_INDEX.sort]: S(offerKey(placement)),
            },
        }));
    }
}

/** The scheduler client: by zone, any zone if that one has nothing free. */
function clientRecipe(client: DynamoDBClient, table: string, random: () => number): Recipe {
    const servers = new SchedulerClient({ table, dynamodb: client, random });
    let releaseCalls = 0;
    let releaseConflicts = 0;
    return {
        allocate: zone => servers.allocate([{ availabilityZone: zone }, {}], { owner: "bench" }),
        release: async held => {
            const before = { ...servers.counts };
            await servers.release(held as Allocation);
            releaseCalls += servers.counts.calls - before.calls;
            releaseConflicts += servers.counts.refused - before.refused;
        },
        calls: () => servers.counts.calls - releaseCalls,
        conflicts: () => servers.counts.refused - releaseConflicts,
    };
}

/**
 * The README's former recipe: Scan for free servers in the zone (all pages), claim a
 * random one on `allocated = :no`, scan again after a refusal; any zone when the zone
 * has none. Released on the corrected condition (the run).
 */
function scanRecipe(client: DynamoDBClient, table: string, random: () => number): Recipe {
    let calls = 0;
    let conflicts = 0;
    const scan = async (zone?: string) => {
        const items: Record<string, AttributeValue>[] = [];
        let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
        do {
            calls++;
            const out = await client.send(new ScanCommand({
                TableName: table, ExclusiveStartKey,
                FilterExpression: `allocated = :no${zone ? " AND AvailabilityZone = :zone" : ""}`,
                ExpressionAttributeValues: { ":no": { BOOL: false }, ...(zone && { ":zone": S(zone) }) },
            }));
            items.push(...(out.Items ?? []));
            ExclusiveStartKey = out.LastEvaluatedKey;
        } while (ExclusiveStartKey);
        return items;
    };
    return {
        allocate: async zone => {
            for (const where of [zone, undefined]) {
                for (;;) {
                    const free = await scan(where);
                    if (free.length === 0) break;
                    const pick = free[Math.floor(random() * free.length)];
                    try {
                        calls++;
                        await client.send(new UpdateItemCommand({
                            TableName: table, Key: { EIP: pick.EIP, DNS_Record: pick.DNS_Record },
                            UpdateExpression: "SET allocated = :yes", ConditionExpression: "allocated = :no",
                            ExpressionAttributeValues: { ":yes": { BOOL: true }, ":no": { BOOL: false } },
                        }));
                        return pick;
                    } catch (err) {
                        if ((err as Error).name !== "ConditionalCheckFailedException") throw err;
                        conflicts++;
                    }
                }
            }
            return undefined;
        },
        release: async held => {
            const row = held as Record<string, AttributeValue>;
            await client.send(new UpdateItemCommand({
                TableName: table, Key: { EIP: row.EIP, DNS_Record: row.DNS_Record },
                UpdateExpression: "SET allocated = :no", ConditionExpression: "InstanceId = :instance AND LaunchedAt = :launched AND allocated = :yes",
                ExpressionAttributeValues: { ":yes": { BOOL: true }, ":no": { BOOL: false }, ":instance": row.InstanceId, ":launched": row.LaunchedAt },
            }));
        },
        calls: () => calls,
        conflicts: () => conflicts,
    };
}
