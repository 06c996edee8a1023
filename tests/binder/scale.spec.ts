// Costs that must not grow with the fleet: the calls a bind makes, with its lock
// collisions, beside thousands of bound workers.
import { expect } from "chai";
import { createEventHandler, EventHandler } from "../../binder";
import { candidateOrder } from "../../binder/candidates";
import { seedBoundFleet } from "../support/fleet";
import { ADDRESS_TAGS, stateChange, World } from "../support/world";

describe("at fleet size", function () {
    this.timeout(300_000);
    let world: World;
    let handler: EventHandler;
    afterEach(async () => { await world?.close(); });

    /** The actions one worker's bind makes when rivals hold the locks of its first `collisions` choices, beside `fleet` bound workers. */
    async function bindBeside(fleet: number, collisions: number): Promise<string[]> {
        world = await World.create({ poolSize: 0 });
        world.useEnvironment();
        handler = createEventHandler();
        await seedBoundFleet(world, fleet);
        const free = Array.from({ length: collisions + 2 }, () => world.ec2.addAddress({ tags: ADDRESS_TAGS }));
        const instance = world.launch();
        // Rivals mid-bind on the worker's first choices: claimed and locked, not associated yet.
        for (const address of candidateOrder(instance.instanceId, free).slice(0, collisions)) await world.claimAndLock(world.launch().instanceId, address);
        world.gateway.clearCalls();
        await world.handle(handler, stateChange(instance.instanceId, "running"));
        expect(world.addressesOf(instance.instanceId)).to.have.length(1);
        return world.gateway.calls.map(call => call.action);
    }

    for (const collisions of [1, 2]) {
        it(`a bind that loses ${collisions} lock(s) beside 2,000 bound workers scans nothing, and reads one lock per collision`, async () => {
            const beside = await bindBeside(2_000, collisions);
            const count = (action: string) => beside.filter(a => a === action).length;
            expect(count("Scan"), "a Scan on the bind's path").to.equal(0);
            // Each collision: the lock's refused transaction, one read of that lock, the claim's move.
            expect(count("GetItem"), "reads of the collisions").to.equal(collisions);
            expect(count("TransactWriteItems")).to.equal(3 + 2 * collisions);
            await world.close();
            // The same bind beside no fleet at all makes exactly the same calls.
            expect(await bindBeside(0, collisions)).to.deep.equal(beside);
        });
    }
});
