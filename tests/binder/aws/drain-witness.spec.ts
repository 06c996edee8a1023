// What EC2 says about an instance a drain signal names, read by the binder's own
// EC2 layer (binder/aws/ec2.ts) through the real SDK: from the EC2 stand-in, and,
// where moto implements the same calls, from moto as a second opinion.
//
// Fidelity of the stand-in (tests/support/aws/ec2.ts, ec2-query.ts), after AWS's docs:
// - DescribeSpotInstanceRequests (EC2 API reference) by the `instance-id` filter: an
//   id without a Spot request (an On-Demand instance, an unknown id) is simply absent.
//   The status code follows the EC2 User Guide's "Spot request status": `fulfilled`
//   while the instance runs, `marked-for-termination` (or `marked-for-stop`) from the
//   interruption notice on while the instance still runs its two minutes, `fulfilled`
//   again when a stopped Spot Instance starts.
// - DescribeInstanceStatus (EC2 API reference): InstanceIds names each instance, an
//   unknown one is `InvalidInstanceID.NotFound`; without IncludeAllInstances only
//   running instances are described. Its `Events` (InstanceStatusEvent) carry a code
//   (instance-reboot | system-reboot | system-maintenance | instance-retirement |
//   instance-stop) and stay up to a week after they are over, their description then
//   starting with `[Completed]` (or `[Canceled]`).
// - Reads lag writes as DescribeInstances does (EC2 API reference, eventual consistency):
//   the Spot request's status and the events are part of the instance's versions.
// Not modelled: persistent requests reopening, Spot Fleet and hibernation codes, events
// rescheduled by hand. moto 5.2.1 implements both calls but can neither interrupt a Spot
// Instance nor schedule an event, so it is asked only about the quiet shapes.
import { expect } from "chai";
import {
    EC2Client,
    RequestSpotInstancesCommand,
    RunInstancesCommand,
    StopInstancesCommand,
} from "@aws-sdk/client-ec2";
import { Ec2 } from "../../../binder/aws/ec2";
import { Ec2Model } from "../../support/aws/ec2";
import { AwsGateway } from "../../support/aws/gateway";
import { motoAvailable, startMoto, stopMoto, type Moto } from "../../support/aws/moto";
import { Route53Model } from "../../support/aws/route53";
import { SqsModel } from "../../support/aws/sqs";
import { rejection } from "../../support/aws/rejection";

const UNKNOWN = "i-0123456789abcdef0";
const client = (endpoint: string) => new EC2Client({ endpoint, region: "us-east-1", credentials: { accessKeyId: "AKIDLOCAL", secretAccessKey: "local" }, maxAttempts: 1 });


describe("what EC2 says about a signalled instance, read by the binder", function () {
    this.timeout(60_000);
    let clock: { now: number };
    let model: Ec2Model;
    let gateway: AwsGateway;
    let sdk: EC2Client;
    let ec2: Ec2;

    beforeEach(async () => {
        clock = { now: Date.parse("2026-12-01T00:00:00Z") };
        model = new Ec2Model({ clock: () => clock.now });
        // DynamoDB is not asked here.
        gateway = await AwsGateway.start({ ec2: model, route53: new Route53Model({ id: "Z0TESTZONE", name: "live.example.com" }), sqs: new SqsModel(), dynamoEndpoint: "http://127.0.0.1:9" });
        sdk = client(gateway.endpoint);
        ec2 = new Ec2(sdk);
    });

    afterEach(async () => {
        sdk.destroy();
        await gateway.close();
    });

    describe("the EC2 stand-in", () => {
        it("a Spot request's status: fulfilled, then marked-for-termination at the warning, fulfilled again after a stop and start; none for On-Demand", async () => {
            const spot = model.addInstance({ spot: true }).instanceId;
            const onDemand = model.addInstance().instanceId;
            expect([...await ec2.spotRequestStatus([spot, onDemand, UNKNOWN])]).to.deep.equal([[spot, "fulfilled"]]);
            expect((await ec2.instances([spot, onDemand])).map(i => i.spot)).to.deep.equal([true, undefined]);
            model.interruptSpot(spot);
            expect(await ec2.spotRequestStatus([spot])).to.deep.equal(new Map([[spot, "marked-for-termination"]]));
            model.setState(spot, "stopped");
            model.setState(spot, "running");
            expect(await ec2.spotRequestStatus([spot])).to.deep.equal(new Map([[spot, "fulfilled"]]));
            expect(() => model.interruptSpot(onDemand)).to.throw("not a Spot Instance");
        });

        it("scheduled events: none, then the one EC2 schedules, of a stopped instance too; over once it starts again; an unknown id is NotFound", async () => {
            const worker = model.addInstance().instanceId;
            const stopped = model.addInstance({ state: "stopped" }).instanceId;
            expect(await ec2.scheduledEvents([worker, stopped])).to.deep.equal(new Map([[worker, []], [stopped, []]]));
            model.scheduleEvent(worker, "instance-retirement");
            model.scheduleEvent(stopped, "instance-stop");
            expect(await ec2.scheduledEvents([worker, stopped])).to.deep.equal(new Map([[worker, ["instance-retirement"]], [stopped, ["instance-stop"]]]));
            model.setState(worker, "stopping");
            model.setState(worker, "stopped");
            model.setState(worker, "pending");
            expect(await ec2.scheduledEvents([worker])).to.deep.equal(new Map([[worker, []]]));
            expect((await rejection(ec2.scheduledEvents([worker, UNKNOWN]))).name).to.equal("InvalidInstanceID.NotFound");
        });

        it("a read may lag the interruption by up to the read lag, as DescribeInstances does", async () => {
            const lagging = new Ec2Model({ clock: () => clock.now, readLagMs: 5_000, random: () => 0.999 });
            const spot = lagging.addInstance({ spot: true }).instanceId;
            clock.now += 6_000;
            lagging.interruptSpot(spot);
            lagging.scheduleEvent(spot);
            const laggingGateway = await AwsGateway.start({ ec2: lagging, route53: new Route53Model({ id: "Z0TESTZONE", name: "live.example.com" }), sqs: new SqsModel(), dynamoEndpoint: "http://127.0.0.1:9" });
            const laggingSdk = client(laggingGateway.endpoint);
            try {
                const reader = new Ec2(laggingSdk);
                expect(await reader.spotRequestStatus([spot])).to.deep.equal(new Map([[spot, "fulfilled"]]));
                expect(await reader.scheduledEvents([spot])).to.deep.equal(new Map([[spot, []]]));
                clock.now += 5_000;
                expect(await reader.spotRequestStatus([spot])).to.deep.equal(new Map([[spot, "marked-for-termination"]]));
                expect(await reader.scheduledEvents([spot])).to.deep.equal(new Map([[spot, ["instance-retirement"]]]));
            } finally {
                laggingSdk.destroy();
                await laggingGateway.close();
            }
        });
    });

    // moto 5.2.1 implements DescribeSpotInstanceRequests (with the instance-id filter) and
    // DescribeInstanceStatus (with IncludeAllInstances): the binder reads the same from both.
    describe("a second opinion from moto", () => {
        let moto: Moto | undefined;
        let motoSdk: EC2Client;

        before(async function () {
            if (!motoAvailable()) {
                console.warn("      moto is not installed (`python3 -c 'import moto'` fails): skipping the second opinion");
                this.skip();
            }
            moto = await startMoto();
            motoSdk = client(moto.endpoint);
        });

        after(async () => {
            motoSdk?.destroy();
            if (moto) await stopMoto(moto.process);
        });

        /** A running Spot Instance and a stopped On-Demand one, in moto. */
        async function motoWorkers(): Promise<{ spot: string; onDemand: string }> {
            const requested = await motoSdk.send(new RequestSpotInstancesCommand({ InstanceCount: 1, LaunchSpecification: { ImageId: "ami-12c6146b", InstanceType: "t3.micro" } }));
            const launched = await motoSdk.send(new RunInstancesCommand({ ImageId: "ami-12c6146b", InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }));
            const onDemand = launched.Instances![0].InstanceId!;
            await motoSdk.send(new StopInstancesCommand({ InstanceIds: [onDemand] }));
            return { spot: requested.SpotInstanceRequests![0].InstanceId!, onDemand };
        }

        /** What the binder reads about a Spot and an On-Demand worker, with the ids replaced by their roles. */
        async function reading(reader: Ec2, ids: { spot: string; onDemand: string }) {
            const role = (id: string) => (id === ids.spot ? "spot" : id === ids.onDemand ? "on-demand" : id);
            const named = <T>(map: Map<string, T>) => [...map].map(([id, value]) => [role(id), value]);
            return {
                spotStatus: named(await reader.spotRequestStatus([ids.spot, ids.onDemand, UNKNOWN])),
                scheduledEvents: named(await reader.scheduledEvents([ids.spot, ids.onDemand])),
                lifecycle: (await reader.instances([ids.spot, ids.onDemand])).map(i => [role(i.instanceId), i.spot ?? false]).sort(),
                unknown: (await rejection(reader.scheduledEvents([ids.spot, UNKNOWN]))).name,
            };
        }

        it("a quiet Spot worker and a stopped On-Demand one read the same from both", async () => {
            const standIn = await reading(ec2, { spot: model.addInstance({ spot: true }).instanceId, onDemand: model.addInstance({ state: "stopped" }).instanceId });
            const second = await reading(new Ec2(motoSdk), await motoWorkers());
            expect(standIn).to.deep.equal({
                spotStatus: [["spot", "fulfilled"]],
                scheduledEvents: [["spot", []], ["on-demand", []]],
                lifecycle: [["on-demand", false], ["spot", true]],
                unknown: "InvalidInstanceID.NotFound",
            });
            expect(second).to.deep.equal(standIn);
        });
    });
});
