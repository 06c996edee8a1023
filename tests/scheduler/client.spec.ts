// The scheduler client (scheduler/) through the stand-ins: rows the real binder
// publishes, withdraws and releases, in dynalite behind the tests' AWS gateway.
// Races are staged exactly by holding one call at the gateway.
import { DynamoDBClient, ScanCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { Allocation, SchedulerClient, serverEvents } from "../../scheduler";
import { Item } from "../../scheduler/rows";
import { EventHandler } from "../../binder/handler";
import { awsSignal, INSTANCE_TAGS, stateChange, World } from "../support/world";

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

describe("the scheduler client", function () {
    this.timeout(60_000);
    let world: World;
    let handler: EventHandler;
    let clients: DynamoDBClient[];

    beforeEach(async () => {
        ({ world, handler } = await World.open({ poolSize: 3 }));
        clients = [];
    });
    afterEach(async () => {
        clients.forEach(client => client.destroy());
        await world?.close();
    });

    /** A scheduler's client, through the gateway like the binder's calls, on `clock` if given. */
    function scheduler(clock?: () => Date): SchedulerClient {
        const dynamodb = new DynamoDBClient({ endpoint: world.gateway.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
        clients.push(dynamodb);
        return new SchedulerClient({ table: world.settings.serversTable, dynamodb, ...(clock && { now: clock }) });
    }

    /** Launches a bound worker in `zone`. */
    async function worker(zone: string, tags: Record<string, string> = INSTANCE_TAGS, spot = false) {
        const instance = world.ec2.addInstance({ tags, availabilityZone: zone, spot });
        await world.handle(handler, stateChange(instance.instanceId, "running"));
        return instance;
    }

    async function rawRows(): Promise<Item[]> {
        return ((await world.dynamodb.send(new ScanCommand({ TableName: world.settings.serversTable, ConsistentRead: true }))).Items ?? []) as Item[];
    }

    it("lets exactly one of two schedulers racing for the last matching server have it; the other is refused and finds nothing else", async () => {
        await worker("us-east-1a");
        const last = await worker("us-east-1b");
        const [a, b] = [scheduler(), scheduler()];
        // A has read the index and is about to claim; B claims meanwhile.
        const held = world.gateway.pauseAt(call => call.action === "UpdateItem" && JSON.stringify(call.input).includes('"owner-a"'));
        const racing = a.allocate({ availabilityZone: "us-east-1b" }, { owner: "owner-a" });
        await held.reached;
        const won = await b.allocate({ availabilityZone: "us-east-1b" }, { owner: "owner-b" });
        held.resume();
        expect(await racing).to.equal(undefined);
        expect(won).to.include({ instanceId: last.instanceId, owner: "owner-b", streams: 1, capacity: 1 });
        expect(a.counts.refused).to.equal(1);
        const rows = await rawRows();
        expect(rows.filter(row => row.allocated?.BOOL).map(row => [row.InstanceId.S, row.Owner?.S])).to.deep.equal([[last.instanceId, "owner-b"]]);
    });

    it("falls back through ordered selectors, and claims by zone, capacity type, node pool and instance type", async () => {
        const spot = await worker("us-east-1a", { ...INSTANCE_TAGS, "karpenter.sh/capacity-type": "spot" });
        const client = scheduler();
        expect(await client.allocate({ availabilityZone: "us-east-1c" })).to.equal(undefined);
        const got = await client.allocate([{ availabilityZone: "us-east-1c" }, { capacityType: "spot", nodePool: "media", instanceType: "c7i.2xlarge" }]);
        expect(got).to.include({ instanceId: spot.instanceId, availabilityZone: "us-east-1a", capacityType: "spot", nodePool: "media" });
        expect(await client.allocate({})).to.equal(undefined);
    });

    it("writes nothing when it frees a server whose row was deleted (the worker went), and says so", async () => {
        const instance = await worker("us-east-1a");
        const client = scheduler();
        // Without an owner: only the row's run tells this allocation from any other.
        const allocation = (await client.allocate({}))!;
        world.ec2.setState(instance.instanceId, "terminated");
        await world.handle(handler, stateChange(instance.instanceId, "terminated"));
        expect(await rawRows()).to.deep.equal([]);
        expect(await client.release(allocation)).to.equal("gone");
        expect(await rawRows(), "a free must never create a row").to.deep.equal([]);
    });

    it("does not touch the next run's row when it frees a server after its worker stopped and started", async () => {
        const instance = await worker("us-east-1a");
        const [first, second] = [scheduler(), scheduler()];
        // Without owners: only the run tells the two allocations apart.
        const old = (await first.allocate({}))!;
        world.ec2.setState(instance.instanceId, "stopped");
        await world.handle(handler, stateChange(instance.instanceId, "stopped"));
        await sleep(5);
        world.ec2.setState(instance.instanceId, "running");
        await world.handle(handler, stateChange(instance.instanceId, "running"));
        const next = (await second.allocate({}, { metadata: { stream: "next-run" } }))!;
        expect(next.launchedAt).to.not.equal(old.launchedAt);
        expect(await first.release(old)).to.equal("replaced");
        const [row] = await rawRows();
        expect(row).to.deep.include({ allocated: { BOOL: true }, Streams: { N: "1" }, LaunchedAt: { S: next.launchedAt }, Metadata: { M: { stream: { S: "next-run" } } } });
        expect(await second.release(next)).to.equal("released");
        expect((await rawRows())[0]).to.deep.include({ allocated: { BOOL: false }, Offer: { S: "free" } });
    });

    it("frees an expired lease: another scheduler takes the server over, or a sweep frees it; a renewed lease is kept", async () => {
        await worker("us-east-1a");
        let now = Date.parse("2026-12-08T00:00:00.000Z");
        const clock = () => new Date(now);
        const [crashed, alive, other] = [scheduler(clock), scheduler(clock), scheduler(clock)];
        const held = (await crashed.allocate({}, { owner: "crashed", leaseSeconds: 60 }))!;
        expect(held.leaseUntil).to.equal("2026-12-08T00:01:00.000Z");
        now += 59_000;
        expect(await other.allocate({}, { owner: "other", leaseSeconds: 60 }), "a live lease is not taken").to.equal(undefined);
        now += 2_000;
        const taken = (await other.allocate({}, { owner: "other", leaseSeconds: 60 }))!;
        expect(taken).to.include({ owner: "other", streams: 1, instanceId: held.instanceId });
        expect(await crashed.renew(held, 60), "the lapsed owner's renewal is refused").to.equal(undefined);
        expect(await crashed.release(held)).to.equal("not-owner");

        // Renewed in time, a lease is kept; lapsed, a sweep frees it.
        const renewed = (await other.renew(taken, 60))!;
        now += 50_000;
        expect(await alive.allocate({}, { owner: "alive", leaseSeconds: 60 })).to.equal(undefined);
        expect(renewed.leaseUntil).to.equal(new Date(now - 50_000 + 60_000).toISOString());
        now += 60_000;
        expect(await alive.freeLapsed()).to.equal(1);
        expect((await rawRows())[0]).to.deep.include({ allocated: { BOOL: false }, Offer: { S: "free" } });
        expect((await rawRows())[0].Owner).to.equal(undefined);
    });

    it("never counts more than the capacity or fewer than no streams under concurrent allocations and releases", async () => {
        await worker("us-east-1a");
        const schedulers = Array.from({ length: 6 }, () => scheduler());
        const capacity = 3;
        const counts: number[] = [];
        const watchCount = async () => {
            const row = (await rawRows())[0];
            counts.push(Number(row.Streams?.N ?? "0"));
        };
        // Ten allocations at once by one owner on one server of three slots: three win.
        const first = await Promise.all(Array.from({ length: 10 }, (_, i) => schedulers[i % 6].allocate({}, { owner: "farm", capacity })));
        const placed = first.filter((a): a is Allocation => a !== undefined);
        expect(placed).to.have.length(capacity);
        await watchCount();
        expect((await rawRows())[0]).to.deep.include({ Streams: { N: "3" }, Capacity: { N: "3" }, Offer: { S: "full" } });
        // Releases and allocations interleaved, more releases than streams.
        const mixed = await Promise.all([
            ...placed.map((allocation, i) => schedulers[i].release(allocation)),
            schedulers[3].release(placed[0]), schedulers[4].release(placed[1]),
            schedulers[5].allocate({}, { owner: "farm", capacity }), schedulers[4].allocate({}, { owner: "farm", capacity }),
            watchCount(), watchCount(),
        ]);
        await watchCount();
        const row = (await rawRows())[0];
        const released = mixed.filter(result => result === "released").length;
        const allocated = mixed.filter(result => typeof result === "object" && result !== null).length;
        const streams = Number(row.Streams?.N ?? "0");
        expect(streams).to.equal(3 - released + allocated);
        expect(released, "never more releases than streams placed").to.be.at.most(3 + allocated);
        expect(counts.every(n => n >= 0 && n <= capacity), `counts seen: ${counts}`).to.equal(true);
        expect(row.allocated?.BOOL).to.equal(streams > 0);
        expect(row.Offer?.S).to.equal(streams === 0 ? "free" : streams < capacity ? "open" : "full");
    });

    it("counts both of two streams that end at once on a shared server: the one refused reads the count again", async () => {
        await worker("us-east-1a");
        const [a, b] = [scheduler(), scheduler()];
        const first = (await a.allocate({}, { owner: "farm", capacity: 2 }))!;
        const second = (await b.allocate({}, { owner: "farm", capacity: 2 }))!;
        expect(second.streams).to.equal(2);
        const held = world.gateway.pauseAt(call => call.action === "UpdateItem" && JSON.stringify(call.input).includes('":seen":{"N":"2"}'));
        const ending = a.release(first);
        await held.reached;
        expect(await b.release(second)).to.equal("released");
        held.resume();
        expect(await ending).to.equal("released");
        expect(a.counts.refused).to.equal(1);
        const [row] = await rawRows();
        expect(row).to.deep.include({ allocated: { BOOL: false }, Offer: { S: "free" } });
        expect(row.Streams).to.equal(undefined);
    });

    it("shows a drain's cause and deadline on the row before the row goes, and no scheduler, old or new, can claim it meanwhile", async () => {
        const instance = await worker("us-east-1a", INSTANCE_TAGS, true);
        const before = (await rawRows())[0];
        const key = { EIP: { S: before.EIP.S! }, DNS_Record: { S: before.DNS_Record.S! } };
        const removal = world.gateway.pauseAt(call => call.action === "DeleteItem" && (call.input as { TableName: string }).TableName === world.settings.serversTable);
        const sent = new Date();
        const draining = world.handle(handler, awsSignal(world.ec2, "spot-interruption", [instance.instanceId], sent));
        await removal.reached;
        const warned = (await rawRows())[0];
        expect(warned).to.deep.include({ Leaving: { S: "draining" }, DrainCause: { S: "spot-interruption" }, DrainDeadline: { S: new Date(sent.getTime() + 120_000).toISOString() } });
        expect(warned.allocated).to.equal(undefined);
        // Meanwhile: the client finds nothing, and the README's old scan-and-claim finds nothing and is refused.
        expect(await scheduler().allocate({})).to.equal(undefined);
        const scan = await world.dynamodb.send(new ScanCommand({ TableName: world.settings.serversTable, FilterExpression: "allocated = :no", ExpressionAttributeValues: { ":no": { BOOL: false } } }));
        expect(scan.Items).to.deep.equal([]);
        const oldClaim = world.dynamodb.send(new UpdateItemCommand({
            TableName: world.settings.serversTable, Key: key,
            UpdateExpression: "SET allocated = :yes", ConditionExpression: "allocated = :no", ExpressionAttributeValues: { ":yes": { BOOL: true }, ":no": { BOOL: false } },
        }));
        expect(await oldClaim.then(() => "claimed", (err: Error) => err.name)).to.equal("ConditionalCheckFailedException");
        removal.resume();
        await draining;
        expect(await rawRows()).to.deep.equal([]);

        // The stream of those writes, as a scheduler reads it: the warning, then the REMOVE with why.
        const events = serverEvents([
            { eventName: "MODIFY", dynamodb: { OldImage: before, NewImage: warned } },
            { eventName: "REMOVE", dynamodb: { OldImage: warned } },
        ]);
        expect(events.map(event => event.type)).to.deep.equal(["leaving", "offline"]);
        const leaving = { reason: "draining", cause: "spot-interruption", deadline: warned.DrainDeadline.S };
        expect(events[0]).to.deep.include({ leaving });
        expect(events[1]).to.deep.include({ reason: leaving });
    });

    it("shows a stop on the row before the row goes", async () => {
        const instance = await worker("us-east-1a");
        const removal = world.gateway.pauseAt(call => call.action === "DeleteItem" && (call.input as { TableName: string }).TableName === world.settings.serversTable);
        world.ec2.setState(instance.instanceId, "stopped");
        const stopping = world.handle(handler, stateChange(instance.instanceId, "stopped"));
        await removal.reached;
        const warned = (await rawRows())[0];
        expect(warned).to.deep.include({ Leaving: { S: "stopped" } });
        expect(serverEvents([{ eventName: "REMOVE", dynamodb: { OldImage: warned } }])[0]).to.deep.include({ type: "offline", reason: { reason: "stopped" } });
        removal.resume();
        await stopping;
        expect(await rawRows()).to.deep.equal([]);
    });

    it("leaves the four original attributes as they were: an old scheduler scans, claims and frees as the README used to say", async () => {
        await worker("us-east-1a");
        const free = await world.dynamodb.send(new ScanCommand({ TableName: world.settings.serversTable, FilterExpression: "allocated = :no", ExpressionAttributeValues: { ":no": { BOOL: false } } }));
        expect(free.Items).to.have.length(1);
        const row = free.Items![0];
        expect(Object.keys(row)).to.include.members(["EIP", "DNS_Record", "AssociationId", "allocated"]);
        expect(world.ec2.addresses().map(address => address.publicIp)).to.include(row.EIP.S);
        const key = { EIP: row.EIP, DNS_Record: row.DNS_Record };
        await world.dynamodb.send(new UpdateItemCommand({
            TableName: world.settings.serversTable, Key: key,
            UpdateExpression: "SET allocated = :yes", ConditionExpression: "allocated = :no", ExpressionAttributeValues: { ":yes": { BOOL: true }, ":no": { BOOL: false } },
        }));
        // The client sees it taken, as the old scheduler meant.
        expect(await scheduler().allocate({})).to.equal(undefined);
        await world.dynamodb.send(new UpdateItemCommand({
            TableName: world.settings.serversTable, Key: key, UpdateExpression: "SET allocated = :no", ExpressionAttributeValues: { ":no": { BOOL: false } },
        }));
        expect(await scheduler().allocate({})).to.include({ publicIp: row.EIP.S });
    });
});
