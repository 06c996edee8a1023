// The demo's AWS, all on this machine: the EC2 and Route53 stand-ins and dynalite
// behind the recording gateway, with the SQS model for the event queue
// (tests/support/aws), set up as the stack says: its tables, its pool addresses
// with their tags, their A records. The binder's environment points at the
// gateway, as tests/support/world.ts does for a test, and its JSON log lines are
// taken off standard output, so that the demo's own lines stay readable.
import { AttributeValue, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { SchedulerClient } from "../../scheduler";
import { BinderSettings, binderSettingsFromEnv } from "../../binder/config";
import { startDynalite } from "../../tests/support/aws/dynalite";
import { Ec2Model, ModelInstance } from "../../tests/support/aws/ec2";
import { AwsGateway } from "../../tests/support/aws/gateway";
import { Route53Model } from "../../tests/support/aws/route53";
import { SqsModel } from "../../tests/support/aws/sqs";
import { createBinderTables, lambdaEnvironment, LogLine } from "../../tests/support/world";
import { DemoStack } from "./stack";

/** Karpenter's capacity-type tag: the demo's node pool runs on Spot. */
const SPOT = { "karpenter.sh/capacity-type": "spot" };

export type Item = Record<string, string | boolean | undefined>;

export class DemoWorld {
    /** The binder's log lines, in order. */
    readonly logs: LogLine[] = [];
    private readonly restore: (() => void)[] = [];

    private constructor(
        readonly settings: BinderSettings,
        readonly ec2: Ec2Model,
        readonly route53: Route53Model,
        readonly sqs: SqsModel,
        readonly gateway: AwsGateway,
        private readonly dynamodb: DynamoDBClient,
        private readonly closeDynamo: () => Promise<void>,
    ) {}

    static async open(stack: DemoStack): Promise<DemoWorld> {
        const settings = binderSettingsFromEnv(stack.output.binderSettings);
        const ec2 = new Ec2Model();
        const route53 = new Route53Model({ id: settings.hostedZoneId, name: settings.hostedZone });
        const sqs = new SqsModel();
        const dynamo = await startDynalite();
        const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: "us-east-1", credentials: { accessKeyId: "demo", secretAccessKey: "demo" } });
        const gateway = await AwsGateway.start({ ec2, route53, sqs, dynamoEndpoint: dynamo.endpoint });
        const world = new DemoWorld(settings, ec2, route53, sqs, gateway, client, dynamo.close);
        await createBinderTables(client, settings);
        for (const { publicIp, tags } of stack.addresses) ec2.addAddress({ publicIp, tags });
        for (const { name, ttl, values } of stack.records) route53.put({ name, type: "A", ttl, values });
        world.useEnvironment();
        return world;
    }

    /** Karpenter launches `count` workers of the node pool: pending, with the instance tags. */
    launch(count: number): string[] {
        return Array.from({ length: count }, () => this.ec2.addInstance({ tags: { ...this.settings.instanceTags, ...SPOT }, state: "pending", spot: true }).instanceId);
    }

    /** A running instance that carries the instance tags: one the binder must bind. */
    isTarget(instance: ModelInstance): boolean {
        return instance.state === "running" && Object.entries(this.settings.instanceTags).every(([key, value]) => instance.tags[key] === value);
    }

    /** The scheduler's client, as a stream scheduler would make it, its calls through the gateway like the binder's. */
    scheduler(): SchedulerClient {
        const dynamodb = new DynamoDBClient({ endpoint: this.gateway.endpoint, region: "us-east-1", credentials: { accessKeyId: "demo", secretAccessKey: "demo" } });
        this.restore.push(() => dynamodb.destroy());
        return new SchedulerClient({ table: this.settings.serversTable, dynamodb });
    }

    /** Every item of a table, read straight from dynalite. */
    async scan(table: string): Promise<Item[]> {
        const items: Item[] = [];
        let start: Record<string, AttributeValue> | undefined;
        do {
            const out = await this.dynamodb.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
            for (const item of out.Items ?? []) items.push(Object.fromEntries(Object.entries(item).map(([key, value]) => [key, value.S ?? value.BOOL])));
            start = out.LastEvaluatedKey;
        } while (start);
        return items;
    }

    /** Points the in-process handlers and CLI at the gateway, and takes the binder's JSON lines off standard output. */
    private useEnvironment(): void {
        const environment = lambdaEnvironment(this.settings, this.gateway.endpoint);
        const saved = Object.fromEntries(Object.keys(environment).map(name => [name, process.env[name]]));
        Object.assign(process.env, environment);
        const write = process.stdout.write.bind(process.stdout);
        process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
            const text = chunk.toString();
            if (!text.startsWith("{")) return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
            for (const line of text.trim().split("\n")) {
                const entry = JSON.parse(line);
                // Embedded-metric documents are the metrics' business, not the demo's.
                if (!("_aws" in entry)) this.logs.push(entry);
            }
            return true;
        }) as typeof process.stdout.write;
        this.restore.push(() => { process.stdout.write = write; });
        this.restore.push(() => {
            for (const [name, value] of Object.entries(saved)) {
                if (value === undefined) delete process.env[name];
                else process.env[name] = value;
            }
        });
    }

    async close(): Promise<void> {
        for (const undo of this.restore.splice(0)) undo();
        await this.gateway.close();
        this.dynamodb.destroy();
        await this.closeDynamo();
    }
}
