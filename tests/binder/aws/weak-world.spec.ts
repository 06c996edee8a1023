// Proves the stand-ins are as weak as AWS where dynalite and a plain model are
// stronger: DynamoDB transactions take time and conflict, DynamoDB refuses
// expressions over its limits, Route53 propagates a change over time. Every request
// goes through the real SDK v3 clients to the gateway; where moto implements the
// same behaviour, the same request goes to moto too, as a second opinion.
import {
    ConditionalCheckFailedException,
    DeleteItemCommand,
    DynamoDBClient,
    GetItemCommand,
    PutItemCommand,
    QueryCommand,
    ScanCommand,
    TransactionCanceledException,
    TransactWriteItemsCommand,
    UpdateItemCommand,
    type AttributeValue,
    type TransactWriteItem,
} from "@aws-sdk/client-dynamodb";
import { ChangeResourceRecordSetsCommand, GetChangeCommand, Route53Client } from "@aws-sdk/client-route-53";
import { expect } from "chai";
import { createKeyedTable, startDynalite } from "../../support/aws/dynalite";
import { Ec2Model } from "../../support/aws/ec2";
import { AwsGateway, type GatewayOptions } from "../../support/aws/gateway";
import { motoAvailable, startMoto, stopMoto, type Moto } from "../../support/aws/moto";
import { Route53Model } from "../../support/aws/route53";
import { SqsModel } from "../../support/aws/sqs";
import { rejection, type SdkError } from "../../support/aws/rejection";

const ZONE = { id: "Z0123456789EXAMPLE", name: "live.example.com" };
const CREDENTIALS = { accessKeyId: "AKIDLOCAL", secretAccessKey: "local" };
const CONFLICT_MESSAGE = "Transaction is ongoing for the item";



/** A DynamoDB client with the SDK's standard retry strategy (three attempts), as the binder's default. */
function dynamoClient(endpoint: string): DynamoDBClient {
    return new DynamoDBClient({ endpoint, region: "us-east-1", credentials: CREDENTIALS, retryMode: "standard", maxAttempts: 3 });
}

const S = (value: string): AttributeValue => ({ S: value });
const item = (pk: string, extra: Record<string, string> = {}) =>
    ({ pk: S(pk), ...Object.fromEntries(Object.entries(extra).map(([name, value]) => [name, S(value)])) });

const createTable = (client: DynamoDBClient) => createKeyedTable(client, "weak");

const read = async (client: DynamoDBClient, TableName: string, pk: string) =>
    (await client.send(new GetItemCommand({ TableName, Key: { pk: S(pk) }, ConsistentRead: true }))).Item;

describe("a world as weak as AWS", function () {
    this.timeout(60_000);
    let dynalite: Awaited<ReturnType<typeof startDynalite>>;
    let gateway: AwsGateway;
    let dynamodb: DynamoDBClient;

    const startGateway = (extra: Partial<GatewayOptions> = {}) =>
        AwsGateway.start({ ec2: new Ec2Model(), route53: new Route53Model(ZONE), sqs: new SqsModel(), dynamoEndpoint: dynalite.endpoint, ...extra });

    before(async () => { dynalite = await startDynalite(); });
    after(async () => { await dynalite.close(); });
    beforeEach(async () => {
        gateway = await startGateway();
        dynamodb = dynamoClient(gateway.endpoint);
    });
    afterEach(async () => {
        dynamodb.destroy();
        await gateway.close();
    });

    // "Amazon DynamoDB Transactions: How it works", section "Transaction conflict handling in DynamoDB".
    describe("DynamoDB transactions in flight conflict as DynamoDB's do", () => {
        /** Moves "lock" from i-1 to i-2 and writes "row", as one transaction. */
        const takeOver = (TableName: string, ClientRequestToken?: string) => new TransactWriteItemsCommand({
            ClientRequestToken,
            TransactItems: [
                { Update: { TableName, Key: { pk: S("lock") }, UpdateExpression: "SET #o = :new", ConditionExpression: "#o = :old",
                    ExpressionAttributeNames: { "#o": "owner" }, ExpressionAttributeValues: { ":old": S("i-1"), ":new": S("i-2") } } },
                { Put: { TableName, Item: item("row", { v: "two" }) } },
            ],
        });

        it("a held transaction refuses plain writes on its items (TransactionConflictException) and cancels another transaction on them (reason TransactionConflict); reads answer; after commit its writes are there and its items free", async () => {
            const table = await createTable(dynamodb);
            await dynamodb.send(new PutItemCommand({ TableName: table, Item: item("lock", { owner: "i-1" }) }));
            const held = gateway.holdTransactionAt(() => true);
            const transaction = dynamodb.send(takeOver(table));
            await held.reached;

            const put = await rejection(dynamodb.send(new PutItemCommand({ TableName: table, Item: item("lock", { owner: "i-3" }) })));
            const update = await rejection(dynamodb.send(new UpdateItemCommand({ TableName: table, Key: { pk: S("row") }, UpdateExpression: "SET v = :v", ExpressionAttributeValues: { ":v": S("x") } })));
            const remove = await rejection(dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { pk: S("lock") } })));
            for (const refused of [put, update, remove]) {
                expect({ name: refused.name, message: refused.message, status: refused.$metadata.httpStatusCode })
                    .to.deep.equal({ name: "TransactionConflictException", message: CONFLICT_MESSAGE, status: 400 });
            }
            // An item outside the transaction is written as ever.
            await dynamodb.send(new PutItemCommand({ TableName: table, Item: item("other") }));

            const second = await rejection(dynamodb.send(new TransactWriteItemsCommand({
                TransactItems: [{ Put: { TableName: table, Item: item("fresh") } }, { ConditionCheck: { TableName: table, Key: { pk: S("lock") }, ConditionExpression: "attribute_exists(pk)" } }],
            })));
            expect(second).to.be.instanceOf(TransactionCanceledException);
            expect(second.message).to.equal("Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]");
            expect(second.CancellationReasons).to.deep.equal([{ Code: "None" }, { Code: "TransactionConflict", Message: CONFLICT_MESSAGE }]);
            expect(await read(dynamodb, table, "fresh"), "a cancelled transaction wrote").to.equal(undefined);

            // Reads are not blocked, and see the items as before the transaction.
            expect(await read(dynamodb, table, "lock")).to.deep.equal(item("lock", { owner: "i-1" }));
            const scanned = await dynamodb.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
            expect(scanned.Items?.map(i => i.pk.S).sort()).to.deep.equal(["lock", "other"]);
            const queried = await dynamodb.send(new QueryCommand({ TableName: table, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": S("lock") } }));
            expect(queried.Count).to.equal(1);

            held.resume();
            await transaction;
            expect(await read(dynamodb, table, "lock")).to.deep.equal(item("lock", { owner: "i-2" }));
            expect(await read(dynamodb, table, "row")).to.deep.equal(item("row", { v: "two" }));
            // The marks are gone: the refused writes go through now.
            await dynamodb.send(new PutItemCommand({ TableName: table, Item: item("lock", { owner: "i-3" }) }));
            await dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [{ Delete: { TableName: table, Key: { pk: S("row") } } }] }));
            expect(await read(dynamodb, table, "row")).to.equal(undefined);
        });

        it("a held transaction whose condition fails at commit still rolls back all of it, and frees its items", async () => {
            const table = await createTable(dynamodb);
            await dynamodb.send(new PutItemCommand({ TableName: table, Item: item("lock", { owner: "i-9" }) }));
            const held = gateway.holdTransactionAt(() => true);
            const transaction = rejection(dynamodb.send(takeOver(table)));
            await held.reached;
            held.resume();
            const failure = await transaction;
            expect(failure).to.be.instanceOf(TransactionCanceledException);
            expect(failure.CancellationReasons?.map(r => r.Code)).to.deep.equal(["ConditionalCheckFailed", "None"]);
            expect(await read(dynamodb, table, "row")).to.equal(undefined);
            await dynamodb.send(new PutItemCommand({ TableName: table, Item: item("row") }));
            await dynamodb.send(new PutItemCommand({ TableName: table, Item: item("lock", { owner: "i-1" }) }));
        });

        it("the holdTransaction hook holds every transaction that begins, outside the one-at-a-time section; unheld, concurrent writes never conflict", async () => {
            const releases: (() => void)[] = [];
            const seen: unknown[] = [];
            const hooked = await startGateway({
                holdTransaction: call => {
                    seen.push(call.input);
                    return new Promise<void>(resolve => releases.push(resolve));
                },
            });
            const client = dynamoClient(hooked.endpoint);
            try {
                const table = await createTable(client);
                await client.send(new PutItemCommand({ TableName: table, Item: item("lock", { owner: "i-1" }) }));
                const transaction = client.send(takeOver(table));
                await until(() => releases.length > 0, "the hook held the transaction");
                // Meanwhile requests go on, and meet the transaction's items.
                expect((await rejection(client.send(new DeleteItemCommand({ TableName: table, Key: { pk: S("lock") } })))).name).to.equal("TransactionConflictException");
                const cancelled = await rejection(client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: table, Item: item("row") } }] })));
                expect(cancelled.CancellationReasons).to.deep.equal([{ Code: "TransactionConflict", Message: CONFLICT_MESSAGE }]);
                expect(seen, "the hook ran for a transaction that was cancelled at once").to.have.length(1);
                releases[0]();
                await transaction;
                expect(await read(client, table, "lock")).to.deep.equal(item("lock", { owner: "i-2" }));
            } finally {
                client.destroy();
                await hooked.close();
            }

            // The default gateway: a transaction begins and commits at once, so nothing meets its items.
            const table = await createTable(dynamodb);
            const pair = (n: number): TransactWriteItem[] => ["x", "y"].map(pk => ({ Put: { TableName: table, Item: item(pk, { n: String(n) }) } }));
            const results = await Promise.allSettled([
                ...Array.from({ length: 20 }, (_, n) => dynamodb.send(new TransactWriteItemsCommand({ TransactItems: pair(n) }))),
                ...Array.from({ length: 20 }, (_, n) => dynamodb.send(new PutItemCommand({ TableName: table, Item: item("x", { n: `plain-${n}` }) }))),
            ]);
            expect(results.filter(r => r.status === "rejected")).to.deep.equal([]);
        });

        it("the SDK's standard retry strategy retries neither TransactionConflictException nor TransactionCanceledException; it retries TransactionInProgressException", async () => {
            const table = await createTable(dynamodb);
            await dynamodb.send(new PutItemCommand({ TableName: table, Item: item("lock", { owner: "i-1" }) }));
            const held = gateway.holdTransactionAt(() => true);
            const transaction = dynamodb.send(takeOver(table, "token-1"));
            await held.reached;
            gateway.clearCalls();

            const conflict = await rejection(dynamodb.send(new PutItemCommand({ TableName: table, Item: item("lock") })));
            const cancelled = await rejection(dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: table, Item: item("lock") } }] })));
            // The same transaction again (a client retrying after a timeout): still in flight.
            const again = await rejection(dynamodb.send(takeOver(table, "token-1")));
            const attempts = (code: string) => gateway.calls.filter(c => c.errorCode === code).length;
            // Observed with @aws-sdk/client-dynamodb 3.1162 and @smithy/core 3.41: only
            // TransactionInProgressException is among the SDK's retryable (throttling) codes.
            expect({
                TransactionConflictException: [conflict.name, conflict.$metadata.attempts, attempts("TransactionConflictException")],
                TransactionCanceledException: [cancelled.name, cancelled.$metadata.attempts, attempts("TransactionCanceledException")],
                TransactionInProgressException: [again.name, again.$metadata.attempts, attempts("TransactionInProgressException")],
            }).to.deep.equal({
                TransactionConflictException: ["TransactionConflictException", 1, 1],
                TransactionCanceledException: ["TransactionCanceledException", 1, 1],
                TransactionInProgressException: ["TransactionInProgressException", 3, 3],
            });
            held.resume();
            await transaction;
            // Once it has committed, the same token succeeds again without writing.
            await dynamodb.send(takeOver(table, "token-1"));
            expect(await read(dynamodb, table, "lock")).to.deep.equal(item("lock", { owner: "i-2" }));
        });
    });

    // "Service, account, and table quotas in Amazon DynamoDB", section "Expression parameters".
    describe("DynamoDB refuses expressions over its limits, which dynalite does not", () => {
        /** `text` with trailing spaces up to `bytes`: the size counts every byte as sent. */
        const sized = (text: string, bytes: number) => text.padEnd(bytes);
        const tooLong = (field: string, size = 4097) =>
            `Invalid ${field}: Expression size has exceeded the maximum allowed size; expression size: ${size}`;

        it("an expression of 4 KB passes and one of 4 KB + 1 is refused, in every field and in each action of a transaction", async () => {
            const table = await createTable(dynamodb);
            const key = { pk: S("a") };
            const requests = (client: DynamoDBClient, bytes: number): Record<string, () => Promise<unknown>> => ({
                ProjectionExpression: () => client.send(new GetItemCommand({ TableName: table, Key: key, ProjectionExpression: "x".repeat(bytes) })),
                ConditionExpression: () => client.send(new PutItemCommand({
                    TableName: table, Item: key, ConditionExpression: sized("attribute_not_exists(pk) OR pk = :a", bytes), ExpressionAttributeValues: { ":a": S("a") },
                })),
                UpdateExpression: () => client.send(new UpdateItemCommand({ TableName: table, Key: key, UpdateExpression: sized("SET v = :v", bytes), ExpressionAttributeValues: { ":v": S("x") } })),
                FilterExpression: () => client.send(new ScanCommand({ TableName: table, FilterExpression: sized("attribute_exists(v)", bytes) })),
                KeyConditionExpression: () => client.send(new QueryCommand({ TableName: table, KeyConditionExpression: sized("pk = :a", bytes), ExpressionAttributeValues: { ":a": S("a") } })),
            });
            for (const [field, send] of Object.entries(requests(dynamodb, 4096))) {
                await send().catch(err => { throw new Error(`${field} of 4096 bytes: ${err}`); });
            }
            for (const [field, send] of Object.entries(requests(dynamodb, 4097))) {
                const refused = await rejection(send());
                expect({ name: refused.name, message: refused.message }, field).to.deep.equal({ name: "ValidationException", message: tooLong(field) });
            }
            const inTransaction = await rejection(dynamodb.send(new TransactWriteItemsCommand({
                TransactItems: [
                    { Put: { TableName: table, Item: item("b") } },
                    { ConditionCheck: { TableName: table, Key: key, ConditionExpression: sized("attribute_exists(v)", 4097) } },
                ],
            })));
            expect({ name: inTransaction.name, message: inTransaction.message }).to.deep.equal({ name: "ValidationException", message: tooLong("ConditionExpression") });
            expect(await read(dynamodb, table, "b")).to.equal(undefined);

            // Straight to dynalite, the same 4097-byte expressions pass.
            const direct = dynamoClient(dynalite.endpoint);
            try {
                for (const send of Object.values(requests(direct, 4097))) await send();
            } finally {
                direct.destroy();
            }
        });

        it("300 operators pass and 301 are refused, in conditions and filters; IN takes 100 operands", async () => {
            const table = await createTable(dynamodb);
            // NOT and the function are 2 operators, each " OR v < :v" 2 more: 2 + 2 * 149 = 300.
            const condition300 = `NOT attribute_exists(pk)${" OR v < :v".repeat(149)}`;
            // The function is 1, then 2 * 150: 301.
            const condition301 = `attribute_not_exists(pk)${" OR v < :v".repeat(150)}`;
            const values = { ":v": S("x") };
            await dynamodb.send(new PutItemCommand({ TableName: table, Item: item("a"), ConditionExpression: condition300, ExpressionAttributeValues: values }));
            const refused = await rejection(dynamodb.send(new PutItemCommand({ TableName: table, Item: item("b"), ConditionExpression: condition301, ExpressionAttributeValues: values })));
            expect({ name: refused.name, message: refused.message }).to.deep.equal({
                name: "ValidationException", message: "Invalid ConditionExpression: The expression contains too many operators; operator count: 301",
            });
            const filter = await rejection(dynamodb.send(new ScanCommand({ TableName: table, FilterExpression: condition301, ExpressionAttributeValues: values })));
            expect(filter.message).to.equal("Invalid FilterExpression: The expression contains too many operators; operator count: 301");
            // BETWEEN's AND is part of BETWEEN: NOT and BETWEEN, then 2 * 149, make 300.
            await dynamodb.send(new ScanCommand({ TableName: table, FilterExpression: `NOT v BETWEEN :v AND :v${" OR v < :v".repeat(149)}`, ExpressionAttributeValues: values }));

            const operands = (n: number) => Array.from({ length: n }, (_, i) => `:v${i}`);
            const inList = (n: number) => ({
                TableName: table, FilterExpression: `pk IN (${operands(n).join(", ")})`,
                ExpressionAttributeValues: Object.fromEntries(operands(n).map(name => [name, S(name)])),
            });
            await dynamodb.send(new ScanCommand(inList(100)));
            expect((await rejection(dynamodb.send(new ScanCommand(inList(101))))).message)
                .to.equal("Invalid FilterExpression: The IN operator is provided with too many operands; number of operands: 101");
        });

        it("one update that puts every waiting worker on the waitlist breaks 4 KB past about 110 workers", async () => {
            const table = await createTable(dynamodb);
            // The shape of the reconciler's waitlist write: one if_not_exists per worker.
            const waitlist = (workers: number) => new UpdateItemCommand({
                TableName: table,
                Key: { pk: S("waitlist") },
                UpdateExpression: `SET ${Array.from({ length: workers }, (_, i) => `#w${i} = if_not_exists(#w${i}, :since)`).join(", ")}`,
                ExpressionAttributeNames: Object.fromEntries(Array.from({ length: workers }, (_, i) => [`#w${i}`, `i-${String(i).padStart(17, "0")}`])),
                ExpressionAttributeValues: { ":since": S("2026-12-01T00:00:00.000Z") },
            });
            await dynamodb.send(waitlist(105));
            const refused = await rejection(dynamodb.send(waitlist(115)));
            expect(refused.name).to.equal("ValidationException");
            expect(refused.message).to.match(/^Invalid UpdateExpression: Expression size has exceeded the maximum allowed size; expression size: \d+$/);
        });
    });

    // "GetChange" (API reference): a change is PENDING until it has propagated to every Route53 server.
    describe("Route53 propagates a change over time on the model's clock", () => {
        it("a change stays PENDING until inSyncAfterMs has passed on the clock, however often it is polled; by default one poll", async () => {
            const clock = { now: Date.parse("2026-12-01T00:00:00Z") };
            const zone = new Route53Model(ZONE, { clock: () => clock.now });
            zone.inSyncAfterMs = 60_000;
            const timed = await startGateway({ route53: zone });
            const route53 = new Route53Client({ endpoint: timed.endpoint, region: "us-east-1", credentials: CREDENTIALS });
            try {
                const record = (name: string) => ({
                    HostedZoneId: ZONE.id,
                    ChangeBatch: { Changes: [{ Action: "CREATE" as const, ResourceRecordSet: { Name: name, Type: "A" as const, TTL: 60, ResourceRecords: [{ Value: "198.51.100.1" }] } }] },
                });
                const { ChangeInfo } = await route53.send(new ChangeResourceRecordSetsCommand(record("a.live.example.com")));
                expect(ChangeInfo?.SubmittedAt?.getTime()).to.equal(clock.now);
                const status = async () => (await route53.send(new GetChangeCommand({ Id: ChangeInfo!.Id }))).ChangeInfo?.Status;
                for (let poll = 0; poll < 5; poll++) expect(await status()).to.equal("PENDING");
                clock.now += 59_999;
                expect(await status()).to.equal("PENDING");
                clock.now += 1;
                expect(await status()).to.equal("INSYNC");

                // The defaults: no wait in time, one PENDING answer.
                zone.inSyncAfterMs = 0;
                const { ChangeInfo: next } = await route53.send(new ChangeResourceRecordSetsCommand(record("b.live.example.com")));
                const statuses = [];
                for (let poll = 0; poll < 2; poll++) statuses.push((await route53.send(new GetChangeCommand({ Id: next!.Id }))).ChangeInfo?.Status);
                expect(statuses).to.deep.equal(["PENDING", "INSYNC"]);
            } finally {
                route53.destroy();
                await timed.close();
            }
        });
    });

    // moto 5.2.1 implements TransactWriteItems' cancellation reasons and its refusal of two
    // actions on one item, and so is asked about those. It implements neither the expression
    // limits (a 5,624-byte ConditionExpression and one of 603 operators pass) nor
    // TransactionConflict (its transactions are instantaneous): those are not asked of it.
    describe("a second opinion from moto", () => {
        let moto: Moto | undefined;
        let motoClient: DynamoDBClient;

        before(async function () {
            if (!motoAvailable()) {
                console.warn("      moto is not installed (`python3 -c 'import moto'` fails): skipping the second opinion");
                this.skip();
            }
            moto = await startMoto();
            motoClient = dynamoClient(moto.endpoint);
        });

        after(async () => {
            motoClient?.destroy();
            if (moto) await stopMoto(moto.process);
        });

        /** The same request to the gateway and to moto: the error each answers with. */
        async function bothRefuse(request: (table: string) => TransactWriteItemsCommand, seed: (client: DynamoDBClient, table: string) => Promise<unknown>) {
            const refusals: SdkError[] = [];
            for (const client of [dynamodb, motoClient]) {
                const table = await createTable(client);
                await seed(client, table);
                refusals.push(await rejection(client.send(request(table))));
            }
            return refusals.map(err => ({ name: err.name, message: err.message, reasons: err.CancellationReasons?.map(r => r.Code) }));
        }

        it("a failed condition cancels the whole transaction with a reason per action, in the same shape", async () => {
            const [standIn, second] = await bothRefuse(
                table => new TransactWriteItemsCommand({
                    TransactItems: [
                        { Put: { TableName: table, Item: item("fresh") } },
                        { Put: { TableName: table, Item: item("taken"), ConditionExpression: "attribute_not_exists(pk)" } },
                    ],
                }),
                (client, table) => client.send(new PutItemCommand({ TableName: table, Item: item("taken") })),
            );
            expect(standIn).to.deep.equal({
                name: "TransactionCanceledException",
                message: "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]",
                reasons: ["None", "ConditionalCheckFailed"],
            });
            expect(second).to.deep.equal(standIn);
        });

        it("two actions on one item are a ValidationException, in the same words", async () => {
            const [standIn, second] = await bothRefuse(
                table => new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: table, Item: item("a") } }, { Delete: { TableName: table, Key: { pk: S("a") } } }] }),
                async () => undefined,
            );
            expect(standIn).to.deep.equal({ name: "ValidationException", message: "Transaction request cannot include multiple operations on one item", reasons: undefined });
            expect(second).to.deep.equal(standIn);
        });

        it("a plain conditional write that fails is ConditionalCheckFailedException on both, not a transaction error", async () => {
            for (const client of [dynamodb, motoClient]) {
                const table = await createTable(client);
                await client.send(new PutItemCommand({ TableName: table, Item: item("a") }));
                const refused = await rejection(client.send(new PutItemCommand({ TableName: table, Item: item("a"), ConditionExpression: "attribute_not_exists(pk)" })));
                expect(refused).to.be.instanceOf(ConditionalCheckFailedException);
            }
        });
    });
});

/** Waits up to 5 s for `condition`. */
async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await new Promise(resolve => setTimeout(resolve, 5));
    }
}
