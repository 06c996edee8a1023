// Interleavings and AWS answers that broke an invariant or degraded the binder:
// transactions that meet other transactions, a waitlist past DynamoDB's
// expression limits, and two invocations for one worker around an association
// whose response was lost. Each staged exactly, each failing on the code before
// its fix.
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { createEventHandler, createReconcileHandler, EventHandler } from "../../binder";
import { tablesStore } from "../../binder/aws/connect";
import { candidateOrder } from "../../binder/candidates";
import { stateChange, World, WorldOptions } from "../support/world";

type Input = { TransactItems?: { Put?: { Item?: Record<string, { S?: string }> } }[] };

/**
 * Answers the DynamoDB client's TransactWriteItems that `match` picks, before they
 * reach DynamoDB, as AWS does when another transaction is in progress on one of
 * their items: 400 TransactionCanceledException, with the reason
 * `TransactionConflict` on the item at `conflicting`. The SDK parses the answer
 * and applies its own retry strategy, as it does against AWS.
 */
function cancelTransactions(client: DynamoDBClient, match: (input: Input) => boolean, conflicting = 0): { cancelled: () => number } {
    let cancelled = 0;
    type Middleware = Parameters<DynamoDBClient["middlewareStack"]["add"]>[0];
    const middleware: Middleware = next => async args => {
        const input = args.input as Input;
        if (!input.TransactItems || !match(input)) return next(args);
        cancelled++;
        const CancellationReasons = input.TransactItems.map((_, i) => (i === conflicting
            ? { Code: "TransactionConflict", Message: "Transaction is ongoing for the item" }
            : { Code: "None" }));
        const body = JSON.stringify({
            __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${CancellationReasons.map(r => r.Code).join(", ")}]`,
            CancellationReasons,
        });
        const response = { statusCode: 400, reason: "Bad Request", headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": `conflict-${cancelled}` }, body: new TextEncoder().encode(body) };
        return { response, output: undefined as never };
    };
    client.middlewareStack.add(middleware, { step: "deserialize", priority: "low", name: "cancelTransactionsForTest" });
    return { cancelled: () => cancelled };
}

describe("regressions: conflicts, the waitlist's size, and a duplicate around a lost association", function () {
    this.timeout(120_000);
    let world: World;

    afterEach(async () => { await world?.close(); });

    /** A world whose event handler's DynamoDB client `instrument` sees first. */
    async function open(options: WorldOptions, instrument: (client: DynamoDBClient) => void = () => {}): Promise<EventHandler> {
        world = await World.create(options);
        world.useEnvironment();
        return createEventHandler({ store: (dynamodb, settings) => {
            instrument(dynamodb);
            return tablesStore(dynamodb, settings);
        } });
    }

    /** The lock's transaction for `allocationId`: a Put of the address's item naming an instance. */
    const locking = (allocationId?: string) => (input: Input) => {
        const item = input.TransactItems?.[0]?.Put?.Item;
        return item?.InstanceId !== undefined && (allocationId === undefined || item.Id?.S === allocationId);
    };

    describe("7. TransactionConflict is a failure", () => {
        it("a lock's transaction cancelled once for a TransactionConflict: the bind succeeds", async () => {
            let conflicts = { cancelled: () => 0 };
            let once = true;
            const handler = await open({ poolSize: 2 }, client => {
                conflicts = cancelTransactions(client, input => locking()(input) && once && !(once = false));
            });
            const instance = world.launch();
            await world.handle(handler, stateChange(instance.instanceId, "running"));
            expect(conflicts.cancelled()).to.equal(1);
            expect(world.addressesOf(instance.instanceId)).to.have.length(1);
            await world.checkInvariants();
        });

        it("a lock that always meets another transaction is moved on from, like a lock held by another", async () => {
            let conflicts = { cancelled: () => 0 };
            let first = "";
            const handler = await open({ poolSize: 2 }, client => {
                conflicts = cancelTransactions(client, input => locking(first)(input));
            });
            const instance = world.launch();
            first = candidateOrder(instance.instanceId, world.ec2.addresses())[0].allocationId;
            await world.handle(handler, stateChange(instance.instanceId, "running"));
            expect(conflicts.cancelled()).to.be.greaterThan(1);
            const [address] = world.addressesOf(instance.instanceId);
            expect(address.allocationId).to.not.equal(first);
            await world.checkInvariants();
        });

        it("a drain's row delete that meets a transaction (TransactionConflictException) is retried: the row is gone", async () => {
            const handler = await open({ poolSize: 1 });
            const instance = world.launchSpot();
            await world.handle(handler, stateChange(instance.instanceId, "running"));
            expect(await world.servers()).to.have.length(1);
            world.gateway.inject({
                service: "dynamodb", action: "DeleteItem", code: "TransactionConflictException", times: 2,
                match: call => (call.input as { TableName?: string }).TableName === world.settings.serversTable,
            });
            await world.handle(handler, world.signal("spot-interruption", [instance.instanceId]));
            expect(world.gateway.pendingFaults()).to.equal(0);
            expect(await world.servers()).to.deep.equal([]);
            await world.checkInvariants([instance.instanceId]);
        });
    });
    describe("8. the waitlist write breaks DynamoDB's expression limits", () => {
        /** DynamoDB's limits on one expression: 4 KB, and 300 operators or functions. */
        const tooLarge = (input: Record<string, unknown>) => ["UpdateExpression", "ConditionExpression", "KeyConditionExpression", "FilterExpression", "ProjectionExpression"].some(field => {
            const text = input[field];
            if (typeof text !== "string") return false;
            const operators = text.match(/<>|<=|>=|=|<|>|\bAND\b|\bOR\b|\bNOT\b|\bBETWEEN\b|\bIN\b|\w+\(/g)?.length ?? 0;
            return Buffer.byteLength(text) > 4096 || operators > 300;
        });

        it("150 workers put on the waitlist at once all wait, in order; a hand-over reads only the first of them", async () => {
            const handler = await open({ poolSize: 1 });
            const reconcile = createReconcileHandler();
            // dynalite checks neither limit: AWS's answer to an expression past them, for every call.
            for (const action of ["UpdateItem", "PutItem"]) {
                world.gateway.inject({ service: "dynamodb", action, code: "ValidationException", times: 1_000, match: call => tooLarge(call.input as Record<string, unknown>) });
            }
            // The single waitlist item of an earlier version is skipped.
            await world.dynamodb.send(new PutItemCommand({ TableName: world.settings.claimsTable, Item: { Id: { S: "waitlist" }, "i-0000000000old": { S: "2020-01-01T00:00:00.000Z" } } }));
            const holder = world.launch().instanceId;
            await world.handle(handler, stateChange(holder, "running"));
            const first = world.launch().instanceId;
            await world.handle(handler, stateChange(first, "running")).catch(() => undefined); // exhausted: the first in line
            const later = Array.from({ length: 150 }, () => world.launch().instanceId);
            await reconcile({}).catch(() => undefined); // each one's pool is exhausted: all join the line
            const waitlist = await world.waitlist();
            expect(Object.keys(waitlist)).to.have.members([first, ...later]);
            expect(later.every(id => waitlist[id] > waitlist[first]), "the first in line kept its place").to.equal(true);
            // The holder goes; its release hands the address to the worker waiting longest.
            world.gateway.clearCalls();
            world.ec2.setState(holder, "terminated");
            await world.handle(handler, stateChange(holder, "terminated"));
            expect(world.addressesOf(first)).to.have.length(1);
            const reads = world.gateway.calls.filter(c => c.service === "dynamodb" && ["Query", "Scan"].includes(c.action));
            expect(reads.map(c => [c.action, (c.input as { Limit?: number }).Limit])).to.deep.equal([["Query", 3]]);
            // The reconciler binds none of the rest (no address is free), and keeps them waiting.
            await reconcile({}).catch(() => undefined);
            expect(Object.keys(await world.waitlist())).to.have.members(later);
            await world.checkInvariants();
        });
    });

    describe("3. a row whose address is on nothing", () => {
        it("an AssociateAddress that took effect but answered an error keeps its address: the worker is not moved to another", async () => {
            const handler = await open({ poolSize: 2 });
            const x = world.launch().instanceId;
            const [a, b] = candidateOrder(x, world.ec2.addresses());
            const allocationOf = (call: { input: unknown }) => (call.input as Record<string, string>).AllocationId;
            // X's AssociateAddress(A) takes effect, and AWS answers an error the SDK does not retry. Letting A
            // go (its lock freed while EC2 has it on X) and binding B would put B on X's private IP, which
            // takes A off it: a duplicate that saw A on X could publish a row of an address on nothing.
            world.gateway.inject({ service: "ec2", action: "AssociateAddress", when: "after", match: call => allocationOf(call) === a.allocationId });
            await world.handle(handler, stateChange(x, "running"));
            expect(world.gateway.calls.filter(call => call.action === "AssociateAddress").map(allocationOf), "B was tried").to.deep.equal([a.allocationId]);
            expect(world.addressesOf(x).map(address => address.allocationId)).to.deep.equal([a.allocationId]);
            expect((await world.locks()).map(lock => [lock.Id, lock.InstanceId])).to.deep.equal([[a.allocationId, x]]);
            expect(world.ec2.address(b.allocationId)?.association).to.equal(undefined);
            // A duplicate event for X finds the binding done.
            await world.handle(handler, stateChange(x, "running"));
            expect(world.addressesOf(x).map(address => address.allocationId)).to.deep.equal([a.allocationId]);
            await world.checkInvariants();
        });
        it("an address that replaced the claimed one is adopted once the claimed one's lock is too old for an association to follow", async () => {
            const handler = await open({ poolSize: 2 });
            const x = world.launch().instanceId;
            await world.handle(handler, stateChange(x, "running"));
            const [claimed] = world.addressesOf(x);
            const other = world.ec2.addresses().find(address => address.allocationId !== claimed.allocationId)!;
            // Another address replaced the claimed one on the private IP.
            world.ec2.associateOutOfBand(other.allocationId, x);
            const lockedAt = (minutesAgo: number) => world.dynamodb.send(new UpdateItemCommand({
                TableName: world.settings.claimsTable, Key: { Id: { S: claimed.allocationId } },
                UpdateExpression: "SET LockedAt = :at", ExpressionAttributeValues: { ":at": { S: new Date(Date.now() - minutesAgo * 60_000).toISOString() } },
            }));
            // Locked 14 minutes ago: an invocation may still be on its way to associate it. Not adopted; the claim is followed.
            await lockedAt(14);
            await world.handle(handler, stateChange(x, "running"));
            expect(world.addressesOf(x).map(address => address.allocationId)).to.deep.equal([claimed.allocationId]);
            await world.checkInvariants();
            // Locked 16 minutes ago: nothing can follow it. The address EC2 shows is adopted, as it is.
            world.ec2.associateOutOfBand(other.allocationId, x);
            await lockedAt(16);
            await world.handle(handler, stateChange(x, "running"));
            expect(world.addressesOf(x).map(address => address.allocationId)).to.deep.equal([other.allocationId]);
            expect((await world.claims()).map(claim => claim.AllocationId)).to.deep.equal([other.allocationId]);
            await world.checkInvariants();
        });
    });
});
