// The node hooks through the code that ships: the hook function's archive, run in
// a fresh Node process as Lambda would, fed function URL requests as Lambda
// delivers them (payload format 2.0, AWS_IAM auth), against the AWS stand-ins and
// dynalite; the binder's archive beside it where an event takes part.
import { expect } from "chai";
import { startLambda, LambdaProcess } from "../../tools/lambda-process";
import { Clock } from "../../bench/clock";
import { Throttler } from "../../bench/buckets";
import { shippedArchives, Shipped } from "../support/archives";
import { Answer, answerOf, Authorizer, callers, hookRequest } from "../support/hooks";
import { INSTANCE_TAGS, queueBatch, stateChange, World, WorldOptions } from "../support/world";

/** Calls that only read; anything else the gateway records is a write. */
const READS = ["DescribeInstances", "DescribeAddresses", "GetItem", "Scan"];

describe("the node hooks, through the shipped archive", function () {
    this.timeout(180_000);
    let shipped: Shipped;
    let world: World;
    let hook: LambdaProcess;
    let binder: LambdaProcess | undefined;

    before(async () => { shipped = await shippedArchives(); });

    async function open(options: WorldOptions, env: Record<string, string | undefined> = {}): Promise<void> {
        world = await World.create(options);
        hook = await startLambda(shipped.dirs.hook, shipped.archives.hook.handler, withEnv(world.environment(), env));
    }

    /** The binder's archive beside the hooks, for a worker's events. */
    async function openBinder(): Promise<LambdaProcess> {
        binder = await startLambda(shipped.dirs.binder, shipped.archives.binder.handler, world.environment());
        return binder;
    }

    afterEach(async () => {
        await hook?.close();
        await binder?.close();
        binder = undefined;
        await world?.close();
    });

    const call = async (method: string, path: string, caller: Authorizer, timeLeftMs?: number): Promise<Answer> =>
        answerOf(await hook.invoke(hookRequest(method, path, caller), timeLeftMs));
    const bind = (instanceId: string, query = "") => call("POST", `/bind${query}`, callers.instance(instanceId));
    const logged = () => hook.logs.map(line => JSON.parse(line)).filter(entry => !("_aws" in entry));
    const writes = () => world.gateway.calls.filter(c => !READS.includes(c.action)).map(c => c.action);
    const event = async (instanceId: string, state: string) =>
        expect(await binder!.invoke(queueBatch(stateChange(instanceId, state)))).to.deep.equal({ value: { batchItemFailures: [] } });

    describe("who may call", () => {
        const refusals: [string, (instanceId: string) => Authorizer, RegExp][] = [
            ["a worker of another account", id => callers.instance(id, undefined, "999999999999"), /is of account 999999999999, not this function's account 123456789012/],
            ["an instance of a role that is not a node role", id => callers.instance(id, "SomeOtherRole"), /session of role SomeOtherRole, which is not one of the node roles/],
            ["an IAM user", () => callers.user("alice"), /:user\/alice is an IAM user, not an instance/],
            ["a federated user", () => callers.federated("alice"), /:federated-user\/alice is a federated user, not an instance/],
            ["an IAM Identity Center (SSO) session", () => callers.sso("alice@example.com"), /session of role AWSReservedSSO_AdministratorAccess_0123456789abcdef, which is not one of the node roles/],
            ["a node role session not named after an instance", () => callers.session("alice"), /session of node role KarpenterNodeRole-media named 'alice', not after an instance/],
            ["a node role session named after something like an instance", () => callers.session("i-0123456789abcdefg"), /named 'i-0123456789abcdefg', not after an instance/],
        ];
        for (const [who, caller, reason] of refusals) {
            it(`refuses ${who} (403), with the reason, logged, before any AWS call`, async () => {
                await open({ poolSize: 1 });
                const worker = world.launch();
                for (const [method, path] of [["POST", "/bind"], ["POST", "/drain"], ["GET", "/self"]]) {
                    const answer = await call(method, path, caller(worker.instanceId));
                    expect(answer.status, path).to.equal(403);
                    expect(answer.body.error).to.equal("refused");
                    expect(answer.body.reason).to.match(reason);
                }
                expect(world.gateway.calls).to.deep.equal([]);
                const refused = logged().filter(l => l.outcome === "refused");
                expect(refused).to.have.length(3);
                expect(refused[0]).to.include({ level: "WARN", caller: caller(worker.instanceId).userArn });
            });
        }

        it("refuses a request without an IAM identity, and fails closed when the function cannot tell its account", async () => {
            await open({ poolSize: 1 }, { LAMBDA_HOST_ACCOUNT_ID: undefined });
            const worker = world.launch();
            const request = hookRequest("POST", "/bind", callers.instance(worker.instanceId));
            expect(answerOf(await hook.invoke(request)).body.reason).to.match(/cannot tell its own account/);
            await hook.close();
            hook = await startLambda(shipped.dirs.hook, shipped.archives.hook.handler, world.environment());
            (request.requestContext as { authorizer?: unknown }).authorizer = undefined;
            const answer = answerOf(await hook.invoke(request));
            expect(answer).to.deep.include({ status: 403 });
            expect(answer.body.reason).to.match(/carries no IAM identity/);
            expect(world.gateway.calls).to.deep.equal([]);
        });

        it("refuses a worker EC2 shows terminated, stopped or not at all (403), and one without the instance tags (404), after one read, writing nothing", async () => {
            await open({ poolSize: 2 });
            const terminated = world.launch();
            world.ec2.setState(terminated.instanceId, "terminated");
            const stopped = world.launch();
            world.ec2.setState(stopped.instanceId, "stopped");
            const otherStack = world.launch({ ...INSTANCE_TAGS, "karpenter.sh/nodepool": "media-prod" });
            const cases: [string, string, number, RegExp][] = [
                [terminated.instanceId, "/bind", 403, /EC2 shows i-\w+ terminated/],
                [terminated.instanceId, "/drain", 403, /EC2 shows i-\w+ terminated/],
                [stopped.instanceId, "/bind", 403, /EC2 shows i-\w+ stopped/],
                ["i-0123456789abcdef0", "/bind", 403, /EC2 shows no instance i-0123456789abcdef0/],
                [otherStack.instanceId, "/bind", 404, /lacks an instance tag \(team=live, karpenter.sh\/nodepool=media\): this stack does not serve it/],
                [otherStack.instanceId, "/drain", 404, /this stack does not serve it/],
            ];
            for (const [instanceId, path, status, reason] of cases) {
                world.gateway.clearCalls();
                const answer = await call("POST", path, callers.instance(instanceId));
                expect(answer.status, `${instanceId} ${path}`).to.equal(status);
                expect(answer.body.reason).to.match(reason);
                expect(world.gateway.calls.map(c => c.action)).to.deep.equal(["DescribeInstances"]);
            }
            expect(await world.claims()).to.deep.equal([]);
            expect(logged().filter(l => l.message === "hook refused").map(l => l.outcome)).to.deep.equal(["refused", "refused", "refused", "refused", "not-a-target", "not-a-target"]);
        });
    });

    describe("POST /bind", () => {
        it("binds the caller and answers its address, name and allocation; asked again, the same; its event then changes nothing", async () => {
            await open({ poolSize: 2 });
            await openBinder();
            const worker = world.launch();
            const first = await bind(worker.instanceId);
            expect(first.status).to.equal(200);
            const [address] = world.addressesOf(worker.instanceId);
            expect(first.body).to.deep.equal({
                instanceId: worker.instanceId, publicIp: address.publicIp, dnsName: world.nameOf(address.publicIp, worker.instanceId), allocationId: address.allocationId,
            });
            expect(first.headers["content-type"]).to.equal("application/json");
            expect(await bind(worker.instanceId)).to.deep.equal(first);
            await event(worker.instanceId, "running");
            expect((await world.checkInvariants()).bound).to.equal(1);
            expect(world.addressesOf(worker.instanceId)).to.deep.equal([address]);
            const outcomes = [...logged(), ...binder!.logs.map(line => JSON.parse(line))].filter(l => l.action === "bind").map(l => l.outcome);
            expect(outcomes).to.deep.equal(["bound", "already-bound", "already-bound"]);
        });

        it("per binding: the caller's name resolves before the answer", async () => {
            await open({ poolSize: 1, dnsRecords: "per-binding", dnsName: "{instance-id}.edge.{suffix}" });
            const worker = world.launch();
            const answer = await bind(worker.instanceId);
            expect(answer.status).to.equal(200);
            expect(answer.body.dnsName).to.equal(`${worker.instanceId}.edge.live.example.com`);
            expect(world.route53.records("A").map(r => ({ name: r.name, values: r.values }))).to.deep.equal([{ name: `${answer.body.dnsName}.`, values: [answer.body.publicIp] }]);
            await world.checkInvariants();
        });

        it("answers 503 with Retry-After when the pool is exhausted and puts the worker on the waitlist; the next release hands it the address", async () => {
            await open({ poolSize: 1 });
            await openBinder();
            const [old, waiting] = [world.launch(), world.launch()];
            const bound = await bind(old.instanceId);
            const exhausted = await bind(waiting.instanceId);
            expect(exhausted.status).to.equal(503);
            expect(exhausted.headers["retry-after"]).to.equal("30");
            expect(exhausted.body).to.deep.include({ error: "pool-exhausted", instanceId: waiting.instanceId });
            expect(exhausted.body.reason).to.match(/no free pool address for i-\w+: 0 of 1 addresses .* waits for the next address a release frees/);
            expect(Object.keys(await world.waitlist())).to.deep.equal([waiting.instanceId]);
            expect(await world.claims()).to.have.length(1);

            world.ec2.setState(old.instanceId, "terminated");
            await event(old.instanceId, "terminated");
            const handedOver = await bind(waiting.instanceId);
            expect(handedOver.status).to.equal(200);
            expect(handedOver.body.allocationId).to.equal(bound.body.allocationId);
            expect(await world.waitlist()).to.deep.equal({});
            await world.checkInvariants();
        });

        it("answers 503 once its wait runs out; the bind goes on, and the worker ends with one binding", async () => {
            await open({ poolSize: 2 });
            await openBinder();
            const worker = world.launch();
            const held = world.gateway.pauseAt(c => c.action === "AssociateAddress");
            const started = Date.now();
            const late = await bind(worker.instanceId, "?wait=1");
            const elapsed = Date.now() - started;
            expect(late.status).to.equal(503);
            expect(late.headers["retry-after"]).to.equal("5");
            expect(late.body).to.deep.include({ error: "time-ran-out", instanceId: worker.instanceId });
            expect(elapsed).to.be.within(1_000, 2_500);
            await held.reached;
            // Its event arrives meanwhile: it adopts the claim the held bind made, and binds the same address.
            await event(worker.instanceId, "running");
            held.resume();
            const answer = await bind(worker.instanceId);
            expect(answer.status).to.equal(200);
            await world.checkInvariants();
            expect(world.addressesOf(worker.instanceId).map(a => a.allocationId)).to.deep.equal([answer.body.allocationId]);
        });

        it("starts no bind with too little of the invocation's time left, and says so at once", async () => {
            await open({ poolSize: 1 });
            const worker = world.launch();
            const answer = answerOf(await hook.invoke(hookRequest("POST", "/bind?wait=60", callers.instance(worker.instanceId)), 20_000));
            expect(answer.status).to.equal(503);
            expect(answer.body.error).to.equal("no-time");
            expect(writes()).to.deep.equal([]);
        });

        it("answers 409 to a worker a Spot warning drains, and binds nothing", async () => {
            await open({ poolSize: 1 });
            await openBinder();
            const worker = world.launchSpot();
            expect(await binder!.invoke(queueBatch(world.signal("spot-interruption", [worker.instanceId])))).to.deep.equal({ value: { batchItemFailures: [] } });
            const answer = await bind(worker.instanceId);
            expect(answer.status).to.equal(409);
            expect(answer.body).to.deep.include({ error: "draining", instanceId: worker.instanceId });
            expect(world.addressesOf(worker.instanceId)).to.deep.equal([]);
            expect(await world.claims()).to.deep.equal([]);
            expect((await world.drains()).map(d => Object.keys(d).filter(name => name.endsWith("SignalledAt")))).to.deep.equal([["SpotSignalledAt"]]);
        });

        it("ends the drain a worker started itself (its pod restarted) and publishes it again, as a new server", async () => {
            await open({ poolSize: 1 });
            const worker = world.launch();
            const first = await bind(worker.instanceId);
            const [row] = await world.servers();
            await world.allocate(row.EIP, row.DNS_Record);
            expect((await call("POST", "/drain", callers.instance(worker.instanceId))).body.outcome).to.equal("drained");
            expect(await world.servers()).to.deep.equal([]);
            const again = await bind(worker.instanceId);
            expect(again).to.deep.equal(first);
            expect(await world.drains()).to.deep.equal([]);
            await world.checkInvariants();
            const [published] = await world.servers();
            expect(published.allocated, "the streams of the pod that stopped are gone").to.equal(false);
            expect(logged().filter(l => l.action === "undrain").map(l => l.cause)).to.deep.equal(["node"]);
        });
    });

    describe("POST /drain and GET /self", () => {
        it("drains the caller: its row goes at once, its address, name and claim stay; again, already draining; counted by cause node", async () => {
            await open({ poolSize: 2 });
            const [worker, other] = [world.launch(), world.launch()];
            await bind(worker.instanceId);
            await bind(other.instanceId);
            const drained = await call("POST", "/drain", callers.instance(worker.instanceId));
            expect(drained).to.deep.include({ status: 200, body: { instanceId: worker.instanceId, outcome: "drained" } });
            await world.checkInvariants([worker.instanceId]);
            expect((await world.servers()).map(r => r.InstanceId)).to.deep.equal([other.instanceId]);
            const [mark] = await world.drains();
            expect(mark).to.include({ Id: `drain/${worker.instanceId}` });
            expect(mark).to.have.keys("Id", "NodeSignalledAt", "NodeRecordedAt");

            world.gateway.clearCalls();
            expect((await call("POST", "/drain", callers.instance(worker.instanceId))).body.outcome).to.equal("already-draining");
            expect(await world.drains()).to.deep.equal([mark]);
            // The cause's, the warning's and the withdrawal's conditional writes, each refused by its condition: nothing changes.
            expect(writes()).to.deep.equal(["UpdateItem", "UpdateItem", "DeleteItem"]);
            expect(world.gateway.calls.filter(c => !READS.includes(c.action)).map(c => c.errorCode)).to.deep.equal(["ConditionalCheckFailedException", "ConditionalCheckFailedException", "ConditionalCheckFailedException"]);
            const drains = hook.logs.map(line => JSON.parse(line)).filter(entry => "_aws" in entry && entry.Drains !== undefined);
            expect(drains.map(d => d.Cause)).to.deep.equal(["node"]);
        });

        it("drains a worker on its way out, and refuses one that is gone", async () => {
            await open({ poolSize: 1 });
            const worker = world.launch();
            await bind(worker.instanceId);
            world.ec2.setState(worker.instanceId, "shutting-down");
            expect((await call("POST", "/drain", callers.instance(worker.instanceId))).body.outcome).to.equal("drained");
            expect(await world.servers()).to.deep.equal([]);
            world.ec2.setState(worker.instanceId, "terminated");
            expect((await call("POST", "/drain", callers.instance(worker.instanceId))).status).to.equal(403);
        });

        it("tells the caller its binding, whether its row is published, and its drain", async () => {
            await open({ poolSize: 1 });
            const worker = world.launch();
            const self = async () => (await call("GET", "/self", callers.instance(worker.instanceId))).body;
            expect(await self()).to.deep.equal({ instanceId: worker.instanceId, state: "running", binding: null, published: false, draining: null });
            const { body: bound } = await bind(worker.instanceId);
            const binding = { publicIp: bound.publicIp, dnsName: bound.dnsName, allocationId: bound.allocationId };
            expect(await self()).to.deep.equal({ instanceId: worker.instanceId, state: "running", binding, published: true, draining: null });
            await call("POST", "/drain", callers.instance(worker.instanceId));
            world.gateway.clearCalls();
            const draining = await self();
            expect(draining).to.deep.include({ binding, published: false });
            expect(draining.draining).to.have.keys("cause", "signalledAt", "causes");
            expect(draining.draining.cause).to.equal("node");
            expect(draining.draining.causes).to.deep.equal([{ cause: "node", signalledAt: draining.draining.signalledAt }]);
            expect(writes(), "asking wrote").to.deep.equal([]);
        });
    });

    it("answers an unknown path 404, a wrong method 405 with Allow, a bad wait 400 and a payload that is not a request 400, with no AWS call", async () => {
        await open({ poolSize: 1 });
        const worker = world.launch();
        const caller = callers.instance(worker.instanceId);
        expect(await call("POST", "/release", caller)).to.deep.include({ status: 404 });
        // Names every object has by its prototype are no routes (a URL's path starts with /; a request is not bound to one).
        for (const rawPath of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
            expect(answerOf(await hook.invoke({ ...hookRequest("POST", "/bind", caller), rawPath })), rawPath).to.deep.include({ status: 404 });
        }
        const wrong = await call("GET", "/bind", caller);
        expect(wrong).to.deep.include({ status: 405 });
        expect(wrong.headers.allow).to.equal("POST");
        for (const wait of ["0", "soon", "901", "-1"]) {
            const answer = await call("POST", `/bind?wait=${wait}`, caller);
            expect(answer.status, wait).to.equal(400);
            expect(answer.body.reason).to.match(/wait must be a whole number of seconds from 1 to 900/);
        }
        expect(answerOf(await hook.invoke({ Records: [] })).status).to.equal(400);
        expect(world.gateway.calls).to.deep.equal([]);
    });

    describe("a hook and an event racing for one worker", () => {
        for (const first of ["hook", "event"] as const) {
            it(`end in one binding, which the hook answers, when the ${first}'s association is held while the other binds`, async () => {
                await open({ poolSize: 3 });
                await openBinder();
                const worker = world.launch();
                const held = world.gateway.pauseAt(c => c.action === "AssociateAddress");
                const hookAnswer = first === "hook" ? bind(worker.instanceId) : held.reached.then(() => bind(worker.instanceId));
                const eventDone = first === "event" ? event(worker.instanceId, "running") : held.reached.then(() => event(worker.instanceId, "running"));
                // The other one runs to its end while the first is held at its AssociateAddress.
                await (first === "hook" ? eventDone : hookAnswer);
                held.resume();
                const [answer] = await Promise.all([hookAnswer, eventDone]);
                expect(answer.status).to.equal(200);
                await world.checkInvariants();
                const addresses = world.addressesOf(worker.instanceId);
                expect(addresses.map(a => a.allocationId)).to.deep.equal([answer.body.allocationId]);
                expect(await world.claims()).to.have.length(1);
            });
        }
    });

    it("binds a burst of 50 workers calling at once against AWS's throttling: all bound, none twice, each answered within its wait or with 503", async () => {
        const wait = 2;
        await open({ poolSize: 50, gateway: { latencyMs: 30, throttle: new Throttler(new Clock()).throttle } });
        // Lambda gives each concurrent request an environment of its own; five environments here, ten requests each.
        const more = await Promise.all([1, 2, 3, 4].map(() => startLambda(shipped.dirs.hook, shipped.archives.hook.handler, world.environment())));
        const environments = [hook, ...more];
        try {
            const workers = Array.from({ length: 50 }, () => world.launch());
            const answers: { instanceId: string; status: number; ms: number; publicIp?: string }[] = [];
            await Promise.all(workers.map(async (worker, i) => {
                for (;;) {
                    const started = Date.now();
                    const request = hookRequest("POST", `/bind?wait=${wait}`, callers.instance(worker.instanceId));
                    const answer = answerOf(await environments[i % environments.length].invoke(request));
                    answers.push({ instanceId: worker.instanceId, status: answer.status, ms: Date.now() - started, publicIp: answer.body.publicIp });
                    if (answer.status === 200) return;
                    expect(answer.status).to.equal(503);
                    await new Promise(resolve => setTimeout(resolve, Number(answer.headers["retry-after"]) * 1000));
                }
            }));
            // Timed by the function itself (its "hook answered" line), as Lambda would bill it; the
            // caller's clock adds this loaded machine's scheduling, so it gets a looser bound.
            const timed = environments.flatMap(lambda => lambda.logs.map(line => JSON.parse(line)).filter(l => l.message === "hook answered"));
            expect(timed).to.have.length(answers.length);
            expect(timed.filter(l => l.ms > wait * 1000 + 500), "answered later than the wait allows").to.deep.equal([]);
            expect(answers.filter(a => a.ms > wait * 1000 + 5_000), "the caller waited far past its wait").to.deep.equal([]);
            const bound = answers.filter(a => a.status === 200);
            expect(bound).to.have.length(50);
            expect(new Set(bound.map(a => a.publicIp)).size, "one address handed to two workers").to.equal(50);
            expect((await world.checkInvariants()).bound).to.equal(50);
            expect(answers.every(a => a.status === 200 || a.status === 503)).to.equal(true);
        } finally {
            await Promise.all(more.map(lambda => lambda.close()));
        }
    });
});

/** `base` with `changes` applied; an undefined value removes the variable. */
function withEnv(base: Record<string, string>, changes: Record<string, string | undefined>): Record<string, string> {
    const env = { ...base };
    for (const [name, value] of Object.entries(changes)) {
        if (value === undefined) delete env[name];
        else env[name] = value;
    }
    return env;
}
