// Two stacks that share addressTags: each binder keeps to the addresses whose owner
// tag names its own stack and pool (or that carry none), and says so in its log.
import { expect } from "chai";
import type { EventHandler, ReconcileHandler } from "../../binder";
import { OWNER_TAG, poolOwner } from "../../binder/schema";
import { ADDRESS_TAGS, stateChange, World } from "../support/world";

describe("pool ownership", function () {
    this.timeout(60_000);
    let world: World;
    afterEach(async () => { await world?.close(); });

    it("refuses an address owned by another stack, with a log line that names the owner, and binds its own or an unowned one", async () => {
        let handler: EventHandler, reconcile: ReconcileHandler;
        ({ world, handler, reconcile } = await World.open({ poolSize: 0 }));
        const foreign = world.ec2.addAddress({ tags: { ...ADDRESS_TAGS, [OWNER_TAG]: poolOwner("other", ADDRESS_TAGS) } });
        const own = world.ec2.addAddress({ tags: { ...ADDRESS_TAGS, [OWNER_TAG]: poolOwner(world.settings.stack, ADDRESS_TAGS) } });
        const unowned = world.ec2.addAddress({ tags: ADDRESS_TAGS });
        const first = world.launch();
        const second = world.launch();
        const third = world.launch();
        for (const instance of [first, second]) await world.handle(handler, stateChange(instance.instanceId, "running"));

        const bound = [first, second].flatMap(i => world.addressesOf(i.instanceId).map(a => a.allocationId));
        expect(bound).to.have.members([own.allocationId, unowned.allocationId]);
        const refused = world.logs.filter(line => line.outcome === "foreign-owner");
        expect(refused.length).to.be.at.least(1);
        expect(refused[0]).to.include({ level: "WARN", allocationId: foreign.allocationId, owner: "other/pool=media,team=live" });
        expect(refused[0].message).to.equal(
            `pool address ${foreign.publicIp} is owned by 'other/pool=media,team=live', not by this stack's pool 'test/pool=media,team=live': refused. Give each stack addressTags of its own.`);

        // The third worker finds the pool exhausted rather than taking the other stack's address, and so does the reconciler.
        const exhausted = /no free pool address for i-\w+: 0 of 2 addresses tagged team=live, pool=media are free/;
        expect(String(await world.handle(handler, stateChange(third.instanceId, "running")).catch(err => err))).to.match(exhausted);
        const reconciled = await reconcile({});
        expect([reconciled.exhausted.map(d => d.instanceId), reconciled.failed]).to.deep.equal([[third.instanceId], []]);
        expect(world.addressesOf(third.instanceId)).to.deep.equal([]);
        expect(foreign.association).to.equal(undefined);
    });
});
