// The reconciler against the same stand-ins: each kind of drift is made, fixed by
// one run, and a second run changes nothing; it also runs beside a burst of events.
import { PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { EventHandler, ReconcileHandler } from "../../binder";
import { ownerText } from "../../binder/aws/dns";
import type { ChangeResourceRecordSetsInput } from "../support/aws/route53-rest";
import { ADDRESS_TAGS, awsSignal, stateChange, World, WorldOptions } from "../support/world";

describe("the reconciler", function () {
    this.timeout(120_000);
    let world: World;
    let handler: EventHandler;
    let reconcile: ReconcileHandler;

    async function open(options: WorldOptions): Promise<void> {
        ({ world, handler, reconcile } = await World.open(options));
    }

    afterEach(async () => { await world?.close(); });

    const kinds = (drift: { kind: string }[]) => drift.map(d => d.kind).sort();

    async function bindOne(): Promise<string> {
        const instance = world.launch();
        await world.handle(handler, stateChange(instance.instanceId, "running"));
        return instance.instanceId;
    }

    it("binds a running target whose event was lost, then finds nothing to do", async () => {
        await open({ poolSize: 2 });
        const lost = world.launch().instanceId;
        const first = await reconcile({});
        expect(kinds(first.fixed)).to.deep.equal(["unbound-target"]);
        expect(world.addressesOf(lost)).to.have.length(1);
        expect((await world.checkInvariants()).bound).to.equal(1);
        const second = await reconcile({});
        expect(second.inspection.drift).to.deep.equal([]);
        expect(second.inspection.free).to.equal(1);
    });

    it("reports targets the pool has no address for, and fails its invocation only for a fix that failed", async () => {
        await open({ poolSize: 1 });
        const lost = [world.launch().instanceId, world.launch().instanceId];
        const short = await reconcile({});
        expect([short.fixed.length, short.exhausted.length, short.failed]).to.deep.equal([1, 1, []]);
        const waiting = short.exhausted[0].instanceId!;
        expect(lost).to.include(waiting);
        expect(Object.keys(await world.waitlist())).to.deep.equal([waiting]);
        expect(world.logs.find(l => l.message === "no pool address free for every target; the rest wait for a release")).to.include({ level: "WARN", waiting: 1, poolSize: 1 });

        // Two addresses EC2 refuses are a failure: the invocation fails, naming it.
        world.ec2.addAddress({ tags: ADDRESS_TAGS });
        world.ec2.addAddress({ tags: ADDRESS_TAGS });
        world.gateway.inject({ service: "ec2", action: "AssociateAddress", times: 2 });
        const failed = await reconcile({}).then(() => undefined, (err: Error) => err);
        expect(failed?.name).to.equal("ReconcileError");
        expect(failed?.message).to.match(new RegExp(`^1 drift\\(s\\) could not be fixed: unbound-target ${waiting}: InjectedFault`));
    });

    it("leaves for its next run the drift it has no time left for", async () => {
        await open({ poolSize: 3 });
        const stale = await bindOne();
        world.ec2.setState(stale, "terminated");
        const lost = [world.launch().instanceId, world.launch().instanceId];
        const late = await reconcile({}, { getRemainingTimeInMillis: () => 20_000 });
        expect(kinds(late.postponed)).to.deep.equal(["stale-binding", "unbound-target", "unbound-target"]);
        expect([late.fixed, late.failed]).to.deep.equal([[], []]);
        expect(world.logs.find(l => l.message === "the invocation is nearly out of time; the rest is left for the next run")).to.include({ postponed: 3 });
        const next = await reconcile({}, { getRemainingTimeInMillis: () => 300_000 });
        expect(kinds(next.fixed)).to.deep.equal(["stale-binding", "unbound-target", "unbound-target"]);
        expect(lost.map(id => world.addressesOf(id).length)).to.deep.equal([1, 1]);
        expect((await world.checkInvariants()).bound).to.equal(2);
    });

    it("releases bindings whose instance is gone or no longer a target", async () => {
        await open({ poolSize: 3 });
        const terminated = await bindOne();
        const retagged = await bindOne();
        world.ec2.setState(terminated, "terminated");
        world.ec2.setTags(retagged, { team: "web" });
        const result = await reconcile({});
        expect(kinds(result.fixed)).to.deep.equal(["stale-binding", "stale-binding"]);
        expect(result.fixed.map(d => d.detail)).to.have.members(["instance is terminated", "instance no longer carries the instance tags"]);
        expect((await world.checkInvariants()).bound).to.equal(0);
        expect((await reconcile({})).inspection.drift).to.deep.equal([]);
    });

    it("per binding, makes one Route53 change each for its releases, its stale names and its binds", async () => {
        await open({ poolSize: 6, dnsRecords: "per-binding", dnsName: "{instance-id}.{suffix}" });
        const gone = [await bindOne(), await bindOne()];
        gone.forEach(id => world.ec2.setState(id, "terminated"));
        const lost = [world.launch().instanceId, world.launch().instanceId, world.launch().instanceId];
        const spare = world.ec2.addresses().find(a => !a.association)!;
        const dead = "i-0000000000000dead.live.example.com";
        world.route53.put({ name: dead, type: "A", ttl: 60, values: [spare.publicIp] });
        world.route53.put({ name: dead, type: "TXT", ttl: 60, values: [ownerText(world.settings.stack, "i-0000000000000dead")] });
        world.gateway.clearCalls();

        const run = await reconcile({});
        expect(kinds(run.fixed)).to.deep.equal(["stale-binding", "stale-binding", "stale-record", "unbound-target", "unbound-target", "unbound-target"]);
        const changes = world.gateway.calls.filter(c => c.action === "ChangeResourceRecordSets")
            .map(c => (c.input as ChangeResourceRecordSetsInput).ChangeBatch.Changes.map(change => `${change.Action} ${change.ResourceRecordSet.Type}`));
        const pairs = (action: string, n: number) => Array.from({ length: n }, () => [`${action} A`, `${action} TXT`]).flat();
        expect(changes).to.deep.equal([pairs("DELETE", 2), pairs("DELETE", 1), pairs("UPSERT", 3)]);
        expect(lost.map(id => world.addressesOf(id).length)).to.deep.equal([1, 1, 1]);
        expect((await world.checkInvariants()).bound).to.equal(3);
    });

    it("per binding, gives a name written before names carried their owner its TXT record, once", async () => {
        await open({ poolSize: 1, dnsRecords: "per-binding" });
        const instanceId = await bindOne();
        const [owner] = world.route53.records("TXT");
        world.route53.drop(owner.name, "TXT");
        const result = await reconcile({});
        expect(result.fixed.map(d => [d.kind, d.instanceId])).to.deep.equal([["unpublished-binding", instanceId]]);
        expect(world.route53.records("TXT")).to.deep.equal([owner]);
        expect((await reconcile({})).inspection.drift).to.deep.equal([]);
        await world.checkInvariants();
    });

    it("publishes again a row from before the offers index, keeping its allocation, so the scheduler client finds it", async () => {
        await open({ poolSize: 1 });
        const instanceId = await bindOne();
        const [row] = await world.servers();
        await world.allocate(row.EIP, row.DNS_Record);
        // As an earlier version published it: no Offer, no OfferKey.
        await world.dynamodb.send(new UpdateItemCommand({
            TableName: world.settings.serversTable, Key: { EIP: { S: row.EIP }, DNS_Record: { S: row.DNS_Record } }, UpdateExpression: "REMOVE Offer, OfferKey",
        }));
        const result = await reconcile({});
        expect(result.fixed.map(d => [d.kind, d.instanceId])).to.deep.equal([["outdated-row", instanceId]]);
        const [again] = await world.servers();
        expect([again.allocated, typeof again.Offer, typeof again.OfferKey]).to.deep.equal([true, "string", "string"]);
        expect((await reconcile({})).inspection.drift).to.deep.equal([]);
    });

    it("per binding, names again a draining worker whose name went, and publishes no row for it", async () => {
        await open({ poolSize: 1, dnsRecords: "per-binding" });
        const instanceId = await bindOne();
        await world.handle(handler, awsSignal(world.ec2, "scheduled-change", [instanceId]));
        expect(await world.servers()).to.deep.equal([]);
        const records = world.route53.records("A").concat(world.route53.records("TXT"));
        for (const record of records) world.route53.drop(record.name, record.type);
        const result = await reconcile({});
        expect(result.fixed.map(d => [d.kind, d.instanceId])).to.deep.equal([["unnamed-binding", instanceId]]);
        expect(world.route53.records("A").concat(world.route53.records("TXT"))).to.deep.equal(records);
        expect(await world.servers()).to.deep.equal([]);
        expect((await reconcile({})).inspection.drift).to.deep.equal([]);
        await world.checkInvariants([instanceId]);
    });

    it("per binding, removes a TXT record of the binder's left alone by hand, and never touches another's", async () => {
        await open({ poolSize: 1, dnsRecords: "per-binding" });
        const alone = "i-0000000000000dead.live.example.com";
        const foreign = { name: "198-51-100-9.live.example.com", type: "TXT", ttl: 60, values: ['"heritage=external-dns,external-dns/owner=other"'] };
        world.route53.put({ name: alone, type: "TXT", ttl: 60, values: [ownerText(world.settings.stack, "i-0000000000000dead")] });
        world.route53.put(foreign);
        const result = await reconcile({});
        expect(result.fixed.map(d => [d.kind, d.dnsName])).to.deep.equal([["stale-record", alone]]);
        expect(world.route53.records().map(r => r.name)).to.deep.equal([`${foreign.name}.`]);
        expect((await reconcile({})).inspection.drift).to.deep.equal([]);
    });

    it("rebinds an instance whose address was taken off by hand, keeping its row's key", async () => {
        await open({ poolSize: 2 });
        const instanceId = await bindOne();
        const [address] = world.addressesOf(instanceId);
        const [row] = await world.servers();
        await world.allocate(row.EIP, row.DNS_Record);
        world.ec2.disassociateAddress({ associationId: address.association!.associationId });
        const result = await reconcile({});
        // The row stays: the instance still holds the lock, so it gets the same address back.
        expect(kinds(result.fixed)).to.deep.equal(["unbound-target"]);
        expect((await world.checkInvariants()).bound).to.equal(1);
        expect(world.addressesOf(instanceId).map(a => a.allocationId)).to.deep.equal([address.allocationId]);
        expect((await world.servers()).map(r => [r.EIP, r.allocated])).to.deep.equal([[row.EIP, true]]);
        expect(await reconcile({}).then(r => r.inspection.drift)).to.deep.equal([]);
    });

    it("removes a row that belongs to no binding", async () => {
        await open({ poolSize: 1 });
        const [address] = world.ec2.addresses();
        await world.dynamodb.send(new PutItemCommand({
            TableName: world.settings.serversTable,
            Item: {
                EIP: { S: address.publicIp }, DNS_Record: { S: "ghost.live.example.com" }, AssociationId: { S: "eipassoc-gone" },
                InstanceId: { S: "i-0000000000000dead" }, AllocationId: { S: address.allocationId }, allocated: { BOOL: false },
            },
        }));
        const result = await reconcile({});
        expect(kinds(result.fixed)).to.deep.equal(["orphan-row"]);
        expect(await world.servers()).to.deep.equal([]);
        await world.checkInvariants();
    });

    it("leaves a fresh claim to its bind in flight, and finishes one abandoned past the lease", async () => {
        await open({ poolSize: 2 });
        const instance = world.launch();
        // The bind stops after its claim: the lock is never written.
        world.gateway.inject({ service: "dynamodb", action: "TransactWriteItems", match: call => (call.input as { TransactItems: { Put?: { Item?: { InstanceId?: unknown } } }[] }).TransactItems[0].Put?.Item?.InstanceId !== undefined });
        await world.handle(handler, stateChange(instance.instanceId, "running")).catch(() => undefined);
        expect(await world.claims()).to.have.length(1);
        expect((await reconcile({})).inspection.drift).to.deep.equal([]);

        await world.dynamodb.send(new UpdateItemCommand({
            TableName: world.settings.claimsTable,
            Key: { Id: { S: instance.instanceId } },
            UpdateExpression: "SET ClaimedAt = :old",
            ExpressionAttributeValues: { ":old": { S: new Date(Date.now() - 60 * 60 * 1000).toISOString() } },
        }));
        const result = await reconcile({});
        expect(kinds(result.fixed)).to.deep.equal(["abandoned-claim"]);
        expect((await world.checkInvariants()).bound).to.equal(1);
    });

    it("unlocks an address whose lock no claim or association backs, once the lease is over", async () => {
        await open({ poolSize: 1 });
        const [address] = world.ec2.addresses();
        const lock = (at: Date) => world.dynamodb.send(new PutItemCommand({
            TableName: world.settings.claimsTable,
            Item: { Id: { S: address.allocationId }, InstanceId: { S: "i-0000000000000dead" }, LockedAt: { S: at.toISOString() } },
        }));
        await lock(new Date());
        expect((await reconcile({})).inspection.drift).to.deep.equal([]);
        await lock(new Date(Date.now() - 60 * 60 * 1000));
        const result = await reconcile({});
        expect(kinds(result.fixed)).to.deep.equal(["stale-lock"]);
        expect(await world.locks()).to.deep.equal([]);
        const instance = world.launch();
        await world.handle(handler, stateChange(instance.instanceId, "running"));
        expect((await world.checkInvariants()).bound).to.equal(1);
    });

    it("reports an address associated outside the bookkeeping and leaves it alone", async () => {
        await open({ poolSize: 2 });
        const bystander = world.launch({ team: "web" });
        const [address] = world.ec2.addresses();
        world.ec2.associateOutOfBand(address.allocationId, bystander.instanceId);
        for (let run = 0; run < 2; run++) {
            const result = await reconcile({});
            expect(kinds(result.inspection.drift)).to.deep.equal(["foreign-association"]);
            expect(result.fixed).to.deep.equal([]);
            expect(world.ec2.address(address.allocationId)!.association!.instanceId).to.equal(bystander.instanceId);
        }
        expect(world.metrics.filter(m => "Drift" in m).map(m => m.Drift)).to.deep.equal([0, 0]);
    });

    it("publishes the pool's size and free addresses", async () => {
        await open({ poolSize: 3 });
        await bindOne();
        await reconcile({});
        expect(world.metrics.at(-1)).to.include({ Stack: "test", PoolSize: 3, FreeAddresses: 2, Drift: 0 });
    });

    it("keeps every invariant when it runs twice during a burst of events", async () => {
        await open({ poolSize: 30 });
        const instances = Array.from({ length: 30 }, () => world.launch());
        const events = instances.map(i => world.handle(handler, stateChange(i.instanceId, "running")));
        const runs = [reconcile({}), reconcile({})];
        const outcomes = await Promise.allSettled([...events, ...runs]);
        expect(outcomes.filter(o => o.status === "rejected")).to.deep.equal([]);
        expect((await world.checkInvariants()).bound).to.equal(30);
        expect((await reconcile({})).inspection.drift).to.deep.equal([]);
    });
});
