// Interleavings that published a server that must stay off the list: a run that
// stopped, and a worker whose drain AWS signalled after the worker drained itself.
// Each is staged exactly (a call held at the gateway while other actors move) and
// failed on the code before its fix.
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { createHookHandler, EventHandler, HookHandler, ReconcileHandler } from "../../binder";
import { DnsRecordsMode } from "../../binder/config";
import { Answer, answerOf, callers, hookRequest } from "../support/hooks";
import { ACCOUNT, queueBatch, stateChange, World } from "../support/world";

describe("regressions: fences that keep a server off the list", function () {
    this.timeout(120_000);
    let world: World;
    let handler: EventHandler;
    let reconcile: ReconcileHandler;

    afterEach(async () => { await world?.close(); });

    // Per address the window is the association; per binding it runs on through the INSYNC wait.
    const holds: [DnsRecordsMode, string][] = [["per-address", "AssociateAddress"], ["per-binding", "AssociateAddress"], ["per-binding", "GetChange"]];
    for (const [dnsRecords, heldAt] of holds) {
        it(`a stop handled while a bind is on its way does not publish the stopped server (${dnsRecords}, held at ${heldAt})`, async () => {
            ({ world, handler, reconcile } = await World.open({ poolSize: 1, dnsRecords }));
            const worker = world.launch().instanceId;
            // The bind reads the worker running, claims and locks an address, and is held there.
            const held = world.gateway.pauseAt(call => call.action === heldAt);
            const late = handler(queueBatch(stateChange(worker, "running")), { awsRequestId: "late" });
            await held.reached;
            // Meanwhile the worker stops, and both stop events are handled.
            world.ec2.setState(worker, "stopping");
            await world.handle(handler, stateChange(worker, "stopping"));
            world.ec2.setState(worker, "stopped");
            await world.handle(handler, stateChange(worker, "stopped"));
            // The bind goes on: EC2 lets a stopped VPC instance take (and keep) the address.
            held.resume();
            expect((await late).batchItemFailures).to.deep.equal([]);
            expect(await world.servers(), "a stopped server was published").to.deep.equal([]);
            expect(world.addressesOf(worker)).to.have.length(1);
            expect((await reconcile({})).inspection.drift).to.deep.equal([]);
            // The next run is served again.
            world.ec2.setState(worker, "pending");
            world.ec2.setState(worker, "running");
            await world.handle(handler, stateChange(worker, "running"));
            expect((await world.servers()).map(r => r.InstanceId)).to.deep.equal([worker]);
            await world.checkInvariants();
        });
    }

    it("a stop handled late, after the worker started again, fences only the run that stopped", async () => {
        ({ world, handler, reconcile } = await World.open({ poolSize: 1 }));
        const worker = world.launch().instanceId;
        await world.handle(handler, stateChange(worker, "running"));
        world.ec2.setState(worker, "stopped");
        // The stop's batch reads the worker stopped, and is held before it writes anything.
        const held = world.gateway.pauseAt(call => call.service === "dynamodb");
        const late = handler(queueBatch(stateChange(worker, "stopped")), { awsRequestId: "late" });
        await held.reached;
        world.ec2.setState(worker, "pending");
        world.ec2.setState(worker, "running");
        await world.handle(handler, stateChange(worker, "running"));
        held.resume();
        expect((await late).batchItemFailures).to.deep.equal([]);
        await world.handle(handler, stateChange(worker, "running"));
        expect((await world.servers()).map(r => r.InstanceId)).to.deep.equal([worker]);
        expect((await reconcile({})).inspection.drift).to.deep.equal([]);
        await world.checkInvariants();
    });

    describe("a worker's own drain and AWS's", () => {
        let hook: HookHandler;
        const ask = async (method: string, path: string, instanceId: string): Promise<Answer> =>
            answerOf({ value: await hook(hookRequest(method, path, callers.instance(instanceId)), { invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:hook` }) });

        beforeEach(async () => {
            ({ world, handler, reconcile } = await World.open({ poolSize: 1 }));
            hook = createHookHandler();
        });

        it("a worker's own drain does not hide a later Spot warning: its next /bind gets 409", async () => {
            const worker = world.launchSpot().instanceId;
            expect((await ask("POST", "/bind", worker)).status).to.equal(200);
            // The pod's preStop hook drains the worker; then AWS warns that it reclaims the Spot instance.
            expect((await ask("POST", "/drain", worker)).body.outcome).to.equal("drained");
            await world.handle(handler, world.signal("spot-interruption", [worker]));
            // The next pod asks to be bound: its own drain ends, AWS's stands.
            const again = await ask("POST", "/bind", worker);
            expect(again.status).to.equal(409);
            expect(again.body.error).to.equal("draining");
            expect(await world.servers(), "a worker AWS reclaims was published").to.deep.equal([]);
            expect((await ask("GET", "/self", worker)).body.draining).to.deep.include({ cause: "spot-interruption" });
            expect((await reconcile({})).inspection.draining.map(d => d.instanceId)).to.deep.equal([worker]);
        });

        it("a Spot warning handled while the worker's /bind ends its own drain still holds: 409", async () => {
            const worker = world.launchSpot().instanceId;
            expect((await ask("POST", "/bind", worker)).status).to.equal(200);
            expect((await ask("POST", "/drain", worker)).body.outcome).to.equal("drained");
            // The /bind finds the worker draining and reads its drain; held there, the Spot warning is handled.
            const read = world.gateway.pauseAt(call => call.action === "GetItem" && JSON.stringify(call.input).includes(`drain/${worker}`));
            const binding = ask("POST", "/bind", worker);
            await read.reached;
            await world.handle(handler, world.signal("spot-interruption", [worker]));
            read.resume();
            expect((await binding).status).to.equal(409);
            expect(await world.servers()).to.deep.equal([]);
        });

        it("reads a drain mark written before causes accumulated (Cause, SignalledAt, Deadline, RecordedAt)", async () => {
            const worker = world.launchSpot().instanceId;
            expect((await ask("POST", "/bind", worker)).status).to.equal(200);
            const signalledAt = new Date(Date.now() + 1000).toISOString();
            const deadline = new Date(Date.now() + 120_000).toISOString();
            const legacy = async (cause: string) => world.dynamodb.send(new PutItemCommand({
                TableName: world.settings.claimsTable,
                Item: { Id: { S: `drain/${worker}` }, Cause: { S: cause }, SignalledAt: { S: signalledAt }, Deadline: { S: deadline }, RecordedAt: { S: signalledAt } },
            }));
            // A Spot warning recorded by the code before: it holds, and a worker's /bind cannot end it.
            await legacy("spot-interruption");
            expect((await reconcile({})).fixed.map(d => d.kind)).to.deep.equal(["draining-row"]);
            expect(await world.servers()).to.deep.equal([]);
            expect((await ask("GET", "/self", worker)).body.draining).to.deep.include({ cause: "spot-interruption", signalledAt, deadline });
            expect((await ask("POST", "/bind", worker)).status).to.equal(409);
            // A duplicate of it changes nothing; a worker's own drain beside it is a second cause.
            await world.handle(handler, world.signal("spot-interruption", [worker], new Date(signalledAt)));
            expect((await ask("POST", "/drain", worker)).body.outcome).to.equal("drained");
            const [mark] = await world.drains();
            expect(mark).to.include({ Cause: "spot-interruption", SignalledAt: signalledAt, Deadline: deadline });
            // A worker's own drain recorded by the code before ends with its /bind.
            await world.dynamodb.send(new PutItemCommand({ TableName: world.settings.claimsTable, Item: { Id: { S: `drain/${worker}` }, Cause: { S: "node" }, SignalledAt: { S: signalledAt }, RecordedAt: { S: signalledAt } } }));
            expect((await ask("POST", "/bind", worker)).status).to.equal(200);
            expect(await world.drains()).to.deep.equal([]);
            await world.checkInvariants();
        });
    });
});
