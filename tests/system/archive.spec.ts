// The code that ships: the Lambda archive the stack serializes, unpacked and run
// in a fresh Node process that sees only what the Lambda runtime provides.
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DRAIN_ON_ENV, RECONCILE_CONCURRENCY_ENV, ENV, EVENT_QUEUE_URL_ENV, NODE_ROLE_ARNS_ENV } from "../../binder/config";
import { RUNTIME } from "../../infra/lambda";
import { archiveProblems, FUNCTIONS, FunctionName, LambdaArchive, writeArchive, zipArchive } from "../../tools/archive";
import { LambdaProcess, startLambda } from "../../tools/lambda-process";
import { createBrokenHandler } from "../fixtures/archive/captured-client";
import { shippedArchives } from "../support/archives";
import { drainSignal, queueBatch, stateChange, World, WorldOptions } from "../support/world";

const SIZE_LIMIT = 256 * 1024;

function unpack(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambda-task-"));
    writeArchive({ files: new Map(Object.entries(files).map(([name, text]) => [name, Buffer.from(text)])) }, dir);
    return dir;
}

describe("the shipped Lambda archive", function () {
    this.timeout(180_000);
    let archives: Record<FunctionName, LambdaArchive>;
    let dirs: Record<FunctionName, string>;
    let archive: LambdaArchive;
    let dir: string;

    // The dev stack with the node hooks on, so that every function is shipped.
    before(async () => {
        ({ archives, dirs } = await shippedArchives());
        archive = archives.binder;
        dir = dirs.binder;
    });

    describe("packaging", () => {
        for (const name of FUNCTIONS) {
            it(`${name}: holds the serialized handler and nothing the runtime provides or only tooling needs`, () => {
                expect([...archives[name].files.keys()]).to.deep.equal(["__index.js"]);
                expect(archiveProblems(archives[name].files.keys())).to.deep.equal([]);
                expect(archives[name].handler).to.equal("__index.handler");
            });

            it(`${name}: zips to at most ${SIZE_LIMIT / 1024} KiB`, () => {
                expect(zipArchive(archives[name]).length).to.be.at.most(SIZE_LIMIT);
            });
        }

        it("flags an AWS SDK or a test tool that sneaks in", () => {
            expect(archiveProblems(["__index.js", "node_modules/@aws-sdk/client-ec2/package.json", "node_modules/mocha/index.js", "node_modules/left-pad/index.js"])).to.deep.equal([
                "node_modules/@aws-sdk/client-ec2 is provided by the Lambda runtime and must not be shipped",
                "node_modules/mocha is tooling and must not be shipped",
            ]);
        });

        it("runs on the Node.js major the function's runtime names", () => {
            expect(RUNTIME).to.equal(archive.runtime);
            expect(`nodejs${process.versions.node.split(".")[0]}.x`).to.equal(archive.runtime);
        });

        it("reads its settings from variables the stack sets; the binder also its event queue, the hooks the node roles", () => {
            expect(Object.keys(archives.binder.environment).sort()).to.deep.equal([...Object.values(ENV), EVENT_QUEUE_URL_ENV, DRAIN_ON_ENV].sort());
            expect(Object.keys(archives.reconciler.environment).sort()).to.deep.equal([...Object.values(ENV), RECONCILE_CONCURRENCY_ENV].sort());
            expect(Object.keys(archives.hook.environment).sort()).to.deep.equal([...Object.values(ENV), NODE_ROLE_ARNS_ENV].sort());
        });
    });

    describe("loading", () => {
        for (const name of FUNCTIONS) {
            it(`${name}: loads in a fresh process with only the AWS SDK outside the archive`, async () => {
                const world = await World.create({ poolSize: 0 });
                try {
                    const lambda = await startLambda(dirs[name], archives[name].handler, world.environment());
                    expect(lambda.readyMs).to.be.greaterThan(0);
                    await lambda.close();
                } finally {
                    await world.close();
                }
            });
        }

        it("fails with the loader's message when the handler needs a module the runtime lacks", async () => {
            const broken = unpack({ "__index.js": "require(\"js-yaml\");\nexports.handler = async () => {};\n" });
            let failure: unknown;
            await startLambda(broken, "__index.handler", {}).catch(err => { failure = err; });
            expect(String(failure)).to.match(/the handler could not load: Error: Cannot find module 'js-yaml'/);
        });

        it("fails with the loader's message when the settings are missing", async () => {
            let failure: unknown;
            await startLambda(dir, archive.handler, {}).catch(err => { failure = err; });
            expect(String(failure)).to.match(/the handler could not load: ConfigError: [\s\S]*BINDER_INSTANCE_TAGS/);
        });

        it("refuses to serialize a handler that captures an SDK client, naming the culprit, without hanging", async () => {
            const attempt = pulumi.runtime.serializeFunction(createBrokenHandler, { isFactoryFunction: true });
            const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("serialization hung")), 60_000));
            let failure: unknown;
            await Promise.race([attempt, timeout]).catch(err => { failure = err; });
            expect(String(failure)).to.match(/Error serializing function 'createBrokenHandler'[\s\S]*captured\s+variable 'client'/);
        });
    });

    describe("binding through the archive", () => {
        let world: World;
        let lambda: LambdaProcess;

        async function open(options: WorldOptions, fn: FunctionName = "binder", environment: Record<string, string> = {}): Promise<void> {
            world = await World.create(options);
            lambda = await startLambda(dirs[fn], archives[fn].handler, { ...world.environment(), ...environment });
        }

        afterEach(async () => {
            await lambda?.close();
            await world?.close();
        });

        const logged = () => lambda.logs.map(line => JSON.parse(line)).filter(entry => !("_aws" in entry));

        const handled = { value: { batchItemFailures: [] } };

        it("binds, shrugs off a duplicate, ignores a non-target and releases", async () => {
            await open({ poolSize: 2 });
            const target = world.launch();
            const other = world.launch({ team: "web" });
            expect(await lambda.invoke(queueBatch(stateChange(target.instanceId, "running")))).to.deep.equal(handled);
            expect(await lambda.invoke(queueBatch(stateChange(target.instanceId, "running")))).to.deep.equal(handled);
            expect(await lambda.invoke(queueBatch(stateChange(other.instanceId, "running")))).to.deep.equal(handled);
            expect((await world.checkInvariants()).bound).to.equal(1);
            expect(logged().map(l => l.outcome)).to.deep.equal(["bound", "already-bound", "not-a-target"]);

            world.ec2.setState(target.instanceId, "shutting-down");
            expect(await lambda.invoke(queueBatch(stateChange(target.instanceId, "shutting-down")))).to.deep.equal(handled);
            expect((await world.checkInvariants()).bound).to.equal(0);
            expect(await world.servers()).to.deep.equal([]);
        });

        it("binds a whole batch with one read of the instances and one of the pool", async () => {
            await open({ poolSize: 4 });
            const targets = [world.launch(), world.launch(), world.launch()];
            const other = world.launch({ team: "web" });
            const events = [...targets, other, targets[0]].map(i => stateChange(i.instanceId, "running"));
            expect(await lambda.invoke(queueBatch(...events))).to.deep.equal(handled);
            expect((await world.checkInvariants()).bound).to.equal(3);
            const reads = world.gateway.calls.filter(c => c.action.startsWith("Describe")).map(c => c.action);
            expect(reads).to.deep.equal(["DescribeInstances", "DescribeAddresses"]);
            // A non-target is known from the read alone; the targets' outcomes follow their binds.
            expect(logged().map(l => l.outcome)).to.deep.equal(["not-a-target", "bound", "bound", "bound"]);
        });

        it("logs and drops malformed messages, and a payload that is not a batch", async () => {
            await open({ poolSize: 1 });
            const batch = queueBatch({ source: "aws.ec2", "detail-type": "EC2 Instance State-change Notification" });
            batch.Records.push({ ...batch.Records[0], messageId: "not-json", body: "{" });
            expect(await lambda.invoke(batch)).to.deep.equal(handled);
            expect(await lambda.invoke(stateChange("i-0123456789abcdef0", "running"))).to.deep.equal(handled);
            expect(world.gateway.calls).to.have.length(0);
            expect(logged().map(({ level, outcome, reason, messageId }) => ({ level, outcome, reason, messageId }))).to.deep.equal([
                { level: "ERROR", outcome: "malformed", reason: "the event has no detail", messageId: batch.Records[0].messageId },
                { level: "ERROR", outcome: "malformed", reason: "the message body is not JSON", messageId: "not-json" },
                { level: "ERROR", outcome: "malformed", reason: "the event is not an SQS batch (it has no Records list)", messageId: undefined },
            ]);
        });

        it("reports a message failed, clearly, when the pool is exhausted, leaving nothing behind, and hands it back to come again soon", async () => {
            await open({ poolSize: 1 });
            const first = world.launch();
            const second = world.launch();
            const batch = queueBatch(stateChange(first.instanceId, "running"), stateChange(second.instanceId, "running"));
            const result = await lambda.invoke(batch);
            expect(result).to.deep.equal({ value: { batchItemFailures: [{ itemIdentifier: batch.Records[1].messageId }] } });
            expect(logged().find(l => l.outcome === "failed")).to.deep.include({
                instanceId: second.instanceId,
                error: { name: "PoolExhaustedError", message: `no free pool address for ${second.instanceId}: 0 of 1 addresses tagged team=live, pool=media are free` },
            });
            expect((await world.checkInvariants()).bound).to.equal(1);
            expect(world.sqs.changes).to.have.length(1);
            expect(world.sqs.changes[0].receiptHandle).to.equal(batch.Records[1].receiptHandle);
            expect(world.sqs.changes[0].visibilityTimeout).to.be.within(15, 30);
        });

        it("reads the time left from Lambda's context: with too little, it hands the batch back untouched", async () => {
            await open({ poolSize: 1 });
            const batch = queueBatch(stateChange(world.launch().instanceId, "running"));
            const result = await lambda.invoke(batch, 10_000);
            expect(result).to.deep.equal({ value: { batchItemFailures: [{ itemIdentifier: batch.Records[0].messageId }] } });
            expect(world.gateway.calls.map(c => c.action)).to.deep.equal(["ChangeMessageVisibilityBatch"]);
            expect(logged().find(l => l.outcome === "postponed")?.timeLeftMs).to.be.within(9_000, 10_000);
        });

        describe("draining and handing over", () => {
            const bindAll = async (...instances: { instanceId: string }[]) => {
                expect(await lambda.invoke(queueBatch(...instances.map(i => stateChange(i.instanceId, "running"))))).to.deep.equal(handled);
            };

            for (const kind of ["spot-interruption", "rebalance-recommendation", "scheduled-change"] as const) {
                it(`${kind}: withdraws the row at once once EC2 confirms it, keeps address, claim and lock, and shrugs off a duplicate`, async () => {
                    await open({ poolSize: 2 });
                    const [worker, other] = [world.launchSpot(), world.launchSpot()];
                    await bindAll(worker, other);
                    const signal = world.signal(kind, [worker.instanceId]);
                    expect(await lambda.invoke(queueBatch(signal))).to.deep.equal(handled);
                    await world.checkInvariants([worker.instanceId]);
                    expect((await world.servers()).map(r => r.InstanceId)).to.deep.equal([other.instanceId]);
                    expect(world.addressesOf(worker.instanceId)).to.have.length(1);
                    const [mark] = await world.drains();
                    // Each cause in its own attributes (Spot…, Rebalance…, Scheduled…).
                    const prefix = { "spot-interruption": "Spot", "rebalance-recommendation": "Rebalance", "scheduled-change": "Scheduled" }[kind];
                    expect(mark).to.include({ Id: `drain/${worker.instanceId}` });
                    expect(mark).to.have.property(`${prefix}SignalledAt`);
                    if (kind === "rebalance-recommendation") expect(mark[`${prefix}Deadline`]).to.equal(undefined);
                    else expect(Date.parse(mark[`${prefix}Deadline`])).to.be.greaterThan(Date.parse(mark[`${prefix}SignalledAt`]));

                    // At least once delivery: the same signal again changes nothing, the first mark stands.
                    world.gateway.clearCalls();
                    expect(await lambda.invoke(queueBatch(signal))).to.deep.equal(handled);
                    expect(await world.drains()).to.deep.equal([mark]);
                    expect(logged().filter(l => l.action === "drain").map(l => l.outcome)).to.deep.equal(["drained", "already-draining"]);
                    const drains = lambda.logs.map(line => JSON.parse(line)).filter(entry => "_aws" in entry && entry.Drains !== undefined);
                    expect(drains.map(d => d.Cause)).to.deep.equal([kind]);
                });
            }

            it("drains every instance a scheduled change names, in one message; a closed one and a malformed one change nothing", async () => {
                await open({ poolSize: 3 });
                const [a, b, c] = [world.launch(), world.launch(), world.launch()];
                await bindAll(a, b, c);
                world.gateway.clearCalls();
                const closed = drainSignal("scheduled-change", [c.instanceId]);
                (closed.detail as Record<string, unknown>).statusCode = "closed";
                const broken = drainSignal("spot-interruption", [c.instanceId]);
                delete (broken.detail as Record<string, unknown>)["instance-id"];
                expect(await lambda.invoke(queueBatch(closed, broken))).to.deep.equal(handled);
                expect(world.gateway.calls).to.have.length(0);
                expect(logged().map(l => l.outcome)).to.include.members(["ignored", "malformed"]);

                expect(await lambda.invoke(queueBatch(world.signal("scheduled-change", [a.instanceId, b.instanceId])))).to.deep.equal(handled);
                await world.checkInvariants([a.instanceId, b.instanceId]);
                expect((await world.servers()).map(r => r.InstanceId)).to.deep.equal([c.instanceId]);
                expect((await world.drains()).map(d => d.Id).sort()).to.deep.equal([`drain/${a.instanceId}`, `drain/${b.instanceId}`].sort());
            });

            it("a signal for a non-target or an instance EC2 does not show costs one read and writes nothing", async () => {
                await open({ poolSize: 1 });
                const other = world.launch({ team: "web" });
                world.gateway.clearCalls();
                const batch = queueBatch(drainSignal("spot-interruption", [other.instanceId]), drainSignal("spot-interruption", ["i-0123456789abcdef0"]));
                expect(await lambda.invoke(batch)).to.deep.equal(handled);
                expect(world.gateway.calls.map(c => c.action)).to.deep.equal(["DescribeInstances"]);
                expect(logged().map(l => l.outcome)).to.have.members(["not-a-target", "unconfirmed"]);
            });

            /** What the scheduler and the binder hold for a bound worker: its row with `allocated`, its address, its drain item. */
            const holdings = async (instanceId: string) => ({
                rows: (await world.servers()).filter(r => r.InstanceId === instanceId).map(({ EIP, DNS_Record, allocated, AssociationId }) => ({ EIP, DNS_Record, allocated, AssociationId })),
                addresses: world.addressesOf(instanceId).map(a => a.allocationId),
                drains: (await world.drains()).filter(d => d.Id === `drain/${instanceId}`),
            });
            /** A batch as a caller who writes it makes it: any delivery count, with or without receipt handles. */
            const batchOf = (event: Record<string, unknown>, receiveCount: number, receipt: boolean) => {
                const batch = queueBatch(event);
                batch.Records[0].attributes = { ApproximateReceiveCount: String(receiveCount) };
                if (!receipt) delete batch.Records[0].receiptHandle;
                return batch;
            };

            it("a forged Spot warning or scheduled change for a healthy worker, through the queue or invoked directly, leaves its row, allocated and address alone", async () => {
                await open({ poolSize: 2 });
                const [spot, onDemand] = [world.launchSpot(), world.launch()];
                await bindAll(spot, onDemand);
                for (const row of await world.servers()) await world.allocate(row.EIP, row.DNS_Record);
                const before = { spot: await holdings(spot.instanceId), onDemand: await holdings(onDemand.instanceId) };
                expect(before.spot.rows).to.have.length(1);
                expect(before.spot.rows[0].allocated).to.equal(true);
                const forgeries = [
                    drainSignal("spot-interruption", [spot.instanceId]),
                    drainSignal("spot-interruption", [onDemand.instanceId]),
                    drainSignal("scheduled-change", [spot.instanceId, onDemand.instanceId]),
                ];
                for (const forged of forgeries) {
                    // Through the queue: handed back soon to ask EC2 again, then dismissed on its third delivery.
                    const first = batchOf(forged, 1, true);
                    expect(await lambda.invoke(first)).to.deep.equal({ value: { batchItemFailures: [{ itemIdentifier: first.Records[0].messageId }] } });
                    expect(world.sqs.changes.at(-1)!.visibilityTimeout).to.equal(5);
                    expect(await lambda.invoke(batchOf(forged, 3, true))).to.deep.equal(handled);
                    // Invoked directly, with whatever delivery count the caller likes: without a receipt it counts
                    // as a first delivery, which nothing hands back; with a made-up one, it is dismissed at once.
                    const direct = batchOf(forged, 99, false);
                    expect(await lambda.invoke(direct)).to.deep.equal({ value: { batchItemFailures: [{ itemIdentifier: direct.Records[0].messageId }] } });
                    expect(await lambda.invoke(batchOf(forged, 99, true))).to.deep.equal(handled);
                }
                expect({ spot: await holdings(spot.instanceId), onDemand: await holdings(onDemand.instanceId) }).to.deep.equal(before);
                expect(logged().filter(l => l.action === "drain")).to.deep.equal([]);
                // Each forgery dismissed twice (its third delivery, the direct one with a receipt), once per instance it names.
                expect(logged().filter(l => l.outcome === "unconfirmed-signal")).to.have.length(2 * 4);
            });

            it("a rebalance recommendation is believed for a Spot worker only, and dropped when the stack does not drain on it", async () => {
                expect(JSON.parse(archives.binder.environment[DRAIN_ON_ENV])).to.deep.equal(["spot-interruption", "scheduled-change"]);
                await open({ poolSize: 2 }, "binder", { [DRAIN_ON_ENV]: archives.binder.environment[DRAIN_ON_ENV] });
                const [spot, onDemand] = [world.launchSpot(), world.launch()];
                await bindAll(spot, onDemand);
                const before = await world.servers();
                world.gateway.clearCalls();
                // The shipped stack's drainOn leaves rebalance recommendations out (the default): no rule sends them.
                expect(await lambda.invoke(queueBatch(drainSignal("rebalance-recommendation", [spot.instanceId])))).to.deep.equal(handled);
                expect(world.gateway.calls).to.deep.equal([]);
                expect(await world.servers()).to.deep.equal(before);
                await lambda.close();
                // With rebalances on, one for an On-Demand worker is not AWS's: it is dismissed.
                lambda = await startLambda(dir, archive.handler, { ...world.environment(), [DRAIN_ON_ENV]: JSON.stringify(["rebalance-recommendation"]) });
                expect(await lambda.invoke(batchOf(drainSignal("rebalance-recommendation", [onDemand.instanceId]), 3, true))).to.deep.equal(handled);
                expect(await world.servers()).to.deep.equal(before);
                expect(logged().map(l => l.outcome)).to.include("unconfirmed-signal");
            });

            it("a Spot warning that comes before EC2 shows the interruption comes again 5 s later, and drains once EC2 confirms it", async () => {
                await open({ poolSize: 1 });
                const worker = world.launchSpot();
                await bindAll(worker);
                const warning = drainSignal("spot-interruption", [worker.instanceId]);
                const first = batchOf(warning, 1, true);
                expect(await lambda.invoke(first)).to.deep.equal({ value: { batchItemFailures: [{ itemIdentifier: first.Records[0].messageId }] } });
                expect(world.sqs.changes.at(-1)).to.deep.equal({ receiptHandle: first.Records[0].receiptHandle, visibilityTimeout: 5 });
                expect(await world.servers()).to.have.length(1);
                world.ec2.interruptSpot(worker.instanceId);
                world.gateway.clearCalls();
                expect(await lambda.invoke(batchOf(warning, 2, true))).to.deep.equal(handled);
                expect(await world.servers()).to.deep.equal([]);
                await world.checkInvariants([worker.instanceId]);
                expect(world.gateway.calls.map(c => c.action).filter(a => a.startsWith("Describe"))).to.deep.equal(["DescribeInstances", "DescribeSpotInstanceRequests"]);
                expect(logged().filter(l => l.action === "drain").map(l => l.outcome)).to.deep.equal(["drained"]);
            });

            it("asks EC2 once per kind of signal for the whole batch", async () => {
                await open({ poolSize: 3 });
                const workers = [world.launchSpot(), world.launchSpot(), world.launchSpot()];
                await bindAll(...workers);
                world.gateway.clearCalls();
                const ids = workers.map(w => w.instanceId);
                const batch = queueBatch(...ids.map(id => world.signal("spot-interruption", [id])), world.signal("scheduled-change", ids.slice(0, 2)));
                expect(await lambda.invoke(batch)).to.deep.equal(handled);
                expect(world.gateway.calls.map(c => c.action).filter(a => a.startsWith("Describe")).sort()).to.deep.equal(["DescribeInstanceStatus", "DescribeInstances", "DescribeSpotInstanceRequests"]);
                expect(await world.servers()).to.deep.equal([]);
                await world.checkInvariants(ids);
            });

            it("a worker warned before it is bound takes no address; its termination leaves nothing behind", async () => {
                await open({ poolSize: 1 });
                const worker = world.launchSpot();
                expect(await lambda.invoke(queueBatch(world.signal("spot-interruption", [worker.instanceId])))).to.deep.equal(handled);
                await bindAll(worker);
                expect(world.addressesOf(worker.instanceId)).to.have.length(0);
                expect(await world.claims()).to.deep.equal([]);
                expect(logged().filter(l => l.action === "bind").map(l => l.outcome)).to.deep.equal(["draining"]);
                world.ec2.setState(worker.instanceId, "terminated");
                expect(await lambda.invoke(queueBatch(stateChange(worker.instanceId, "terminated")))).to.deep.equal(handled);
                await world.checkInvariants();
            });

            it("drain, then terminate: the address, name and claim go; the address goes to the worker waiting for it", async () => {
                await open({ poolSize: 1, dnsRecords: "per-binding", dnsName: "{instance-id}.edge.{suffix}" });
                const [old, replacement] = [world.launchSpot(), world.launch()];
                await bindAll(old);
                expect(await lambda.invoke(queueBatch(world.signal("spot-interruption", [old.instanceId])))).to.deep.equal(handled);
                // Karpenter launches the replacement first: the pool is exhausted, so it waits.
                const waited = await lambda.invoke(queueBatch(stateChange(replacement.instanceId, "running")));
                expect((waited.value as { batchItemFailures: unknown[] }).batchItemFailures).to.have.length(1);
                expect(Object.keys(await world.waitlist())).to.deep.equal([replacement.instanceId]);

                world.ec2.setState(old.instanceId, "terminated");
                expect(await lambda.invoke(queueBatch(stateChange(old.instanceId, "terminated")))).to.deep.equal(handled);
                // The release and the hand-over in the one invocation: the replacement is bound, named and published.
                await world.checkInvariants();
                expect(world.addressesOf(replacement.instanceId)).to.have.length(1);
                expect((await world.servers()).map(r => r.InstanceId)).to.deep.equal([replacement.instanceId]);
                expect(await world.waitlist()).to.deep.equal({});
                expect(logged().map(l => l.outcome)).to.include("handed-over");
                const handOvers = lambda.logs.map(line => JSON.parse(line)).filter(entry => "_aws" in entry && entry.HandOvers !== undefined);
                expect(handOvers.map(h => h.HandOvers)).to.deep.equal([1]);
            });

            it("drain, then stop and start: the new run is published again", async () => {
                await open({ poolSize: 1 });
                const worker = world.launch();
                await bindAll(worker);
                expect(await lambda.invoke(queueBatch(world.signal("scheduled-change", [worker.instanceId])))).to.deep.equal(handled);
                world.ec2.setState(worker.instanceId, "stopping");
                world.ec2.setState(worker.instanceId, "stopped");
                expect(await lambda.invoke(queueBatch(stateChange(worker.instanceId, "stopped")))).to.deep.equal(handled);
                await new Promise(resolve => setTimeout(resolve, 5)); // a later launch time than the signal's
                world.ec2.setState(worker.instanceId, "pending");
                world.ec2.setState(worker.instanceId, "running");
                expect(await lambda.invoke(queueBatch(stateChange(worker.instanceId, "running")))).to.deep.equal(handled);
                await world.checkInvariants();
                const [row] = await world.servers();
                expect(row).to.include({ InstanceId: worker.instanceId, LaunchedAt: new Date(world.ec2.instance(worker.instanceId)!.launchTime).toISOString() });
            });
        });

        it("reconciles: binds a worker whose event was lost", async () => {
            await open({ poolSize: 1 }, "reconciler");
            const lost = world.launch();
            const result = await lambda.invoke({ "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} });
            expect(result.error).to.equal(undefined);
            expect(world.addressesOf(lost.instanceId)).to.have.length(1);
            expect((await world.checkInvariants()).bound).to.equal(1);
            expect(logged().find(l => l.message === "reconciled")).to.include({ drift: 1, fixed: 1, failed: 0 });
        });
    });
});
