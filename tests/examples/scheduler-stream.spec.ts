// The example scheduler (examples/scheduler-stream.ts) over the stand-ins: rows the
// binder writes, the client through the tests' AWS gateway, and stream records made
// of the row as it was before, during and after the binder's drain warning.
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { StreamScheduler } from "../../examples/scheduler-stream";
import { SchedulerClient } from "../../scheduler";
import { Item } from "../../scheduler/rows";
import { awsSignal, INSTANCE_TAGS, stateChange, World } from "../support/world";

describe("the example stream scheduler", function () {
    this.timeout(60_000);
    let world: World;
    let dynamodb: DynamoDBClient;
    afterEach(async () => {
        dynamodb?.destroy();
        await world?.close();
    });

    it("places streams by zone, renews their leases, and moves them off a server the moment the stream warns of its drain", async () => {
        const opened = await World.open({ poolSize: 3 });
        world = opened.world;
        const { handler } = opened;
        const workers = [];
        for (const zone of ["us-east-1a", "us-east-1b", "us-east-1b"]) {
            const worker = world.ec2.addInstance({ tags: INSTANCE_TAGS, availabilityZone: zone, spot: true });
            await world.handle(handler, stateChange(worker.instanceId, "running"));
            workers.push(worker);
        }
        let now = Date.now();
        dynamodb = new DynamoDBClient({ endpoint: world.gateway.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
        const scheduler = new StreamScheduler(new SchedulerClient({ table: world.settings.serversTable, dynamodb, now: () => new Date(now) }), "scheduler-1", 60);
        const rows = async () => ((await world.dynamodb.send(new ScanCommand({ TableName: world.settings.serversTable, ConsistentRead: true }))).Items ?? []) as Item[];

        const match = (await scheduler.place("match-42", "us-east-1b"))!;
        expect(match.server.availabilityZone).to.equal("us-east-1b");
        expect((await scheduler.place("match-43", "us-east-1c"))!.server.availabilityZone, "any zone when the one asked has none").to.not.equal(undefined);
        now += 45_000;
        await scheduler.renewLeases();
        expect(scheduler.where("match-42")!.server.leaseUntil).to.equal(new Date(now + 60_000).toISOString());

        // The Spot warning for match-42's server: the stream's MODIFY (cause, deadline), then its REMOVE.
        const draining = workers.find(w => w.instanceId === match.server.instanceId)!;
        const before = (await rows()).find(row => row.InstanceId.S === draining.instanceId)!;
        const removal = world.gateway.pauseAt(call => call.action === "DeleteItem" && (call.input as { TableName: string }).TableName === world.settings.serversTable);
        const drained = world.handle(handler, awsSignal(world.ec2, "spot-interruption", [draining.instanceId]));
        await removal.reached;
        const warned = (await rows()).find(row => row.InstanceId.S === draining.instanceId)!;
        await scheduler.onRecords({ Records: [{ eventName: "MODIFY", dynamodb: { OldImage: before, NewImage: warned } }] });
        removal.resume();
        await drained;

        const moved = scheduler.where("match-42")!;
        expect(moved.server.instanceId).to.not.equal(draining.instanceId);
        expect(moved.zone).to.equal("us-east-1b");
        await scheduler.onRecords({ Records: [{ eventName: "REMOVE", dynamodb: { OldImage: warned } }] });
        expect(scheduler.where("match-42")).to.deep.equal(moved);
        expect(await scheduler.end("match-42")).to.equal("released");
        expect(await scheduler.end("match-43")).to.equal("released");
        expect((await rows()).every(row => row.allocated?.BOOL === false)).to.equal(true);
    });
});
