// The binder against EC2/Route53 stand-ins and dynalite: bursts, duplicates,
// non-targets, releases, exhaustion and throttling, each ending with a check of
// every invariant over the whole final state.
import { expect } from "chai";
import { createEventHandler, EventHandler } from "../../binder";
import { Store } from "../../binder/aws/store";
import type { ChangeResourceRecordSetsInput } from "../support/aws/route53-rest";
import { INSTANCE_TAGS, queueBatch, stateChange, World, WorldOptions } from "../support/world";

async function deliver(world: World, handler: EventHandler, event: unknown): Promise<Error | undefined> {
    try {
        await world.handle(handler, event);
        return undefined;
    } catch (err) {
        return err as Error;
    }
}

describe("binding and release", function () {
    this.timeout(120_000);
    let world: World;
    let handler: EventHandler;

    async function open(options: WorldOptions): Promise<void> {
        world = await World.create(options);
        world.useEnvironment();
        handler = createEventHandler();
    }

    afterEach(async () => { await world?.close(); });

    describe("per-address names", () => {
        it("binds instances one after another, each to its own address, in six AWS calls each", async () => {
            await open({ poolSize: 5 });
            for (let i = 0; i < 5; i++) {
                const instance = world.launch();
                world.gateway.clearCalls();
                expect(await deliver(world, handler, stateChange(instance.instanceId, "running"))).to.equal(undefined);
                // Three transactions: the first claim with the check that the worker is not draining, the lock with
                // the check that the claim still names the address, the row with the checks on the lock and the drain.
                expect(world.gateway.calls.map(c => c.action)).to.deep.equal([
                    "DescribeInstances", "DescribeAddresses", "TransactWriteItems", "TransactWriteItems", "AssociateAddress", "TransactWriteItems",
                ]);
                expect(world.addressesOf(instance.instanceId)).to.have.length(1);
            }
            expect((await world.checkInvariants()).bound).to.equal(5);
            const rows = await world.servers();
            for (const row of rows) {
                expect(row.allocated).to.equal(false);
                expect(row.DNS_Record).to.equal(`${row.EIP.replace(/\./g, "-")}.live.example.com`);
                expect(row.BoundAt).to.match(/^\d{4}-\d\d-\d\dT/);
            }
            const binds = world.metrics.filter(m => m.Binds === 1);
            expect(binds).to.have.length(5);
            expect(binds[4]).to.include({ Stack: "test", PoolSize: 5, FreeAddresses: 0 });
            expect(binds[4].BindLatency).to.be.a("number");
            expect(binds[4]._aws.CloudWatchMetrics[0]).to.deep.include({ Namespace: "EipDnsBinder", Dimensions: [["Stack"]] });
            const bound = world.logs.filter(l => l.message === "bound");
            expect(bound).to.have.length(5);
            expect(bound[0]).to.include({ level: "INFO", outcome: "bound", action: "bind", requestId: "test-request" });
            expect(bound[0]).to.have.keys(["timestamp", "level", "message", "requestId", "instanceId", "action", "outcome", "allocationId", "publicIp", "dnsName", "associationId"]);
        });

        it("binds 50 concurrent launches on a pool of 50, every one to a different address", async () => {
            await open({ poolSize: 50 });
            const instances = Array.from({ length: 50 }, () => world.launch());
            const errors = await Promise.all(instances.map(i => deliver(world, handler, stateChange(i.instanceId, "running"))));
            expect(errors.filter(Boolean)).to.deep.equal([]);
            expect((await world.checkInvariants()).bound).to.equal(50);
            for (const instance of instances) expect(world.addressesOf(instance.instanceId)).to.have.length(1);
        });

        it("on a burst larger than the pool binds as many as it can and fails the rest clearly, leaving nothing behind", async () => {
            await open({ poolSize: 20 });
            const instances = Array.from({ length: 30 }, () => world.launch());
            const errors = await Promise.all(instances.map(i => deliver(world, handler, stateChange(i.instanceId, "running"))));
            const failed = errors.filter((e): e is Error => e !== undefined);
            expect(failed).to.have.length(10);
            for (const err of failed) {
                expect(err.name).to.equal("PoolExhaustedError");
                expect(err.message).to.match(/^no free pool address for i-[0-9a-f]+: 0 of 20 addresses tagged team=live, pool=media are free$/);
            }
            expect((await world.checkInvariants()).bound).to.equal(20);
            expect(world.logs.filter(l => l.level === "ERROR" && l.outcome === "failed")).to.have.length(10);
            const failures = world.metrics.filter(m => m.Failures === 1);
            expect(failures).to.have.length(10);
            expect(failures[0]).to.include({ Stack: "test", Reason: "PoolExhaustedError" });
            expect(failures[0]._aws.CloudWatchMetrics[0].Dimensions).to.deep.equal([["Stack"], ["Stack", "Reason"]]);
        });

        it("gives an instance one address however often its event is delivered, one after another or five at once", async () => {
            await open({ poolSize: 10 });
            const sequential = world.launch();
            for (let i = 0; i < 3; i++) expect(await deliver(world, handler, stateChange(sequential.instanceId, "running"))).to.equal(undefined);
            const concurrent = world.launch();
            const errors = await Promise.all(Array.from({ length: 5 }, () => deliver(world, handler, stateChange(concurrent.instanceId, "running"))));
            expect(errors.filter(Boolean)).to.deep.equal([]);
            expect(world.addressesOf(sequential.instanceId)).to.have.length(1);
            expect(world.addressesOf(concurrent.instanceId)).to.have.length(1);
            expect((await world.checkInvariants()).bound).to.equal(2);
            expect(world.logs.filter(l => l.outcome === "already-bound").length).to.be.at.least(2);
        });

        it("writes into each row where its server runs: zone, type, private IP, launch time, Karpenter's node pool and capacity type", async () => {
            await open({ poolSize: 2 });
            const spot = world.ec2.addInstance({ tags: { ...INSTANCE_TAGS, "karpenter.sh/capacity-type": "spot" }, instanceType: "c7gn.4xlarge", availabilityZone: "us-east-1c" });
            const untyped = world.ec2.addInstance({ tags: { team: "live", "karpenter.sh/nodepool": "media" } });
            await world.handle(handler, stateChange(spot.instanceId, "running"), stateChange(untyped.instanceId, "running"));
            const rows = await world.servers();
            const rowOf = (instanceId: string) => rows.find(r => r.InstanceId === instanceId)!;
            expect(rowOf(spot.instanceId)).to.deep.include({
                AvailabilityZone: "us-east-1c", InstanceType: "c7gn.4xlarge", PrivateIp: spot.networkInterfaces[0].privateIpAddress,
                LaunchedAt: new Date(spot.launchTime).toISOString(), NodePool: "media", CapacityType: "spot",
            });
            // A tag the instance lacks is no attribute at all, never an empty one.
            expect(rowOf(untyped.instanceId)).to.include({ NodePool: "media", InstanceType: "c7i.2xlarge" });
            expect(rowOf(untyped.instanceId)).to.not.have.property("CapacityType");
            // The four original attributes are exactly as before.
            expect(rowOf(spot.instanceId)).to.include({ allocated: false });
            expect(Object.keys(rowOf(spot.instanceId))).to.include.members(["EIP", "DNS_Record", "AssociationId", "allocated"]);
        });

        it("keeps the scheduler's allocated flag through a duplicate running event", async () => {
            await open({ poolSize: 2 });
            const instance = world.launch();
            await deliver(world, handler, stateChange(instance.instanceId, "running"));
            const [row] = await world.servers();
            await world.allocate(row.EIP, row.DNS_Record);
            expect(await deliver(world, handler, stateChange(instance.instanceId, "running"))).to.equal(undefined);
            const [after] = await world.servers();
            expect(after.allocated).to.equal(true);
            expect(after.BoundAt).to.equal(row.BoundAt);
            await world.checkInvariants();
        });

        it("spends one read on an instance that is not a target, for either event, and raises nothing", async () => {
            await open({ poolSize: 2 });
            const other = world.launch({ team: "web" });
            world.gateway.clearCalls();
            expect(await deliver(world, handler, stateChange(other.instanceId, "running"))).to.equal(undefined);
            expect(world.gateway.calls.map(c => c.action)).to.deep.equal(["DescribeInstances"]);
            world.gateway.clearCalls();
            world.ec2.setState(other.instanceId, "shutting-down");
            expect(await deliver(world, handler, stateChange(other.instanceId, "shutting-down"))).to.equal(undefined);
            expect(world.gateway.calls.map(c => c.action)).to.deep.equal(["DescribeInstances"]);
            expect(world.logs.map(l => l.outcome)).to.deep.equal(["not-a-target", "not-a-target"]);
            expect((await world.checkInvariants()).bound).to.equal(0);
        });

        it("does nothing for an instance that terminated before its bind ran", async () => {
            await open({ poolSize: 2 });
            const instance = world.launch();
            world.ec2.setState(instance.instanceId, "terminated");
            expect(await deliver(world, handler, stateChange(instance.instanceId, "terminated"))).to.equal(undefined);
            expect(await deliver(world, handler, stateChange(instance.instanceId, "running"))).to.equal(undefined);
            expect((await world.checkInvariants()).bound).to.equal(0);
            expect(world.ec2.addresses().every(a => !a.association)).to.equal(true);
        });

        it("releases on shutting-down and on terminated, and the address goes to the next worker", async () => {
            await open({ poolSize: 1 });
            const first = world.launch();
            await deliver(world, handler, stateChange(first.instanceId, "running"));
            world.ec2.setState(first.instanceId, "shutting-down");
            expect(await deliver(world, handler, stateChange(first.instanceId, "shutting-down"))).to.equal(undefined);
            expect(world.addressesOf(first.instanceId)).to.have.length(0);
            world.ec2.setState(first.instanceId, "terminated");
            expect(await deliver(world, handler, stateChange(first.instanceId, "terminated"))).to.equal(undefined);
            expect(await world.servers()).to.deep.equal([]);

            const second = world.launch();
            expect(await deliver(world, handler, stateChange(second.instanceId, "running"))).to.equal(undefined);
            expect(world.addressesOf(second.instanceId)).to.have.length(1);
            // A late duplicate of the first worker's events must not touch the second's binding.
            expect(await deliver(world, handler, stateChange(first.instanceId, "terminated"))).to.equal(undefined);
            expect(await deliver(world, handler, stateChange(first.instanceId, "running"))).to.equal(undefined);
            expect((await world.checkInvariants()).bound).to.equal(1);
            expect(world.addressesOf(second.instanceId)).to.have.length(1);
        });

        it("releases after AWS has already disassociated a terminated instance", async () => {
            await open({ poolSize: 1 });
            const instance = world.launch();
            await deliver(world, handler, stateChange(instance.instanceId, "running"));
            world.ec2.setState(instance.instanceId, "terminated");
            world.gateway.clearCalls();
            expect(await deliver(world, handler, stateChange(instance.instanceId, "terminated"))).to.equal(undefined);
            // EC2 first (a release acts only on what EC2 says), then claim, row, lock, address, row and lock together, claim;
            // then the one read of the waitlist's index, which finds nobody, so nobody gets the freed address.
            expect(world.gateway.calls.map(c => c.action)).to.deep.equal([
                "DescribeInstances", "UpdateItem", "GetItem", "DeleteItem", "GetItem", "DescribeAddresses", "TransactWriteItems", "DeleteItem", "DeleteItem", "Query",
            ]);
            expect((await world.checkInvariants()).bound).to.equal(0);
        });

        it("skips an address someone associated out of band and takes the next", async () => {
            await open({ poolSize: 3 });
            const bystander = world.launch({ team: "web" });
            const instance = world.launch();
            let stolen = "";
            world.gateway.inject({
                service: "ec2",
                action: "AssociateAddress",
                // Just before the first association, an operator attaches that very address elsewhere.
                match: call => {
                    if (stolen !== "") return false;
                    stolen = (call.input as Record<string, string>).AllocationId;
                    world.ec2.associateOutOfBand(stolen, bystander.instanceId);
                    return false;
                },
            });
            expect(await deliver(world, handler, stateChange(instance.instanceId, "running"))).to.equal(undefined);
            const [held] = world.addressesOf(instance.instanceId);
            expect(held.allocationId).to.not.equal(stolen);
            expect(world.logs.filter(l => l.conflict === true)).to.have.length(1);
            // The bystander holds a pool address outside our bookkeeping; everything else holds.
            world.ec2.setState(bystander.instanceId, "terminated");
            await world.checkInvariants();
        });

        it("uses the primary interface even when EC2 lists another one first", async () => {
            await open({ poolSize: 1 });
            const instance = world.ec2.addInstance({ tags: { "team": "live", "karpenter.sh/nodepool": "media" }, secondaryInterfaceFirst: true });
            await deliver(world, handler, stateChange(instance.instanceId, "running"));
            const [held] = world.addressesOf(instance.instanceId);
            const primary = instance.networkInterfaces.find(n => n.deviceIndex === 0)!;
            expect(held.association).to.include({ networkInterfaceId: primary.networkInterfaceId, privateIpAddress: primary.privateIpAddress });
        });

        it("rides out EC2 and DynamoDB throttling with the SDK's retries", async () => {
            let throttled = 0;
            await open({ poolSize: 3, gateway: { throttle: (_service, action) => (action === "AssociateAddress" || action === "TransactWriteItems") && throttled++ % 2 === 0 } });
            const instances = [world.launch(), world.launch(), world.launch()];
            const errors = await Promise.all(instances.map(i => deliver(world, handler, stateChange(i.instanceId, "running"))));
            expect(errors.filter(Boolean)).to.deep.equal([]);
            expect(world.gateway.calls.filter(c => c.errorCode === "RequestLimitExceeded").length).to.be.at.least(1);
            expect(world.gateway.calls.filter(c => c.errorCode === "ThrottlingException").length).to.be.at.least(1);
            expect((await world.checkInvariants()).bound).to.equal(3);
        });

        it("logs and drops malformed events without a single AWS call", async () => {
            await open({ poolSize: 1 });
            const bad: [unknown, RegExp][] = [
                [null, /not an object/],
                [{ ...stateChange("i-0123456789abcdef0", "running"), source: "aws.s3" }, /source is "aws.s3"/],
                [{ ...stateChange("i-0123456789abcdef0", "running"), "detail-type": "AWS API Call via CloudTrail" }, /detail-type/],
                [{ ...stateChange("i-0123456789abcdef0", "running"), detail: undefined }, /no detail/],
                [stateChange("not-an-instance", "running"), /instance-id is "not-an-instance"/],
                [{ ...stateChange("i-0123456789abcdef0", "running"), detail: { "instance-id": "i-0123456789abcdef0" } }, /detail.state/],
            ];
            for (const [event] of bad) expect(await deliver(world, handler, event)).to.equal(undefined);
            expect(world.gateway.calls).to.have.length(0);
            const errors = world.logs.filter(l => l.level === "ERROR");
            expect(errors).to.have.length(bad.length);
            errors.forEach((line, i) => {
                expect(line).to.include({ message: "malformed event dropped", outcome: "malformed" });
                expect(line.reason).to.match(bad[i][1]);
            });
        });

        it("ignores states it has no business with", async () => {
            await open({ poolSize: 1 });
            const instance = world.launch();
            expect(await deliver(world, handler, stateChange(instance.instanceId, "pending"))).to.equal(undefined);
            expect(world.gateway.calls).to.have.length(0);
            expect(world.logs[0]).to.deep.include({ outcome: "ignored", states: ["pending"] });
        });
    });

    describe("batches from the event queue", () => {
        it("reads the instances once and the pool once, then makes four calls per bind", async () => {
            await open({ poolSize: 6 });
            const instances = Array.from({ length: 5 }, () => world.launch());
            await world.handle(handler, ...instances.map(i => stateChange(i.instanceId, "running")));
            expect((await world.checkInvariants()).bound).to.equal(5);
            const count = (action: string) => world.gateway.calls.filter(c => c.action === action).length;
            // The claim is written in a transaction with the check that the worker is not draining, the lock
            // with the check that the claim still names its address, and the row with the checks that the
            // lock is held and no drain is.
            expect({ DescribeInstances: count("DescribeInstances"), DescribeAddresses: count("DescribeAddresses"), PutItem: count("PutItem"), AssociateAddress: count("AssociateAddress"), TransactWriteItems: count("TransactWriteItems") })
                .to.deep.equal({ DescribeInstances: 1, DescribeAddresses: 1, PutItem: 0, AssociateAddress: 5, TransactWriteItems: 15 });
            expect(world.gateway.calls).to.have.length(22);
        });

        it("reports only the failed instance's messages, and binds the rest", async () => {
            await open({ poolSize: 2 });
            const instances = [world.launch(), world.launch(), world.launch()];
            const batch = queueBatch(...instances.map(i => stateChange(i.instanceId, "running")), stateChange(instances[2].instanceId, "running"));
            const { batchItemFailures } = await handler(batch);
            expect(batchItemFailures).to.deep.equal([batch.Records[2], batch.Records[3]].map(r => ({ itemIdentifier: r.messageId })));
            expect((await world.checkInvariants()).bound).to.equal(2);
            expect(world.logs.filter(l => l.outcome === "failed")).to.have.length(1);
            expect(world.sqs.changes.map(c => c.receiptHandle)).to.deep.equal([batch.Records[2], batch.Records[3]].map(r => r.receiptHandle));
        });

        it("hands a failed message back to the queue to come again soon, backing off by its receive count", async () => {
            await open({ poolSize: 1 });
            const [bound, unlucky] = [world.launch(), world.launch()];
            const batch = queueBatch(stateChange(bound.instanceId, "running"), stateChange(unlucky.instanceId, "running"));
            batch.Records[1].attributes = { ApproximateReceiveCount: "3" };
            const { batchItemFailures } = await handler(batch);
            expect(batchItemFailures).to.deep.equal([{ itemIdentifier: batch.Records[1].messageId }]);
            // The third delivery failed: back in 60 to 120 s, not when the 12-minute visibility timeout ends.
            expect(world.sqs.changes).to.have.length(1);
            expect(world.sqs.changes[0].receiptHandle).to.equal(batch.Records[1].receiptHandle);
            expect(world.sqs.changes[0].visibilityTimeout).to.be.within(60, 120);
            expect(world.gateway.calls.filter(c => c.service === "sqs").map(c => c.action)).to.deep.equal(["ChangeMessageVisibilityBatch"]);
            expect(world.logs.find(l => l.message === "message will be delivered again")).to.include({
                messageId: batch.Records[1].messageId, delaySeconds: world.sqs.changes[0].visibilityTimeout,
            });
        });

        it("hands back more than ten messages in calls of ten, SQS's limit", async () => {
            await open({ poolSize: 0 });
            const batch = queueBatch(...Array.from({ length: 12 }, () => stateChange(world.launch().instanceId, "running")));
            expect((await handler(batch)).batchItemFailures).to.have.length(12);
            const calls = world.gateway.calls.filter(c => c.service === "sqs").map(c => (c.input as { Entries: unknown[] }).Entries.length);
            expect(calls).to.deep.equal([10, 2]);
            expect(world.sqs.changes.map(c => c.receiptHandle)).to.deep.equal(batch.Records.map(r => r.receiptHandle));
        });

        it("still reports a failed message when the queue refuses it back early, or cannot be reached", async () => {
            await open({ poolSize: 0 });
            const launches = [world.launch(), world.launch()];
            const refused = queueBatch(stateChange(launches[0].instanceId, "running"));
            world.sqs.accepts = handle => handle !== refused.Records[0].receiptHandle;
            expect((await handler(refused)).batchItemFailures).to.deep.equal([{ itemIdentifier: refused.Records[0].messageId }]);
            expect(world.logs.find(l => l.level === "WARN")).to.include({
                message: "the queue refused an early redelivery; they will be delivered again when their visibility timeout ends",
                messageId: refused.Records[0].messageId,
                code: "ReceiptHandleIsInvalid",
            });

            world.gateway.inject({ service: "sqs", action: "ChangeMessageVisibilityBatch" });
            const unreachable = queueBatch(stateChange(launches[1].instanceId, "running"));
            expect((await handler(unreachable)).batchItemFailures).to.deep.equal([{ itemIdentifier: unreachable.Records[0].messageId }]);
            expect(world.logs.filter(l => l.level === "WARN").at(-1)).to.deep.include({
                message: "could not hand messages back early; they will be delivered again when their visibility timeout ends",
                messageIds: [unreachable.Records[0].messageId],
                error: { name: "InjectedFault", message: "Injected fault (InjectedFault) for ChangeMessageVisibilityBatch", attempts: 1 },
            });
            expect(world.sqs.changes).to.deep.equal([]);
            await world.checkInvariants();
        });

        it("keeps a release's fence when the release is not started for want of time", async () => {
            await open({ poolSize: 2 });
            const gone = world.launch();
            await world.handle(handler, stateChange(gone.instanceId, "running"));
            world.ec2.setState(gone.instanceId, "terminated");
            let left = 100_000;
            const context = { awsRequestId: "late", getRemainingTimeInMillis: () => left };
            // The fence's write uses up the time: the release itself is not started.
            world.gateway.inject({ action: "UpdateItem", match: call => { if (JSON.stringify(call.input).includes(`drain/${gone.instanceId}`)) left = 39_000; return false; } });
            const batch = queueBatch(stateChange(gone.instanceId, "terminated"));
            expect((await handler(batch, context)).batchItemFailures).to.have.length(1);
            // A bind of the run still on its way must find the run fenced until the release is done.
            expect((await world.drains()).map(mark => mark.Id)).to.deep.equal([`drain/${gone.instanceId}`]);
            await world.handle(handler, stateChange(gone.instanceId, "terminated"));
            expect(await world.drains()).to.deep.equal([]);
            expect((await world.checkInvariants()).bound).to.equal(0);
        });

        it("hands back, without starting them, the binds and releases it has no time left for", async () => {
            await open({ poolSize: 5 });
            const gone = world.launch();
            await world.handle(handler, stateChange(gone.instanceId, "running"));
            world.ec2.setState(gone.instanceId, "terminated");
            const launches = [world.launch(), world.launch(), world.launch()];
            let left = 100_000;
            const context = { awsRequestId: "late", getRemainingTimeInMillis: () => left };
            // The first bind's row write uses up the time: 39 s left is too little to start another.
            world.gateway.inject({ action: "TransactWriteItems", match: call => { if (JSON.stringify(call.input).includes('"Update"')) left = 39_000; return false; } });
            world.gateway.clearCalls();
            const batch = queueBatch(stateChange(gone.instanceId, "terminated"), ...launches.map(i => stateChange(i.instanceId, "running")));
            const { batchItemFailures } = await handler(batch, context);

            expect(world.addressesOf(gone.instanceId)).to.have.length(0);
            expect(world.addressesOf(launches[0].instanceId)).to.have.length(1);
            expect(batchItemFailures).to.deep.equal(batch.Records.slice(2).map(r => ({ itemIdentifier: r.messageId })));
            // Not started is not failed: visible again at once, and no error.
            expect(world.sqs.changes).to.deep.equal(batch.Records.slice(2).map(r => ({ receiptHandle: r.receiptHandle, visibilityTimeout: 0 })));
            expect(world.logs.filter(l => l.level === "ERROR")).to.deep.equal([]);
            expect(world.logs.find(l => l.outcome === "postponed")).to.deep.include({
                level: "WARN", instanceIds: [launches[1].instanceId, launches[2].instanceId], timeLeftMs: 39_000,
            });

            // With no time at all, not even a read: the whole batch goes back.
            left = 10_000;
            world.gateway.clearCalls();
            const late = queueBatch(stateChange(launches[0].instanceId, "terminated"), stateChange(launches[1].instanceId, "running"));
            expect((await handler(late, context)).batchItemFailures).to.have.length(2);
            expect(world.gateway.calls.map(c => c.action)).to.deep.equal(["ChangeMessageVisibilityBatch"]);

            await world.handle(handler, ...launches.slice(1).map(i => stateChange(i.instanceId, "running")));
            expect((await world.checkInvariants()).bound).to.equal(3);
        });

        it("does not associate again an address another invocation bound after the batch read the pool", async () => {
            await open({ poolSize: 3 });
            const [other, instance] = [world.launch(), world.launch()];
            const address = world.ec2.addresses()[0];
            // Another invocation for the instance has claimed and locked the address ...
            await world.claimAndLock(instance.instanceId, address);
            // ... and associates it while this batch binds its first instance, after its read of the pool.
            world.gateway.inject({ action: "AssociateAddress", match: () => {
                if (!world.ec2.address(address.allocationId)?.association) world.ec2.associateOutOfBand(address.allocationId, instance.instanceId);
                return false;
            } });
            await world.handle(handler, stateChange(other.instanceId, "running"), stateChange(instance.instanceId, "running"));
            expect(world.addressesOf(instance.instanceId).map(a => a.allocationId)).to.deep.equal([address.allocationId]);
            expect((await world.checkInvariants()).bound).to.equal(2);
            expect(world.gateway.calls.filter(c => c.action === "AssociateAddress")).to.have.length(1);
        });

        it("releases, rather than binds, an instance that started and went away within one batch", async () => {
            await open({ poolSize: 2 });
            const bound = world.launch();
            await world.handle(handler, stateChange(bound.instanceId, "running"));
            world.ec2.setState(bound.instanceId, "terminated");
            const brief = world.launch();
            world.ec2.setState(brief.instanceId, "terminated");
            const next = world.launch();
            await world.handle(handler, stateChange(bound.instanceId, "terminated"), stateChange(brief.instanceId, "running"),
                stateChange(brief.instanceId, "terminated"), stateChange(next.instanceId, "running"));
            expect(world.addressesOf(next.instanceId)).to.have.length(1);
            expect((await world.checkInvariants()).bound).to.equal(1);
            expect(world.logs.filter(l => l.outcome === "released").map(l => l.instanceId)).to.deep.equal([bound.instanceId]);
        });
    });

    describe("per-binding names", () => {
        it("points each instance's own name at its address before publishing the row, and removes it on release", async () => {
            await open({ poolSize: 3, dnsRecords: "per-binding", dnsName: "{instance-id}.edge.{suffix}" });
            world.route53.pollsUntilInSync = 2;
            const instances = [world.launch(), world.launch(), world.launch()];
            const errors = await Promise.all(instances.map(i => deliver(world, handler, stateChange(i.instanceId, "running"))));
            expect(errors.filter(Boolean)).to.deep.equal([]);
            expect((await world.checkInvariants()).bound).to.equal(3);
            for (const instance of instances) {
                const name = `${instance.instanceId}.edge.live.example.com.`;
                const calls = world.gateway.calls.filter(c => JSON.stringify(c.input).includes(instance.instanceId) || JSON.stringify(c.input).includes(name));
                const actions = calls.map(c => c.action);
                expect(actions.indexOf("ChangeResourceRecordSets")).to.be.lessThan(actions.lastIndexOf("TransactWriteItems"));
            }
            expect(world.gateway.calls.filter(c => c.action === "GetChange").length).to.be.at.least(3);

            world.ec2.setState(instances[0].instanceId, "terminated");
            expect(await deliver(world, handler, stateChange(instances[0].instanceId, "terminated"))).to.equal(undefined);
            expect(world.route53.records("A").map(r => r.name)).to.not.include(`${instances[0].instanceId}.edge.live.example.com.`);
            expect((await world.checkInvariants()).bound).to.equal(2);
        });

        it("hands an address to the waiting worker only once the last one's release is done, name included", async () => {
            await open({ poolSize: 1, dnsRecords: "per-binding", dnsName: "{instance-id}.edge.{suffix}" });
            const first = world.launch();
            await deliver(world, handler, stateChange(first.instanceId, "running"));
            // AWS disassociates on termination, but the release event has not arrived yet.
            world.ec2.setState(first.instanceId, "terminated");
            const second = world.launch();
            const early = await deliver(world, handler, stateChange(second.instanceId, "running"));
            expect(early?.name).to.equal("PoolExhaustedError");
            expect(world.addressesOf(second.instanceId)).to.have.length(0);
            expect(Object.keys(await world.waitlist())).to.deep.equal([second.instanceId]);

            // The release frees the address and, in the same invocation, hands it to the waiting worker.
            expect(await deliver(world, handler, stateChange(first.instanceId, "terminated"))).to.equal(undefined);
            expect(world.route53.records("A").map(r => r.name)).to.deep.equal([`${second.instanceId}.edge.live.example.com.`]);
            expect((await world.checkInvariants()).bound).to.equal(1);
            expect(world.addressesOf(second.instanceId)).to.have.length(1);
            expect(await world.waitlist()).to.deep.equal({});
            // Its own event, when it comes again, finds the binding done.
            expect(await deliver(world, handler, stateChange(second.instanceId, "running"))).to.equal(undefined);
            expect((await world.checkInvariants()).bound).to.equal(1);
        });

        it("hands each address a batch's releases free to the workers first in line, passing over one that drains", async () => {
            await open({ poolSize: 2 });
            const [a, b] = [world.launch(), world.launch()];
            await world.handle(handler, stateChange(a.instanceId, "running"), stateChange(b.instanceId, "running"));
            // Three workers wait, in this order; the first is warned before it gets an address.
            const waiting = [world.launchSpot(), world.launch(), world.launch()];
            for (const w of waiting) {
                expect((await deliver(world, handler, stateChange(w.instanceId, "running")))?.name).to.equal("PoolExhaustedError");
                await new Promise(resolve => setTimeout(resolve, 5)); // each waits from a later moment
            }
            await world.handle(handler, world.signal("spot-interruption", [waiting[0].instanceId]));
            // Its drain took it off the list; put it back at the head, as a bind of it after the drain would.
            await new Store(world.dynamodb, world.settings.serversTable, world.settings.claimsTable).wait([waiting[0].instanceId], new Date(0).toISOString());
            expect(Object.keys(await world.waitlist())).to.have.members(waiting.map(w => w.instanceId));

            for (const old of [a, b]) world.ec2.setState(old.instanceId, "terminated");
            await world.handle(handler, stateChange(a.instanceId, "terminated"), stateChange(b.instanceId, "terminated"));
            // Two addresses freed: the draining worker takes none, so the next two in line get them.
            expect(world.addressesOf(waiting[0].instanceId)).to.have.length(0);
            expect(world.addressesOf(waiting[1].instanceId)).to.have.length(1);
            expect(world.addressesOf(waiting[2].instanceId)).to.have.length(1);
            expect(await world.waitlist()).to.deep.equal({});
            await world.checkInvariants([waiting[0].instanceId]);
        });

        it("hands the addresses of releases at the same moment to different workers in line", async () => {
            await open({ poolSize: 4 });
            const old = [world.launch(), world.launch(), world.launch(), world.launch()];
            await world.handle(handler, ...old.map(o => stateChange(o.instanceId, "running")));
            const waiting = [world.launch(), world.launch(), world.launch(), world.launch()];
            for (const w of waiting) {
                expect((await deliver(world, handler, stateChange(w.instanceId, "running")))?.name).to.equal("PoolExhaustedError");
                await new Promise(resolve => setTimeout(resolve, 5)); // each waits from a later moment
            }
            // Four invocations release one worker each, side by side: each reads the same head of the line.
            for (const o of old) world.ec2.setState(o.instanceId, "terminated");
            await Promise.all(old.map(o => deliver(world, handler, stateChange(o.instanceId, "terminated"))));
            expect(waiting.map(w => world.addressesOf(w.instanceId).length)).to.deep.equal([1, 1, 1, 1]);
            expect(await world.waitlist()).to.deep.equal({});
            await world.checkInvariants();
        });

        it("names a batch of binds with one Route53 change and one wait, then publishes their rows", async () => {
            await open({ poolSize: 5, dnsRecords: "per-binding", dnsName: "{instance-id}.edge.{suffix}" });
            const instances = Array.from({ length: 4 }, () => world.launch());
            await world.handle(handler, ...instances.map(i => stateChange(i.instanceId, "running")));
            expect((await world.checkInvariants()).bound).to.equal(4);
            const route53 = world.gateway.calls.filter(c => c.service === "route53");
            const [change, ...polls] = route53;
            expect(route53.map(c => c.action)).to.deep.equal(["ChangeResourceRecordSets", "GetChange", "GetChange"]);
            const changes = (change.input as ChangeResourceRecordSetsInput).ChangeBatch.Changes;
            // Each name with the TXT record that names its owner, in the same change.
            expect(changes.map(c => [c.Action, c.ResourceRecordSet.Type, c.ResourceRecordSet.Name])).to.have.deep.members(instances.flatMap(i =>
                ["A", "TXT"].map(type => ["UPSERT", type, `${i.instanceId}.edge.live.example.com.`])));
            expect(new Set(polls.map(c => (c.input as { Id: string }).Id)).size).to.equal(1);
            // Every row is written after the names are in sync, none before.
            const actions = world.gateway.calls.map(c => c.action);
            const rowWrites = world.gateway.calls.flatMap((c, i) => (c.action === "TransactWriteItems" && JSON.stringify(c.input).includes('"Update"') ? [i] : []));
            expect(rowWrites).to.have.length(4);
            expect(Math.min(...rowWrites)).to.be.greaterThan(actions.lastIndexOf("GetChange"));
        });

        it("fails only the binding whose name Route53 refuses; the rest of the batch is named and published", async () => {
            await open({ poolSize: 3, dnsRecords: "per-binding", dnsName: "{instance-id}.edge.{suffix}" });
            const [first, refused, third] = [world.launch(), world.launch(), world.launch()];
            const name = `${refused.instanceId}.edge.live.example.com`;
            world.route53.put({ name, type: "CNAME", ttl: 60, values: ["elsewhere.example.net"] });
            const batch = queueBatch(...[first, refused, third].map(i => stateChange(i.instanceId, "running")));
            const { batchItemFailures } = await handler(batch);
            expect(batchItemFailures).to.deep.equal([{ itemIdentifier: batch.Records[1].messageId }]);
            expect(world.logs.filter(l => l.outcome === "failed").map(l => [l.instanceId, (l.error as { name: string }).name]))
                .to.deep.equal([[refused.instanceId, "InvalidChangeBatch"]]);
            expect((await world.servers()).map(r => r.InstanceId).sort()).to.deep.equal([first.instanceId, third.instanceId].sort());

            // Once the conflicting record is gone, the redelivered event finishes the same binding.
            world.route53.drop(name, "CNAME");
            await world.handle(handler, stateChange(refused.instanceId, "running"));
            expect((await world.checkInvariants()).bound).to.equal(3);
        });

        it("releases a batch with one read of the names and one change, leaving alone a name changed by hand", async () => {
            await open({ poolSize: 4, dnsRecords: "per-binding", dnsName: "{instance-id}.edge.{suffix}" });
            const instances = [world.launch(), world.launch(), world.launch()];
            await world.handle(handler, ...instances.map(i => stateChange(i.instanceId, "running")));
            const repointed = `${instances[1].instanceId}.edge.live.example.com`;
            world.route53.put({ name: repointed, type: "A", ttl: 60, values: ["203.0.113.99"] });
            instances.forEach(i => world.ec2.setState(i.instanceId, "shutting-down"));
            world.gateway.clearCalls();
            await world.handle(handler, ...instances.map(i => stateChange(i.instanceId, "shutting-down")));

            const route53 = world.gateway.calls.filter(c => c.service === "route53");
            expect(route53.map(c => c.action)).to.deep.equal(["ListResourceRecordSets", "ChangeResourceRecordSets"]);
            const deleted = (route53[1].input as ChangeResourceRecordSetsInput).ChangeBatch.Changes.map(c => [c.Action, c.ResourceRecordSet.Type, c.ResourceRecordSet.Name]);
            expect(deleted).to.have.deep.members([instances[0], instances[2]].flatMap(i => ["A", "TXT"].map(type => ["DELETE", type, `${i.instanceId}.edge.live.example.com.`])));
            expect(world.route53.records("A").map(r => [r.name, r.values])).to.deep.equal([[`${repointed}.`, ["203.0.113.99"]]]);
            expect(world.ec2.addresses().filter(a => a.association)).to.have.length(0);
            expect(await world.servers()).to.deep.equal([]);
        });

        it("releases a name written before names carried their owner: marked with its TXT record first, then deleted", async () => {
            await open({ poolSize: 1, dnsRecords: "per-binding", dnsName: "{instance-id}.edge.{suffix}" });
            const instance = world.launch();
            await world.handle(handler, stateChange(instance.instanceId, "running"));
            const [owner] = world.route53.records("TXT");
            world.route53.drop(owner.name, "TXT");
            world.ec2.setState(instance.instanceId, "terminated");
            world.gateway.clearCalls();
            await world.handle(handler, stateChange(instance.instanceId, "terminated"));
            const changes = world.gateway.calls.filter(c => c.action === "ChangeResourceRecordSets")
                .map(c => (c.input as ChangeResourceRecordSetsInput).ChangeBatch.Changes.map(change => `${change.Action} ${change.ResourceRecordSet.Type}`));
            expect(changes).to.deep.equal([["CREATE TXT"], ["DELETE A", "DELETE TXT"]]);
            expect(world.route53.records()).to.deep.equal([]);
            await world.checkInvariants();
        });

        it("retries Route53 throttling and PriorRequestNotComplete", async () => {
            await open({ poolSize: 1, dnsRecords: "per-binding" });
            world.gateway.inject({ service: "route53", action: "ChangeResourceRecordSets", code: "Throttling", status: 400 });
            world.gateway.inject({ service: "route53", action: "ChangeResourceRecordSets", code: "PriorRequestNotComplete", status: 400 });
            const instance = world.launch();
            expect(await deliver(world, handler, stateChange(instance.instanceId, "running"))).to.equal(undefined);
            expect(world.gateway.pendingFaults()).to.equal(0);
            expect((await world.checkInvariants()).bound).to.equal(1);
        });
    });
});
