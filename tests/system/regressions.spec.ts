// Interleavings that broke the invariants before the protocol was hardened, each
// staged exactly (a call held at the gateway while other actors move), each
// failing on the code before the fix and ending here with every invariant kept.
import { DeleteItemCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { EventHandler, ReconcileHandler } from "../../binder";
import { candidateOrder } from "../../binder/candidates";
import { drainSignal, queueBatch, stateChange, World, WorldOptions } from "../support/world";

describe("regressions: interleavings that broke an invariant", function () {
    this.timeout(120_000);
    let world: World;
    let handler: EventHandler;
    let reconcile: ReconcileHandler;

    async function open(options: WorldOptions): Promise<void> {
        ({ world, handler, reconcile } = await World.open(options));
    }

    afterEach(async () => { await world?.close(); });

    async function bound(state = "running"): Promise<string> {
        const instance = world.launch();
        await world.handle(handler, stateChange(instance.instanceId, state));
        return instance.instanceId;
    }

    /** Allocates the one row of `instanceId`, as the scheduler does, and returns it. */
    async function allocate(instanceId: string) {
        const row = (await world.servers()).find(r => r.InstanceId === instanceId)!;
        await world.allocate(row.EIP, row.DNS_Record);
        return row;
    }

    /** Delivers a batch and returns the ids of the messages SQS must deliver again. */
    async function deliverAgain(events: unknown[], receiveCount = 1): Promise<number> {
        const batch = queueBatch(...events);
        for (const record of batch.Records) record.attributes = { ApproximateReceiveCount: String(receiveCount) };
        return (await handler(batch, { awsRequestId: "regression" })).batchItemFailures.length;
    }

    it("1. a stale pool view does not steal a newer binding of the same address", async () => {
        await open({ poolSize: 1 });
        const first = await bound();
        // A duplicate running event for the first worker reads its instance and the pool (the
        // address on it), then waits just before it acts on that view.
        let pooled = false;
        const held = world.gateway.pauseAt(call => {
            if (pooled) return true;
            pooled = call.action === "DescribeAddresses";
            return false;
        });
        const late = handler(queueBatch(stateChange(first, "running")), { awsRequestId: "late" });
        await held.reached;
        // Meanwhile the worker terminates and is released, another binds the address, and
        // the scheduler hands that one out.
        world.ec2.setState(first, "terminated");
        await world.handle(handler, stateChange(first, "terminated"));
        const second = await bound();
        const row = await allocate(second);
        held.resume();
        await late;
        await reconcile({});
        expect(world.addressesOf(second).map(a => a.publicIp)).to.deep.equal([row.EIP]);
        const [after] = await world.servers();
        expect(after).to.include({ InstanceId: second, allocated: true });
        await world.checkInvariants();
    });

    it("2. a bound worker whose row or name went missing is published again", async () => {
        await open({ poolSize: 2, dnsRecords: "per-binding", dnsName: "{instance-id}.{suffix}" });
        world.route53.pollsUntilInSync = 0;
        const withoutRow = await bound();
        const withoutName = await bound();
        const row = (await world.servers()).find(r => r.InstanceId === withoutRow)!;
        await world.dynamodb.send(new DeleteItemCommand({ TableName: world.settings.serversTable, Key: { EIP: { S: row.EIP }, DNS_Record: { S: row.DNS_Record } } }));
        const record = world.route53.records("A").find(r => r.name.startsWith(withoutName))!;
        world.route53.changeResourceRecordSets(world.route53.zoneId, [{ action: "DELETE", record }]);
        const result = await reconcile({});
        expect(result.fixed.map(d => [d.kind, d.instanceId])).to.have.deep.members([["unpublished-binding", withoutRow], ["unpublished-binding", withoutName]]);
        await world.checkInvariants();
    });

    it("3. a row whose association was remapped onto the same worker is updated, not deleted", async () => {
        await open({ poolSize: 2 });
        const instanceId = await bound();
        const row = await allocate(instanceId);
        const [address] = world.addressesOf(instanceId);
        // AssociateAddress is idempotent for the same target and may remap: a new association id.
        const remapped = world.ec2.associateOutOfBand(address.allocationId, instanceId);
        expect(remapped.associationId).to.not.equal(row.AssociationId);
        const result = await reconcile({});
        expect(result.fixed.map(d => d.kind)).to.deep.equal(["outdated-row"]);
        const [after] = await world.servers();
        expect(after).to.include({ InstanceId: instanceId, AssociationId: remapped.associationId, allocated: true, BoundAt: row.BoundAt });
        await world.checkInvariants();
    });

    it("4. releasing a claim without its lock leaves the lock holder's per-binding name alone", async () => {
        await open({ poolSize: 1, dnsRecords: "per-binding" });
        world.route53.pollsUntilInSync = 0;
        // The first worker claims the address, and its lock write fails: a claim without its lock.
        const first = world.launch().instanceId;
        world.gateway.inject({ service: "dynamodb", action: "TransactWriteItems", match: call => (call.input as { TransactItems: { Put?: { Item?: { InstanceId?: unknown } } }[] }).TransactItems[0].Put?.Item?.InstanceId !== undefined });
        await world.handle(handler, stateChange(first, "running")).catch(() => undefined);
        // Another worker locks and binds the same address, and names it.
        const second = await bound();
        expect((await world.claims()).map(c => c.Id)).to.have.members([first, second]);
        world.ec2.setState(first, "terminated");
        await world.handle(handler, stateChange(first, "terminated"));
        expect(world.route53.records("A").map(r => r.values[0])).to.deep.equal([world.addressesOf(second)[0].publicIp]);
        await world.checkInvariants();
    });

    it("5. a terminated message for a running worker removes nothing", async () => {
        await open({ poolSize: 1 });
        const instanceId = await bound();
        await allocate(instanceId);
        // EC2 says running: the message waits for EC2 to catch up, and is settled by EC2 in the end.
        expect(await deliverAgain([stateChange(instanceId, "terminated")])).to.equal(1);
        expect(await deliverAgain([stateChange(instanceId, "terminated")], 3)).to.equal(0);
        const [row] = await world.servers();
        expect(row).to.include({ InstanceId: instanceId, allocated: true });
        expect(world.addressesOf(instanceId)).to.have.length(1);
        await world.checkInvariants();
    });

    it("7. a Spot warning or a scheduled change for a running worker that EC2 does not confirm drains nothing", async () => {
        await open({ poolSize: 2 });
        const spot = world.launchSpot();
        await world.handle(handler, stateChange(spot.instanceId, "running"));
        const onDemand = await bound();
        for (const id of [spot.instanceId, onDemand]) await allocate(id);
        const forged = [drainSignal("spot-interruption", [spot.instanceId]), drainSignal("scheduled-change", [spot.instanceId, onDemand])];
        // EC2 shows the Spot request fulfilled and no scheduled event: asked again soon, then dismissed.
        expect(await deliverAgain(forged)).to.equal(2);
        expect(await deliverAgain(forged, 2)).to.equal(2);
        expect(await deliverAgain(forged, 3)).to.equal(0);
        expect((await world.servers()).map(r => ({ id: r.InstanceId, allocated: r.allocated })).sort((a, b) => a.id.localeCompare(b.id)))
            .to.deep.equal([spot.instanceId, onDemand].sort().map(id => ({ id, allocated: true })));
        expect(await world.drains()).to.deep.equal([]);
        for (const id of [spot.instanceId, onDemand]) expect(world.addressesOf(id)).to.have.length(1);
        await world.checkInvariants();
    });

    it("a stopped worker's row is withdrawn and its address kept; it is published again when it runs", async () => {
        await open({ poolSize: 2 });
        const instanceId = await bound();
        const [address] = world.addressesOf(instanceId);
        world.ec2.setState(instanceId, "stopping");
        await world.handle(handler, stateChange(instanceId, "stopping"));
        world.ec2.setState(instanceId, "stopped");
        await world.handle(handler, stateChange(instanceId, "stopped"));
        expect(await world.servers()).to.deep.equal([]);
        expect(world.addressesOf(instanceId).map(a => a.allocationId)).to.deep.equal([address.allocationId]);
        expect((await world.claims()).map(c => c.Id)).to.deep.equal([instanceId]);
        expect((await reconcile({})).inspection.drift).to.deep.equal([]);
        world.ec2.setState(instanceId, "running");
        await world.handle(handler, stateChange(instanceId, "running"));
        expect((await world.servers()).map(r => r.EIP)).to.deep.equal([address.publicIp]);
        await world.checkInvariants();
    });

    it("a running event that EC2 does not show yet comes back instead of being dropped", async () => {
        await open({ poolSize: 1 });
        const instance = world.launch(undefined, "pending");
        expect(await deliverAgain([stateChange(instance.instanceId, "running")])).to.equal(1);
        expect(world.logs.some(l => l.outcome === "waiting")).to.equal(true);
        world.ec2.setState(instance.instanceId, "running");
        expect(await deliverAgain([stateChange(instance.instanceId, "running")], 2)).to.equal(0);
        expect((await world.checkInvariants()).bound).to.equal(1);
    });

    it("an address EC2 refuses for a reason other than 'taken' is let go, and the next one is bound", async () => {
        await open({ poolSize: 2 });
        const instance = world.launch();
        const refusing = candidateOrder(instance.instanceId, world.ec2.addresses())[0];
        world.gateway.inject({ service: "ec2", action: "AssociateAddress", code: "Gateway.NotAttached", times: 10, match: call => (call.input as Record<string, string>).AllocationId === refusing.allocationId });
        await world.handle(handler, stateChange(instance.instanceId, "running"));
        const [address] = world.addressesOf(instance.instanceId);
        expect(address.allocationId).to.not.equal(refusing.allocationId);
        expect((await world.locks()).map(l => l.Id)).to.deep.equal([address.allocationId]);
        await world.checkInvariants();
    });

    it("6. two binds of one waiting worker, one moving its claim while the other wins the lock, leave it one address", async () => {
        await open({ poolSize: 2 });
        const [o1, o2] = [await bound(), await bound()];
        const w = world.launch().instanceId;
        await world.handle(handler, stateChange(w, "running")).catch(() => undefined); // exhausted: W waits
        const holder = (allocationId: string) => world.ec2.address(allocationId)!.association!.instanceId;
        const [first, second] = candidateOrder(w, world.ec2.addresses());
        const [slow, quick] = [holder(first.allocationId), holder(second.allocationId)];
        expect([slow, quick].sort()).to.deep.equal([o1, o2].sort());
        world.ec2.setState(slow, "shutting-down");
        world.ec2.setState(quick, "shutting-down");
        const text = (c: { input: unknown }) => JSON.stringify(c.input);
        // W's lock of `first`: a write to the claims table keyed by `first` that names W.
        const locksFirst = (c: { action: string; input: unknown }) => ["PutItem", "TransactWriteItems"].includes(c.action)
            && text(c).includes(`"Id":{"S":"${first.allocationId}"}`) && text(c).includes(`"InstanceId":{"S":"${w}"}`);
        // P: the release of `first`'s holder, held after it disassociated, before its row and lock go.
        const unbind = world.gateway.pauseAt(c => c.action === "TransactWriteItems" && text(c).includes(first.allocationId) && text(c).includes(slow) && text(c).includes("Delete"));
        const P = world.handle(handler, stateChange(slow, "shutting-down"));
        await unbind.reached;
        // Q: the release of `second`'s holder hands the freed address to W: it claims `first` for W; its lock is held.
        const qLock = world.gateway.pauseAt(locksFirst);
        const Q = world.handle(handler, stateChange(quick, "shutting-down"));
        await qLock.reached;
        // R: W's own event comes back and takes W's claim, on `first`; its lock is held too.
        const rLock = world.gateway.pauseAt(locksFirst);
        const R = world.handle(handler, stateChange(w, "running"));
        await rLock.reached;
        // Q finds `first` locked by P's instance and moves W's claim on; then P lets `first` go; then R locks it.
        qLock.resume();
        await Q.catch(() => undefined);
        unbind.resume();
        await P;
        rLock.resume();
        await R.catch(() => undefined);
        expect(world.addressesOf(w)).to.have.length(1);
        await world.checkInvariants();
    });
});
