// Costs at fleet size: the calls a bind and a node hook make, with their lock
// collisions, beside thousands of bound workers (they must not grow with the fleet), and a reconciler
// run over 5,000 workers (it must stay well inside its timeout).
import { expect } from "chai";
import { performance } from "node:perf_hooks";
import { createEventHandler, createHookHandler, EventHandler, ReconcileHandler } from "../../binder";
import { candidateOrder } from "../../binder/candidates";
import { DEFAULTS } from "../../binder/config";
import { Reconciliation } from "../../binder/reconcile";
import { seedBoundFleet } from "../support/fleet";
import { callers, hookRequest } from "../support/hooks";
import { ACCOUNT, ADDRESS_TAGS, stateChange, World } from "../support/world";

/** The reconciler's function timeout (infra/component.ts). */
const RECONCILER_TIMEOUT_MS = 300_000;
/** Every call's latency in the reconciler's runs, as in the bench. */
const LATENCY_MS = 30;

describe("a bind at fleet size", function () {
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

    for (const taken of [1, 2]) {
        it(`a bind whose first ${taken} choice(s) rivals hold, beside 2,000 bound workers, scans nothing and reads the locks once`, async () => {
            const beside = await bindBeside(2_000, taken);
            const count = (action: string) => beside.filter(a => a === action).length;
            expect(count("Scan"), "a Scan on the bind's path").to.equal(0);
            // One collision: the lock's refused transaction, one read of that lock and the next
            // choices' (which passes over those also taken), the claim's move.
            expect(count("BatchGetItem"), "reads of the locks").to.equal(1);
            expect(count("TransactWriteItems")).to.equal(3 + 2);
            await world.close();
            // The same bind beside no fleet at all makes exactly the same calls.
            expect(await bindBeside(0, taken)).to.deep.equal(beside);
        });
    }
});

describe("a node hook at fleet size", function () {
    this.timeout(300_000);
    let world: World;
    afterEach(async () => { await world?.close(); });

    it("answers a worker its event bound with one EC2 read and three DynamoDB reads, and binds one that loses a lock without a Scan, beside 2,000 bound workers", async () => {
        world = await World.create({ poolSize: 0 });
        world.useEnvironment();
        const hook = createHookHandler();
        const ask = async (instanceId: string) => {
            world.gateway.clearCalls();
            const answer = await hook(hookRequest("POST", "/bind", callers.instance(instanceId)), { invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:hook` });
            expect(answer.statusCode, answer.body).to.equal(200);
            return world.gateway.calls.map(call => call.action);
        };
        const [bound] = await seedBoundFleet(world, 2_000);
        expect(await ask(bound)).to.deep.equal(["DescribeInstances", "GetItem", "GetItem", "GetItem"]);

        const free = [world.ec2.addAddress({ tags: ADDRESS_TAGS }), world.ec2.addAddress({ tags: ADDRESS_TAGS })];
        const booting = world.launch();
        await world.claimAndLock(world.launch().instanceId, candidateOrder(booting.instanceId, free)[0]);
        const calls = await ask(booting.instanceId);
        expect(calls.filter(action => action === "Scan"), "a Scan on the hook's path").to.deep.equal([]);
        expect(calls.filter(action => action.startsWith("Describe"))).to.deep.equal(["DescribeInstances", "DescribeAddresses"]);
        expect(world.addressesOf(booting.instanceId)).to.have.length(1);
    });
});

describe("the reconciler over 5,000 workers", function () {
    this.timeout(600_000);
    let world: World;
    afterEach(async () => { await world?.close(); });

    /** One reconciler run: its result or error, its wall-clock time, and its AWS calls by action. */
    async function run(reconcile: ReconcileHandler): Promise<{ outcome: Reconciliation | Error; seconds: number; calls: Record<string, number> }> {
        world.gateway.clearCalls();
        const began = performance.now();
        const outcome = await reconcile({}, { getRemainingTimeInMillis: () => RECONCILER_TIMEOUT_MS - (performance.now() - began) }).catch((err: Error) => err);
        const seconds = (performance.now() - began) / 1000;
        const calls: Record<string, number> = {};
        for (const call of world.gateway.calls) calls[call.action] = (calls[call.action] ?? 0) + 1;
        return { outcome, seconds, calls };
    }

    it("runs over a quiet fleet and over 1% drift that exhausts the pool without failing, binding several at once", async () => {
        let reconcile: ReconcileHandler;
        ({ world, reconcile } = await World.open({ poolSize: 0, gateway: { latencyMs: LATENCY_MS } }));
        await seedBoundFleet(world, 5_000);

        const quiet = await run(reconcile);
        console.log(`      quiet, 5,000 bound: ${quiet.seconds.toFixed(1)} s, calls ${JSON.stringify(quiet.calls)}`);
        expect(quiet.outcome).to.not.be.instanceOf(Error);
        expect((quiet.outcome as Reconciliation).inspection.drift).to.deep.equal([]);

        // 1% drift: 50 targets whose events were lost, and 25 free addresses for them. The other 25 wait: planned, not a failure.
        const lost = Array.from({ length: 50 }, () => world.launch().instanceId);
        for (let i = 0; i < 25; i++) world.ec2.addAddress({ tags: ADDRESS_TAGS });
        const drift = await run(reconcile);
        console.log(`      1% drift, 25 free: ${drift.seconds.toFixed(1)} s, calls ${JSON.stringify(drift.calls)}, AssociateAddress at once: ${world.gateway.peakInFlight.get("AssociateAddress")}`);
        expect(drift.outcome, "the run failed").to.not.be.instanceOf(Error);
        const result = drift.outcome as Reconciliation;
        expect([result.fixed.length, result.exhausted.length, result.failed]).to.deep.equal([25, 25, []]);
        expect(lost.filter(id => world.addressesOf(id).length === 1)).to.have.length(25);
        expect(Object.keys(await world.waitlist())).to.have.members(result.exhausted.map(d => d.instanceId!));
        // Bound several at once, never more than binderConcurrency's default.
        expect(world.gateway.peakInFlight.get("AssociateAddress")).to.be.within(2, DEFAULTS.binderConcurrency);
        expect(drift.calls.Scan ?? 0, "Scans").to.be.at.most(quiet.calls.Scan);
    });
});
