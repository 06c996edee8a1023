// Interleavings where a name, a row or a binding was removed by someone who did not
// own it, or fixed forever, each staged exactly (a call held at the gateway while
// other actors move, or EC2 reads held behind), failing on the code before the fix.
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { EventHandler, ReconcileHandler } from "../../binder";
import { ownerText } from "../../binder/aws/dns";
import { ENV } from "../../binder/config";
import { main } from "../../cli/main";
import { ADDRESS_TAGS, awsSignal, stateChange, World, WorldOptions } from "../support/world";

describe("regressions: removals by someone who does not own what they remove", function () {
    this.timeout(120_000);
    let world: World;
    let handler: EventHandler;
    let reconcile: ReconcileHandler;

    async function open(options: WorldOptions): Promise<void> {
        ({ world, handler, reconcile } = await World.open(options));
        world.route53.pollsUntilInSync = 0;
    }

    afterEach(async () => { await world?.close(); });

    /** What an operator's `eip-dns-binder release --force <instance-id>` does, through the CLI (the worker may still run). */
    async function operatorRelease(instanceId: string): Promise<string> {
        const env = world.environment();
        const stack = JSON.stringify({
            serversTable: env[ENV.serversTable],
            claimsTable: env[ENV.claimsTable],
            zoneId: env[ENV.hostedZoneId],
            functionName: "binder-test",
            pool: Object.fromEntries(world.ec2.addresses().map(a => [a.publicIp, world.nameOf(a.publicIp, "")])),
            binderSettings: Object.fromEntries(Object.values(ENV).map(name => [name, env[name]])),
        });
        let stdout = "";
        const code = await main(["release", "--force", instanceId], { stdin: async () => stack, stdout: text => { stdout += text; }, stderr: () => undefined, now: () => new Date() });
        expect(code).to.equal(0);
        return stdout;
    }

    /** The A and TXT records at `name`, as "type value". */
    const recordsAt = (name: string) => world.route53.records().filter(r => r.name === `${name}.`).map(r => `${r.type} ${r.values.join(",")}`);

    it("4. orphan-row leaves a live, allocated row alone when both EC2 reads lag", async () => {
        // EC2's clock is the test's; while `lagging`, every read sees the world as it was ~10 s ago.
        let now = 0;
        let lagging = false;
        await open({ poolSize: 1, ec2: { clock: () => now, readLagMs: 10_000, random: () => (lagging ? 0.999 : 0) } });
        const instanceId = world.launch(undefined, "pending").instanceId;
        now = 10_000;
        world.ec2.setState(instanceId, "running");
        await world.handle(handler, stateChange(instanceId, "running"));
        const row = (await world.servers())[0];
        await world.allocate(row.EIP, row.DNS_Record);

        // The reconciler's reads, and its re-read of the address, show the instance pending and the address free.
        now = 10_001;
        lagging = true;
        const run = await reconcile({});
        expect(run.inspection.drift.map(d => d.kind)).to.deep.equal(["orphan-row"]);
        expect(await world.servers(), "the live row was deleted").to.have.length(1);

        lagging = false;
        expect((await reconcile({})).inspection.drift).to.deep.equal([]);
        const [after] = await world.servers();
        expect(after).to.include({ InstanceId: instanceId, allocated: true, BoundAt: row.BoundAt });
        await world.checkInvariants();
    });

    it("5. a bind's letGo leaves the next holder's per-binding name alone", async () => {
        await open({ poolSize: 1, dnsRecords: "per-binding" });
        const first = world.launch().instanceId;
        // X claims and locks the one address, and waits at AssociateAddress.
        const held = world.gateway.pauseAt(call => call.action === "AssociateAddress");
        const late = world.handle(handler, stateChange(first, "running")).catch(() => undefined);
        await held.reached;
        // An operator releases X (its lock and claim go); Y binds the address and names it.
        await operatorRelease(first);
        const second = world.launch().instanceId;
        await world.handle(handler, stateChange(second, "running"));
        const [address] = world.addressesOf(second);
        const name = world.nameOf(address.publicIp, second);
        // X resumes: AlreadyAssociated, not its own; it lets the address go, and its name with it, if it is its.
        held.resume();
        await late;
        expect(recordsAt(name), "the next holder's name was deleted").to.include(`A ${address.publicIp}`);
        expect(recordsAt(name)).to.deep.equal([`A ${address.publicIp}`, `TXT ${ownerText(world.settings.stack, second)}`]);
        await world.checkInvariants();
    });

    for (const leftover of ["written with its owner", "written before names carried their owner"]) {
        it(`6. the reconciler's stale-record fix leaves alone a name a new binding gave the address (a leftover ${leftover})`, async () => {
            await open({ poolSize: 1, dnsRecords: "per-binding" });
            const [address] = world.ec2.addresses();
            const name = world.nameOf(address.publicIp, "");
            world.route53.put({ name, type: "A", ttl: 60, values: [address.publicIp] });
            if (leftover === "written with its owner") world.route53.put({ name, type: "TXT", ttl: 60, values: [ownerText(world.settings.stack, "i-00000000000000dead")] });
            // The reconciler finds the address's lock free and the name stale; it waits at its change.
            const held = world.gateway.pauseAt(call => call.action === "ChangeResourceRecordSets");
            const run = reconcile({});
            await held.reached;
            // A bind locks the address and names it: the same A record, byte for byte.
            const instanceId = world.launch().instanceId;
            await world.handle(handler, stateChange(instanceId, "running"));
            held.resume();
            expect((await run).fixed.map(d => d.kind)).to.deep.equal(["stale-record"]);
            expect(recordsAt(name), "the new binding's name was deleted").to.include(`A ${address.publicIp}`);
            expect(recordsAt(name)).to.deep.equal([`A ${address.publicIp}`, `TXT ${ownerText(world.settings.stack, instanceId)}`]);
            expect((await reconcile({})).inspection.drift).to.deep.equal([]);
            await world.checkInvariants();
        });
    }

    /** A worker bound (and, with `drained`, draining) longer than the claim lease, whose address an operator then takes out of the pool. */
    async function untagBound(drained: boolean) {
        await open({ poolSize: 2, dnsRecords: "per-binding" });
        const instanceId = world.launch().instanceId;
        await world.handle(handler, stateChange(instanceId, "running"));
        if (drained) await world.handle(handler, awsSignal(world.ec2, "scheduled-change", [instanceId]));
        const [untagged] = world.addressesOf(instanceId);
        const past = new Date(Date.now() - 20 * 60_000).toISOString();
        await world.dynamodb.send(new UpdateItemCommand({
            TableName: world.settings.claimsTable, Key: { Id: { S: instanceId } },
            UpdateExpression: "SET ClaimedAt = :past", ExpressionAttributeValues: { ":past": { S: past } },
        }));
        world.ec2.setAddressTags(untagged.allocationId, { team: "other" });
        return { instanceId, untagged, name: world.nameOf(untagged.publicIp, instanceId) };
    }

    it("9. an address untagged while bound is forsaken once, then reported, never bound over", async () => {
        const { instanceId, untagged, name } = await untagBound(false);

        const first = await reconcile({});
        expect(first.fixed.map(d => d.kind), "the binding was bound again instead of forsaken").to.deep.equal(["left-pool"]);
        expect(await world.servers()).to.deep.equal([]);
        expect(await world.claims()).to.deep.equal([]);
        expect(await world.locks()).to.deep.equal([]);
        expect(recordsAt(name)).to.deep.equal([]);
        // The association is left as the operator left it.
        expect(world.addressesOf(instanceId).map(a => a.allocationId)).to.deep.equal([untagged.allocationId]);

        for (let run = 0; run < 2; run++) {
            const again = await reconcile({});
            expect(again.inspection.drift.map(d => [d.kind, d.instanceId])).to.deep.equal([["foreign-address", instanceId]]);
            expect(again.fixed).to.deep.equal([]);
        }
        // Its own event does not bind it over the address it holds either.
        await world.handle(handler, stateChange(instanceId, "running"));
        expect(world.addressesOf(instanceId).map(a => a.allocationId)).to.deep.equal([untagged.allocationId]);
        expect(world.ec2.addresses().filter(a => a.tags.pool === ADDRESS_TAGS.pool && a.association)).to.deep.equal([]);
    });

    it("9. an address untagged while its worker drains is forsaken with its name, not let go as a draining claim", async () => {
        const { instanceId, untagged, name } = await untagBound(true);

        const first = await reconcile({});
        expect(first.fixed.map(d => d.kind)).to.deep.equal(["left-pool"]);
        expect(recordsAt(name), "the name outlived the binding").to.deep.equal([]);
        expect(await world.claims()).to.deep.equal([]);
        expect(await world.locks()).to.deep.equal([]);
        expect(world.addressesOf(instanceId).map(a => a.allocationId)).to.deep.equal([untagged.allocationId]);
    });

    it("9. a name the binder gave an address after it left the pool is removed once no claim has it", async () => {
        const { instanceId, untagged, name } = await untagBound(false);
        expect((await reconcile({})).fixed.map(d => d.kind)).to.deep.equal(["left-pool"]);
        // A bind on its way named the address again after the forsaking (its lock was taken before the tags went).
        world.route53.put({ name: `${name}.`, type: "A", ttl: 60, values: [untagged.publicIp] });
        world.route53.put({ name: `${name}.`, type: "TXT", ttl: 60, values: [ownerText(world.settings.stack, instanceId)] });
        const run = await reconcile({});
        expect(run.fixed.map(d => [d.kind, d.dnsName])).to.deep.equal([["stale-record", name]]);
        expect(recordsAt(name)).to.deep.equal([]);
        expect((await reconcile({})).inspection.drift.map(d => d.kind)).to.deep.equal(["foreign-address"]);
    });

    it("9. a forsaking ends only the binding it found: a claim that moved on to a pool address meanwhile is left alone", async () => {
        const { instanceId, untagged } = await untagBound(false);
        const other = world.ec2.addresses().find(address => address.allocationId !== untagged.allocationId)!;
        // Held at the forsaking's own read of the address, after the inspection read the claim on it.
        const confirming = world.gateway.pauseAt(call => call.action === "DescribeAddresses" && JSON.stringify(call.input).includes(untagged.allocationId));
        const run = reconcile({});
        await confirming.reached;
        // Meanwhile a bind of the worker moves its claim to a pool address.
        await world.dynamodb.send(new UpdateItemCommand({
            TableName: world.settings.claimsTable, Key: { Id: { S: instanceId } },
            UpdateExpression: "SET AllocationId = :a, PublicIp = :ip", ExpressionAttributeValues: { ":a": { S: other.allocationId }, ":ip": { S: other.publicIp } },
        }));
        confirming.resume();
        await run;
        expect((await world.claims()).map(claim => [claim.Id, claim.AllocationId]), "the moved claim was released").to.deep.equal([[instanceId, other.allocationId]]);
    });
});
