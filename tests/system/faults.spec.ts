// Fault injection: every AWS call a bind or a release makes is failed once, before
// it takes effect and after (a lost response); the handler reports the message
// failed, the batch is delivered again, and the final state must be exactly right. The calls are taken
// from a recorded clean run, so a new call is covered without touching this file.
import { expect } from "chai";
import { candidateOrder } from "../../binder/candidates";
import { createEventHandler, EventHandler } from "../../binder";
import { Service } from "../support/aws/gateway";
import { stateChange, World, WorldOptions } from "../support/world";

interface Scenario {
    name: string;
    options: WorldOptions;
    /** Prepares the world and returns the events under test, delivered as one batch. */
    setup(world: World, handler: EventHandler): Promise<Record<string, unknown>[]>;
    /** Pool addresses bound at the end. */
    bound: number;
}

const launchAndBind = async (world: World, handler: EventHandler) => {
    const instance = world.launch();
    await world.handle(handler, stateChange(instance.instanceId, "running"));
    world.ec2.setState(instance.instanceId, "shutting-down");
    return [stateChange(instance.instanceId, "shutting-down")];
};

const launchThree = (world: World) => [world.launch(), world.launch(), world.launch()].map(i => stateChange(i.instanceId, "running"));

const perBinding: WorldOptions = { poolSize: 3, dnsRecords: "per-binding", dnsName: "{instance-id}.{suffix}" };

const scenarios: Scenario[] = [
    { name: "bind, per-address", options: { poolSize: 3 }, bound: 1, setup: async world => [stateChange(world.launch().instanceId, "running")] },
    { name: "bind, per-binding", options: perBinding, bound: 1, setup: async world => [stateChange(world.launch().instanceId, "running")] },
    { name: "bind, a batch of three launches", options: { poolSize: 4 }, bound: 3, setup: async world => launchThree(world) },
    { name: "bind, a batch of three launches, per-binding", options: { ...perBinding, poolSize: 4 }, bound: 3, setup: async world => launchThree(world) },
    { name: "release, per-address", options: { poolSize: 3 }, bound: 0, setup: launchAndBind },
    { name: "release, per-binding", options: perBinding, bound: 0, setup: launchAndBind },
    {
        name: "release, a batch of three, per-binding",
        options: { ...perBinding, poolSize: 4 },
        bound: 0,
        setup: async (world, handler) => {
            const launched = launchThree(world);
            await world.handle(handler, ...launched);
            return world.ec2.instances().map(i => {
                world.ec2.setState(i.instanceId, "shutting-down");
                return stateChange(i.instanceId, "shutting-down");
            });
        },
    },
];

async function withWorld<T>(options: WorldOptions, body: (world: World, handler: EventHandler) => Promise<T>): Promise<T> {
    const world = await World.create(options);
    try {
        world.useEnvironment();
        world.route53.pollsUntilInSync = 0;
        return await body(world, createEventHandler());
    } finally {
        await world.close();
    }
}

/** The calls a clean run of the scenario makes, in order. */
function cleanRun(scenario: Scenario): Promise<{ service: Service; action: string; input: unknown }[]> {
    return withWorld(scenario.options, async (world, handler) => {
        const events = await scenario.setup(world, handler);
        world.gateway.clearCalls();
        await world.handle(handler, ...events);
        expect((await world.checkInvariants()).bound).to.equal(scenario.bound);
        return world.gateway.calls.map(({ service, action, input }) => ({ service, action, input }));
    });
}

/** Whether call `index` of a release's clean run is the hand-over's read of the waitlist: its last call. */
const handOverRead = (scenario: Scenario, calls: { action: string }[], index: number) =>
    scenario.name.startsWith("release") && index === calls.length - 1 && calls[index].action === "Query";

describe("fault injection at every AWS call", function () {
    this.timeout(600_000);
    let cases = 0;

    for (const scenario of scenarios) {
        it(`${scenario.name}: every call failed once, before or after it takes effect, heals on redelivery`, async () => {
            const calls = await cleanRun(scenario);
            const absorbed = new Set<string>();
            expect(calls.length).to.be.at.least(4);
            for (const [index, call] of calls.entries()) {
                const occurrence = calls.slice(0, index).filter(c => c.service === call.service && c.action === call.action).length;
                for (const when of ["before", "after"] as const) {
                    const label = `${call.service}:${call.action} #${occurrence + 1} failed ${when}`;
                    await withWorld(scenario.options, async (world, handler) => {
                        const events = await scenario.setup(world, handler);
                        let seen = 0;
                        world.gateway.inject({ service: call.service, action: call.action, when, match: () => seen++ === occurrence });
                        let failure: unknown;
                        try {
                            await world.handle(handler, ...events);
                        } catch (err) {
                            failure = err;
                        }
                        expect(world.gateway.pendingFaults(), `${label}: the call was never made`).to.equal(0);
                        if (failure === undefined) absorbed.add(`${call.service}:${call.action}${handOverRead(scenario, calls, index) ? " (waitlist)" : fenceWrite(call.input) ? " (fence)" : ""}`);
                        else expect((failure as Error).name, label).to.equal("InjectedFault");
                        await world.handle(handler, ...events);
                        const { bound } = await world.checkInvariants();
                        expect(bound, `${label}: wrong number of bindings after redelivery`).to.equal(scenario.bound);
                    });
                    cases++;
                }
            }
            // Absorbed: a refused association (the bind lets the address go and takes the next one);
            // per binding, the SDK's INSYNC waiter (it checks again); after a release, the read of the
            // waitlist (nobody gets the freed address early; their events still bind them); around a
            // release, its fence and the fence's removal (only the guard against a late bind is lost,
            // or the reconciler removes the item). Every other fault fails the handler.
            const absorbs = scenario.name.startsWith("bind") ? ["ec2:AssociateAddress"] : ["dynamodb:DeleteItem (fence)", "dynamodb:Query (waitlist)", "dynamodb:UpdateItem (fence)"];
            const waits = scenario.name.startsWith("bind") && scenario.options.dnsRecords === "per-binding";
            expect([...absorbed].sort()).to.deep.equal(waits ? [...absorbs, "route53:GetChange"] : absorbs);
        });
    }

    it("a collision's extra calls (the lock read, the claim move) failed once also heal on redelivery", async () => {
        for (const action of ["BatchGetItem", "TransactWriteItems"]) {
            await withWorld({ poolSize: 2 }, async (world, handler) => {
                const rival = world.launch();
                const instance = world.launch();
                // The rival is mid-bind on the instance's first choice: claimed and locked, not yet associated.
                const first = candidateOrder(instance.instanceId, world.ec2.addresses())[0];
                await world.claimAndLock(rival.instanceId, first);
                // TransactWriteItems #1 is the instance's claim, #2 its failed lock, #3 the claim's move after the collision;
                // BatchGetItem #1 is the read of the lock it lost (and of the next choice's).
                let seen = 0;
                world.gateway.inject({ service: "dynamodb", action, match: () => ++seen === (action === "BatchGetItem" ? 1 : 3) });
                const failure = await world.handle(handler, stateChange(instance.instanceId, "running")).then(() => undefined, (err: Error) => err);
                expect(failure?.name, action).to.equal("InjectedFault");
                await world.handle(handler, stateChange(rival.instanceId, "running"));
                await world.handle(handler, stateChange(instance.instanceId, "running"));
                expect((await world.checkInvariants()).bound, action).to.equal(2);
                expect(world.addressesOf(rival.instanceId)[0].allocationId).to.equal(first.allocationId);
            });
            cases++;
        }
    });

    after(() => console.log(`      ${cases} fault-injection cases`));
});

/** A write to a worker's drain item: the fence a release puts up while it runs, and takes down after. */
function fenceWrite(input: unknown): boolean {
    const key = (input as { Key?: { Id?: { S?: string } } } | undefined)?.Key?.Id?.S;
    return key?.startsWith("drain/") ?? false;
}
