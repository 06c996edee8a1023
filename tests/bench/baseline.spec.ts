// The bench's "no-handover" baseline is the shipped event handler given a Store
// with the waitlist off: nobody waits, so a release hands its address to nobody.
import { expect } from "chai";
import { createEventHandler } from "../../binder";
import { createNoHandoverHandler } from "../../bench/baseline";
import { stateChange, World } from "../support/world";

describe("bench baseline: no hand-over", function () {
    this.timeout(120_000);
    let world: World;

    afterEach(async () => { await world?.close(); });

    async function failure(promise: Promise<void>): Promise<string | undefined> {
        return promise.then(() => undefined, (err: Error) => err.name);
    }

    it("binds like the shipped handler but puts nobody on the waitlist, so a release hands over nothing", async () => {
        world = await World.create({ poolSize: 1 });
        world.useEnvironment();
        const handler = createNoHandoverHandler();
        const [first, second] = [world.launch(), world.launch()];
        await world.handle(handler, stateChange(first.instanceId, "running"));
        expect(world.addressesOf(first.instanceId)).to.have.length(1);

        expect(await failure(world.handle(handler, stateChange(second.instanceId, "running")))).to.equal("PoolExhaustedError");
        expect(await world.waitlist()).to.deep.equal({});

        world.ec2.setState(first.instanceId, "terminated");
        await world.handle(handler, stateChange(first.instanceId, "terminated"));
        expect(world.addressesOf(second.instanceId), "nobody waited, so nobody was handed the address").to.have.length(0);
        expect((await world.checkInvariants()).bound).to.equal(0);
        // Its own event, when it comes again, binds it.
        await world.handle(handler, stateChange(second.instanceId, "running"));
        expect(world.addressesOf(second.instanceId)).to.have.length(1);
    });

    it("leaves the shipped handler's waitlist alone: without a Store given, the exhausted worker waits and is handed the address", async () => {
        world = await World.create({ poolSize: 1 });
        world.useEnvironment();
        const handler = createEventHandler();
        const [first, second] = [world.launch(), world.launch()];
        await world.handle(handler, stateChange(first.instanceId, "running"));
        expect(await failure(world.handle(handler, stateChange(second.instanceId, "running")))).to.equal("PoolExhaustedError");
        expect(Object.keys(await world.waitlist())).to.deep.equal([second.instanceId]);

        world.ec2.setState(first.instanceId, "terminated");
        await world.handle(handler, stateChange(first.instanceId, "terminated"));
        expect(world.addressesOf(second.instanceId)).to.have.length(1);
    });
});
