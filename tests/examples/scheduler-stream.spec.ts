// The example scheduler (examples/scheduler-stream.ts) fed stream records made of
// the very items the binder writes: a bound worker comes online with where it runs,
// a stopped one goes offline.
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { serverChanges, StreamEvent } from "../../examples/scheduler-stream";
import { INSTANCE_TAGS, stateChange, World } from "../support/world";

describe("the scheduler's stream example", function () {
    this.timeout(60_000);
    let world: World;
    afterEach(async () => { await world?.close(); });

    it("sees a bound worker come online, with where it runs, and go offline when it stops", async () => {
        const opened = await World.open({ poolSize: 1 });
        world = opened.world;
        const { handler } = opened;
        const worker = world.ec2.addInstance({ tags: { ...INSTANCE_TAGS, "karpenter.sh/capacity-type": "spot" }, availabilityZone: "us-east-1b" });
        await world.handle(handler, stateChange(worker.instanceId, "running"));
        const { Items } = await world.dynamodb.send(new ScanCommand({ TableName: world.settings.serversTable }));
        const row = Items![0] as StreamEvent["Records"][number]["dynamodb"]["NewImage"];

        const [online] = serverChanges({ Records: [{ eventName: "INSERT", dynamodb: { NewImage: row } }] });
        expect(online).to.deep.equal({
            change: "online",
            server: {
                publicIp: world.ec2.addresses()[0].publicIp, dnsName: `${world.ec2.addresses()[0].publicIp.replace(/\./g, "-")}.live.example.com`,
                allocated: false, availabilityZone: "us-east-1b", instanceType: "c7i.2xlarge", nodePool: "media", capacityType: "spot",
            },
        });

        world.ec2.setState(worker.instanceId, "stopping");
        await world.handle(handler, stateChange(worker.instanceId, "stopping"));
        expect(await world.servers()).to.deep.equal([]);
        const [offline] = serverChanges({ Records: [{ eventName: "REMOVE", dynamodb: { OldImage: row } }] });
        expect(offline).to.deep.equal({ ...online, change: "offline" });
    });
});
