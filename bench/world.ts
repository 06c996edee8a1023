// One scenario's AWS: the EC2 and Route53 stand-ins and dynalite behind the
// recording gateway (as tests/support/world.ts builds it), with AWS's throttling
// as the gateway's throttle hook, the binder's tables, the pool and the launches.
import { AttributeValue, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { BinderSettings, DnsRecordsMode } from "../binder/config";
import { renderName } from "../binder/naming";
import { startDynalite } from "../tests/support/aws/dynalite";
import { AwsGateway } from "../tests/support/aws/gateway";
import { Route53Model } from "../tests/support/aws/route53";
import { SqsModel } from "../tests/support/aws/sqs";
import { ADDRESS_TAGS, createBinderTables, INSTANCE_TAGS, lambdaEnvironment, ZONE } from "../tests/support/world";
import { BackgroundLoad, Throttler } from "./buckets";
import { Clock } from "./clock";
import { CountingEc2Model } from "./ec2";

export interface WorldSpec {
    launches: number;
    pool: number;
    dnsRecords: DnsRecordsMode;
    latencyMs: number;
    /** Other clients' share of the APIs the binder uses. */
    background: BackgroundLoad;
}

type Item = Record<string, string | boolean | undefined>;

export class BenchWorld {
    readonly clock = new Clock();
    readonly throttler: Throttler;
    readonly ec2 = new CountingEc2Model();
    readonly route53 = new Route53Model(ZONE);
    /** The event queue's visibility changes; the scenario hands them to the Lambda model's queue. */
    readonly sqs = new SqsModel();
    readonly settings: BinderSettings;
    readonly instanceIds: string[] = [];
    private gatewayRef?: AwsGateway;
    private dynamo?: { client: DynamoDBClient; close(): Promise<void> };

    constructor(readonly spec: WorldSpec) {
        this.throttler = new Throttler(this.clock, spec.background);
        this.settings = {
            stack: "bench",
            instanceTags: INSTANCE_TAGS,
            addressTags: ADDRESS_TAGS,
            hostedZone: ZONE.name,
            hostedZoneId: ZONE.id,
            suffix: ZONE.name,
            dnsName: "{ip-dashed}.{suffix}",
            dnsTtl: 60,
            dnsRecords: spec.dnsRecords,
            serversTable: "servers",
            claimsTable: "claims",
        };
        // The INSYNC waiter polls once more after a PENDING answer (and sleeps ≥ 1 s first).
        this.route53.pollsUntilInSync = 1;
    }

    get gateway(): AwsGateway {
        if (!this.gatewayRef) throw new Error("the world is not open");
        return this.gatewayRef;
    }

    async open(): Promise<void> {
        const dynalite = await startDynalite();
        const client = new DynamoDBClient({ endpoint: dynalite.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
        this.dynamo = { client, close: dynalite.close };
        this.gatewayRef = await AwsGateway.start({
            ec2: this.ec2,
            route53: this.route53,
            sqs: this.sqs,
            dynamoEndpoint: dynalite.endpoint,
            latencyMs: this.spec.latencyMs,
            throttle: this.throttler.throttle,
        });
        await createBinderTables(client, this.settings);
        for (let i = 0; i < this.spec.pool; i++) {
            const address = this.ec2.addAddress({ tags: ADDRESS_TAGS });
            // per-address: the stack made every name at deploy time.
            if (this.spec.dnsRecords === "per-address") {
                this.route53.put({ name: this.nameOf(address.publicIp), type: "A", ttl: 60, values: [address.publicIp] });
            }
        }
        // Karpenter's Spot workers: the spot scenario's warnings are confirmed by their Spot requests.
        for (let i = 0; i < this.spec.launches; i++) this.instanceIds.push(this.ec2.addInstance({ tags: INSTANCE_TAGS, spot: true }).instanceId);
    }

    /** The Lambda's environment, pointed at this world's gateway. */
    environment(): Record<string, string> {
        return lambdaEnvironment(this.settings, this.gateway.endpoint);
    }

    nameOf(publicIp: string): string {
        return renderName(this.settings.dnsName, { ip: publicIp, suffix: this.settings.suffix });
    }

    /** Every item of a table, read straight from dynalite (not through the gateway, so it is not counted). */
    async scan(table: string): Promise<Item[]> {
        const items: Item[] = [];
        let start: Record<string, AttributeValue> | undefined;
        do {
            const out = await this.dynamo!.client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
            for (const item of out.Items ?? []) {
                items.push(Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v.S ?? v.BOOL])));
            }
            start = out.LastEvaluatedKey;
        } while (start);
        return items;
    }

    async close(): Promise<void> {
        await this.gatewayRef?.close();
        this.dynamo?.client.destroy();
        await this.dynamo?.close();
    }
}
