// Proves the local AWS stand-ins behave like AWS where the binder depends on it,
// by driving them through the real SDK v3 clients.
import { expect } from "chai";
import {
    AssociateAddressCommand,
    DescribeAddressesCommand,
    DescribeInstancesCommand,
    DisassociateAddressCommand,
    EC2Client,
    RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
    ChangeResourceRecordSetsCommand,
    GetChangeCommand,
    ListResourceRecordSetsCommand,
    Route53Client,
    type Change,
    type RRType,
} from "@aws-sdk/client-route-53";
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, ScanCommand, TransactionCanceledException, TransactWriteItemsCommand } from "@aws-sdk/client-dynamodb";
import { ChangeMessageVisibilityBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { createKeyedTable, startDynalite } from "../../support/aws/dynalite";
import { Ec2Model } from "../../support/aws/ec2";
import { AwsGateway, type GatewayOptions, type Service } from "../../support/aws/gateway";
import { Route53Model } from "../../support/aws/route53";
import type { ChangeResourceRecordSetsInput } from "../../support/aws/route53-rest";
import { QUEUE_PATH, SqsModel } from "../../support/aws/sqs";
import { rejection } from "../../support/aws/rejection";

const ZONE = { id: "Z0123456789EXAMPLE", name: "live.example.com" };
const ACCOUNT = "123456789012";



function sdkClients(endpoint: string) {
    const config = { endpoint, region: "us-east-1", credentials: { accessKeyId: "AKIDLOCAL", secretAccessKey: "local" } };
    return { ec2: new EC2Client(config), route53: new Route53Client(config), dynamodb: new DynamoDBClient(config), sqs: new SQSClient(config) };
}

const change = (Action: Change["Action"], Name: string, values: string[], TTL = 60, Type: RRType = "A"): Change => ({
    Action,
    ResourceRecordSet: { Name, Type, TTL, ResourceRecords: values.map((Value) => ({ Value })) },
});

describe("AWS stand-ins", function () {
    let dynalite: Awaited<ReturnType<typeof startDynalite>>;
    let model: Ec2Model;
    let zone: Route53Model;
    let queue: SqsModel;
    let gateway: AwsGateway;
    let clients: ReturnType<typeof sdkClients>;
    // Swapped by individual tests; the gateway consults it on every call.
    let throttle: (service: Service, action: string) => boolean;

    const gatewayOptions = (extra: Partial<GatewayOptions> = {}): GatewayOptions => ({
        ec2: model,
        route53: zone,
        sqs: queue,
        dynamoEndpoint: dynalite.endpoint,
        throttle: (service, action) => throttle(service, action),
        ...extra,
    });

    const associate = (AllocationId: string, target: { InstanceId?: string; NetworkInterfaceId?: string }, AllowReassociation?: boolean) =>
        clients.ec2.send(new AssociateAddressCommand({ AllocationId, ...target, AllowReassociation }));

    const describeAddresses = async (AllocationIds: string[]) =>
        (await clients.ec2.send(new DescribeAddressesCommand({ AllocationIds }))).Addresses ?? [];

    const changeBatch = (...Changes: Change[]) =>
        clients.route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: ZONE.id, ChangeBatch: { Changes } }));

    const createTable = (client = clients.dynamodb) => createKeyedTable(client, "bindings");

    const putOnce = (TableName: string, pk: string, client = clients.dynamodb) =>
        client.send(new PutItemCommand({ TableName, Item: { pk: { S: pk } }, ConditionExpression: "attribute_not_exists(pk)" }));

    before(async () => {
        dynalite = await startDynalite();
    });

    after(async () => {
        await dynalite.close();
    });

    beforeEach(async () => {
        model = new Ec2Model();
        zone = new Route53Model(ZONE);
        queue = new SqsModel();
        throttle = () => false;
        gateway = await AwsGateway.start(gatewayOptions());
        clients = sdkClients(gateway.endpoint);
    });

    afterEach(async () => {
        Object.values(clients).forEach((client) => client.destroy());
        await gateway.close();
    });

    describe("EC2", () => {
        // A virtual clock, and the fraction of readLagMs that lagging reads look back; both set by the tests.
        let now: number;
        let lag: number;
        const lagging = { clock: () => now, random: () => lag, readLagMs: 1_000 };

        beforeEach(() => {
            now = 1_000_000;
            lag = 0;
        });

        /** Swaps this test's EC2 model for one built with `options`, behind a fresh gateway and clients. */
        async function useModel(options: ConstructorParameters<typeof Ec2Model>[0]): Promise<void> {
            Object.values(clients).forEach((client) => client.destroy());
            await gateway.close();
            model = new Ec2Model(options);
            gateway = await AwsGateway.start(gatewayOptions());
            clients = sdkClients(gateway.endpoint);
        }

        const describeInstance = async (InstanceId: string) =>
            (await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [InstanceId] }))).Reservations![0].Instances![0];

        it("seeds realistic, unique ids and addresses, and hands out copies", () => {
            const instance = model.addInstance({ tags: { role: "worker" } });
            const addresses = Array.from({ length: 255 }, () => model.addAddress());
            expect(instance.instanceId).to.match(/^i-[0-9a-f]{17}$/);
            expect(instance.networkInterfaces).to.have.length(1);
            expect(instance.networkInterfaces[0].privateIpAddress).to.match(/^10\.0\.\d+\.\d+$/);
            expect(addresses[0].allocationId).to.match(/^eipalloc-[0-9a-f]{17}$/);
            expect(addresses[0].publicIp).to.equal("198.51.100.1");
            expect(addresses[254].publicIp).to.equal("203.0.113.1");
            expect(new Set(addresses.map((a) => a.publicIp)).size).to.equal(255);

            instance.tags.role = "tampered";
            model.instances()[0].networkInterfaces.length = 0;
            expect(model.instance(instance.instanceId)).to.deep.equal({ ...instance, tags: { role: "worker" } });
        });

        it("describes instances filtered by tag and state, with tags, state and the primary private IP", async () => {
            const worker = model.addInstance({ tags: { role: "worker", Name: "w1" } });
            model.addInstance({ tags: { role: "worker" }, state: "stopped" });
            model.addInstance({ tags: { role: "database" } });

            const out = await clients.ec2.send(
                new DescribeInstancesCommand({
                    Filters: [
                        { Name: "tag:role", Values: ["worker"] },
                        { Name: "instance-state-name", Values: ["running", "pending"] },
                    ],
                }),
            );
            const instances = out.Reservations!.flatMap((r) => r.Instances!);
            expect(instances.map((i) => i.InstanceId)).to.deep.equal([worker.instanceId]);
            expect(instances[0].State).to.deep.equal({ Code: 16, Name: "running" });
            expect(instances[0].Tags).to.have.deep.members([
                { Key: "role", Value: "worker" },
                { Key: "Name", Value: "w1" },
            ]);
            expect(instances[0].PrivateIpAddress).to.equal(worker.networkInterfaces[0].privateIpAddress);
            expect(instances[0].PublicIpAddress).to.equal(undefined);

            const wildcard = await clients.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "tag:role", Values: ["work*"] }] }));
            expect(wildcard.Reservations).to.have.length(2);

            const unknown = await rejection(clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: ["i-00000000000000bad"] })));
            expect(unknown.name).to.equal("InvalidInstanceID.NotFound");
            const badFilter = await rejection(clients.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "colour", Values: ["x"] }] })));
            expect(badFilter.name).to.equal("InvalidParameterValue");
        });

        it("lists a secondary ENI before the primary one; associating by instance id targets the primary", async () => {
            const instance = model.addInstance({ secondaryInterfaceFirst: true });
            const eip = model.addAddress();
            const { AssociationId } = await associate(eip.allocationId, { InstanceId: instance.instanceId });
            expect(AssociationId).to.match(/^eipassoc-[0-9a-f]{17}$/);

            const out = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance.instanceId] }));
            const described = out.Reservations![0].Instances![0];
            const [first, second] = described.NetworkInterfaces!;
            expect(first.Attachment!.DeviceIndex).to.equal(1);
            expect(first.Association).to.equal(undefined);
            expect(second.Attachment!.DeviceIndex).to.equal(0);
            expect(second.Association).to.deep.equal({ PublicIp: eip.publicIp, IpOwnerId: ACCOUNT });
            expect(second.PrivateIpAddresses).to.deep.equal([
                { PrivateIpAddress: second.PrivateIpAddress, Primary: true, Association: { PublicIp: eip.publicIp, IpOwnerId: ACCOUNT } },
            ]);
            expect(described.PrivateIpAddress).to.equal(second.PrivateIpAddress);
            expect(described.PublicIpAddress).to.equal(eip.publicIp);
        });

        it("refuses to move an associated address unless reassociation is allowed; stale association ids are NotFound", async () => {
            const [one, two] = [model.addInstance(), model.addInstance()];
            const eip = model.addAddress();
            const target = { NetworkInterfaceId: one.networkInterfaces[0].networkInterfaceId };
            const first = (await associate(eip.allocationId, target)).AssociationId!;

            const again = await rejection(associate(eip.allocationId, { InstanceId: two.instanceId }));
            expect(again.name).to.equal("Resource.AlreadyAssociated");
            expect(again.message).to.equal(`resource ${eip.allocationId} is already associated with associate-id ${first}`);
            expect(again.$metadata.httpStatusCode).to.equal(400);

            const moved = (await associate(eip.allocationId, { InstanceId: two.instanceId }, true)).AssociationId!;
            expect(moved).to.not.equal(first);
            expect(model.address(eip.allocationId)!.association).to.include({ instanceId: two.instanceId, associationId: moved });

            const stale = await rejection(clients.ec2.send(new DisassociateAddressCommand({ AssociationId: first })));
            expect(stale.name).to.equal("InvalidAssociationID.NotFound");
            await clients.ec2.send(new DisassociateAddressCommand({ AssociationId: moved }));
            expect(model.address(eip.allocationId)!.association).to.equal(undefined);
        });

        it("silently takes the previous address off a private IP that receives another one", async () => {
            const instance = model.addInstance();
            const [old, replacement] = [model.addAddress(), model.addAddress()];
            await associate(old.allocationId, { InstanceId: instance.instanceId });
            await associate(replacement.allocationId, { InstanceId: instance.instanceId });

            const [oldNow, replacementNow] = await describeAddresses([old.allocationId, replacement.allocationId]);
            expect(oldNow).to.not.have.property("AssociationId");
            expect(oldNow).to.not.have.property("InstanceId");
            expect(replacementNow).to.include({
                InstanceId: instance.instanceId,
                NetworkInterfaceId: instance.networkInterfaces[0].networkInterfaceId,
                NetworkInterfaceOwnerId: ACCOUNT,
                PrivateIpAddress: instance.networkInterfaces[0].privateIpAddress,
                Domain: "vpc",
            });
        });

        it("an operator's out-of-band association moves the address and displaces the one on the target", async () => {
            const [a, b] = [model.addInstance(), model.addInstance()];
            const [mine, theirs] = [model.addAddress(), model.addAddress()];
            await associate(mine.allocationId, { InstanceId: a.instanceId });
            await associate(theirs.allocationId, { InstanceId: b.instanceId });

            const association = model.associateOutOfBand(mine.allocationId, b.instanceId);
            expect(association).to.include({ instanceId: b.instanceId, networkInterfaceId: b.networkInterfaces[0].networkInterfaceId });
            expect(model.address(theirs.allocationId)!.association).to.equal(undefined);
            const [described] = await describeAddresses([mine.allocationId]);
            expect(described.AssociationId).to.equal(association.associationId);
        });

        it("terminating an instance disassociates its addresses; the instance stays describable", async () => {
            const instance = model.addInstance();
            const eip = model.addAddress();
            await associate(eip.allocationId, { InstanceId: instance.instanceId });
            model.setState(instance.instanceId, "terminated");

            const [address] = await describeAddresses([eip.allocationId]);
            expect(address.AssociationId).to.equal(undefined);
            const out = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance.instanceId] }));
            expect(out.Reservations![0].Instances![0].State).to.deep.equal({ Code: 48, Name: "terminated" });
            expect(out.Reservations![0].Instances![0].NetworkInterfaces).to.deep.equal([]);

            expect((await rejection(associate(eip.allocationId, { InstanceId: instance.instanceId }))).name).to.equal("IncorrectInstanceState");
            const byEni = await rejection(associate(eip.allocationId, { NetworkInterfaceId: instance.networkInterfaces[0].networkInterfaceId }));
            expect(byEni.name).to.equal("InvalidNetworkInterfaceID.NotFound");
        });

        it("filters addresses by tag and association; unknown allocation ids and actions are errors", async () => {
            const instance = model.addInstance();
            const [a, b] = [model.addAddress({ tags: { pool: "edge" } }), model.addAddress({ tags: { pool: "edge" } })];
            model.addAddress({ tags: { pool: "other" } });
            await associate(a.allocationId, { InstanceId: instance.instanceId });

            const pool = await clients.ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: "tag:pool", Values: ["edge"] }] }));
            expect(pool.Addresses!.map((x) => x.AllocationId)).to.deep.equal([a.allocationId, b.allocationId]);
            expect(pool.Addresses![1]).to.deep.equal({
                AllocationId: b.allocationId,
                PublicIp: b.publicIp,
                Domain: "vpc",
                Tags: [{ Key: "pool", Value: "edge" }],
            });
            const bound = await clients.ec2.send(
                new DescribeAddressesCommand({
                    Filters: [
                        { Name: "tag:pool", Values: ["edge"] },
                        { Name: "instance-id", Values: [instance.instanceId] },
                    ],
                }),
            );
            expect(bound.Addresses!.map((x) => x.AllocationId)).to.deep.equal([a.allocationId]);

            expect((await rejection(describeAddresses(["eipalloc-00000000000000bad"]))).name).to.equal("InvalidAllocationID.NotFound");
            const unsupported = await rejection(clients.ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1 })));
            expect(unsupported.name).to.equal("InvalidAction");
        });

        it("reads lag writes by up to readLagMs: right after a change a read can show the earlier state, past readLagMs never", async () => {
            await useModel(lagging);
            const instance = model.addInstance();
            const eip = model.addAddress();
            now += 5_000;
            const { AssociationId } = await associate(eip.allocationId, { InstanceId: instance.instanceId });

            lag = 0.5; // these reads look 500 ms back, before the association
            expect((await describeAddresses([eip.allocationId]))[0].AssociationId).to.equal(undefined);
            expect((await describeInstance(instance.instanceId)).PublicIpAddress).to.equal(undefined);
            now += 1_000;
            lag = 0.999;
            expect((await describeAddresses([eip.allocationId]))[0].AssociationId).to.equal(AssociationId);
            expect((await describeInstance(instance.instanceId)).PublicIpAddress).to.equal(eip.publicIp);

            await clients.ec2.send(new DisassociateAddressCommand({ AssociationId }));
            model.setState(instance.instanceId, "stopped");
            lag = 0.5;
            expect(model.address(eip.allocationId)!.association).to.equal(undefined);
            expect((await describeAddresses([eip.allocationId]))[0].AssociationId).to.equal(AssociationId);
            expect((await describeInstance(instance.instanceId)).State).to.deep.equal({ Code: 16, Name: "running" });
            now += 1_000;
            lag = 0.999;
            expect((await describeAddresses([eip.allocationId]))[0].AssociationId).to.equal(undefined);
            expect((await describeInstance(instance.instanceId)).State).to.deep.equal({ Code: 80, Name: "stopped" });
        });

        it("an object created within the lag can be absent: NotFound by id, missing from filtered reads", async () => {
            await useModel(lagging);
            now += 5_000;
            const instance = model.addInstance({ tags: { role: "worker" } });
            const eip = model.addAddress();

            lag = 0.5;
            expect((await rejection(describeInstance(instance.instanceId))).name).to.equal("InvalidInstanceID.NotFound");
            const byTag = await clients.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "tag:role", Values: ["worker"] }] }));
            expect(byTag.Reservations).to.deep.equal([]);
            expect((await rejection(describeAddresses([eip.allocationId]))).name).to.equal("InvalidAllocationID.NotFound");

            now += 1_000;
            expect((await describeInstance(instance.instanceId)).InstanceId).to.equal(instance.instanceId);
            expect(await describeAddresses([eip.allocationId])).to.have.length(1);
        });

        it("mutating calls act on the true state: AllowReassociation false refuses an address a lagging read shows free", async () => {
            await useModel(lagging);
            const [a, b] = [model.addInstance(), model.addInstance()];
            const eip = model.addAddress();
            now += 5_000;
            const { AssociationId } = await associate(eip.allocationId, { InstanceId: a.instanceId });

            lag = 0.5;
            expect((await describeAddresses([eip.allocationId]))[0].AssociationId).to.equal(undefined);
            expect((await rejection(associate(eip.allocationId, { InstanceId: b.instanceId }, false))).name).to.equal("Resource.AlreadyAssociated");
            await clients.ec2.send(new DisassociateAddressCommand({ AssociationId }));
            expect(model.address(eip.allocationId)!.association).to.equal(undefined);
        });

        it("a pending instance refuses an address; its start is a change that reads may lag, AssociateAddress does not", async () => {
            await useModel(lagging);
            const instance = model.addInstance({ state: "pending" });
            const eip = model.addAddress();
            now += 5_000;
            expect((await rejection(associate(eip.allocationId, { InstanceId: instance.instanceId }))).name).to.equal("IncorrectInstanceState");

            model.setState(instance.instanceId, "running");
            lag = 0.5;
            expect((await describeInstance(instance.instanceId)).State).to.deep.equal({ Code: 0, Name: "pending" });
            await associate(eip.allocationId, { InstanceId: instance.instanceId });
            now += 1_000;
            expect((await describeInstance(instance.instanceId)).State).to.deep.equal({ Code: 16, Name: "running" });
        });

        it("re-associating onto the interface and private IP an address is on succeeds, by default with a new association id", async () => {
            const [instance, other] = [model.addInstance(), model.addInstance()];
            const eip = model.addAddress();
            const target = { NetworkInterfaceId: instance.networkInterfaces[0].networkInterfaceId };
            const first = (await associate(eip.allocationId, target)).AssociationId!;
            const second = (await associate(eip.allocationId, target, false)).AssociationId!;
            const third = (await associate(eip.allocationId, { InstanceId: instance.instanceId }, false)).AssociationId!;
            expect(new Set([first, second, third]).size).to.equal(3);
            expect(model.address(eip.allocationId)!.association).to.include({ associationId: third, networkInterfaceId: target.NetworkInterfaceId });

            const stale = await rejection(clients.ec2.send(new DisassociateAddressCommand({ AssociationId: first })));
            expect(stale.name).to.equal("InvalidAssociationID.NotFound");
            expect((await rejection(associate(eip.allocationId, { InstanceId: other.instanceId }))).name).to.equal("Resource.AlreadyAssociated");
        });

        it("with remapChance 0 a re-association onto the same target keeps its association id", async () => {
            await useModel({ remapChance: 0 });
            const instance = model.addInstance();
            const eip = model.addAddress();
            const first = (await associate(eip.allocationId, { InstanceId: instance.instanceId })).AssociationId!;
            const target = { NetworkInterfaceId: instance.networkInterfaces[0].networkInterfaceId };
            expect((await associate(eip.allocationId, target, false)).AssociationId).to.equal(first);
            await clients.ec2.send(new DisassociateAddressCommand({ AssociationId: first }));
            expect(model.address(eip.allocationId)!.association).to.equal(undefined);
        });

        it("a terminated instance stays describable for terminatedVisibleMs (1 h by default), then is gone", async () => {
            await useModel({ clock: () => now });
            const [gone, running] = [model.addInstance(), model.addInstance()];
            model.setState(gone.instanceId, "terminated");
            const byIdFilter = async () =>
                (await clients.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "instance-id", Values: [gone.instanceId] }] }))).Reservations;

            now += 3_600_000 - 1;
            expect((await describeInstance(gone.instanceId)).State).to.deep.equal({ Code: 48, Name: "terminated" });
            expect(await byIdFilter()).to.have.length(1);

            now += 1;
            expect(await byIdFilter()).to.deep.equal([]);
            const all = await clients.ec2.send(new DescribeInstancesCommand({}));
            expect(all.Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId)).to.deep.equal([running.instanceId]);
            expect((await rejection(describeInstance(gone.instanceId))).name).to.equal("InvalidInstanceID.NotFound");
            expect(model.instance(gone.instanceId)!.state).to.equal("terminated");
        });

        it("an instance with two network cards has a device 0 on each; the one on card 0 is the primary", async () => {
            const instance = model.addInstance({ interfaces: [{ deviceIndex: 0, networkCardIndex: 1 }, { deviceIndex: 0 }] });
            const card0 = instance.networkInterfaces[1];
            const described = await describeInstance(instance.instanceId);
            expect(described.NetworkInterfaces!.map((n) => n.Attachment)).to.deep.equal([
                { DeviceIndex: 0, NetworkCardIndex: 1, Status: "attached" },
                { DeviceIndex: 0, NetworkCardIndex: 0, Status: "attached" },
            ]);
            expect(described.PrivateIpAddress).to.equal(card0.privateIpAddress);

            const { Ec2 } = await import("../../../binder/aws/ec2");
            const [seen] = await new Ec2(clients.ec2).instances([instance.instanceId]);
            expect(seen.primary).to.deep.equal({ networkInterfaceId: card0.networkInterfaceId, privateIpAddress: card0.privateIpAddress });
            const eip = model.addAddress();
            await associate(eip.allocationId, { InstanceId: instance.instanceId });
            expect(model.address(eip.allocationId)!.association!.networkInterfaceId).to.equal(card0.networkInterfaceId);
        });
    });

    describe("Route53", () => {
        it("rejects the whole batch when one CREATE conflicts", async () => {
            zone.put({ name: "a.live.example.com", type: "A", ttl: 60, values: ["198.51.100.1"] });
            const err = await rejection(
                changeBatch(change("UPSERT", "b.live.example.com", ["198.51.100.2"]), change("CREATE", "A.Live.Example.com", ["198.51.100.3"])),
            );
            expect(err.name).to.equal("InvalidChangeBatch");
            expect(err.$metadata.httpStatusCode).to.equal(400);
            expect(err.message).to.equal("[Tried to create resource record set [name='a.live.example.com.', type='A'] but it already exists]");
            expect(zone.records()).to.deep.equal([{ name: "a.live.example.com.", type: "A", ttl: 60, values: ["198.51.100.1"] }]);
            expect(zone.changes()).to.deep.equal([]);
        });

        it("deletes only on an exact match of name, type, TTL and values", async () => {
            zone.put({ name: "a.live.example.com.", type: "A", ttl: 60, values: ["198.51.100.1", "198.51.100.2"] });
            const subset = await rejection(changeBatch(change("DELETE", "a.live.example.com", ["198.51.100.1"])));
            expect(subset.message).to.contain("but the values provided do not match the current values");
            const ttl = await rejection(changeBatch(change("DELETE", "a.live.example.com", ["198.51.100.1", "198.51.100.2"], 300)));
            expect(ttl.name).to.equal("InvalidChangeBatch");
            const missing = await rejection(changeBatch(change("DELETE", "b.live.example.com", ["198.51.100.1"])));
            expect(missing.message).to.equal("[Tried to delete resource record set [name='b.live.example.com.', type='A'] but it was not found]");
            expect(zone.records()).to.have.length(1);

            await changeBatch(change("DELETE", "A.LIVE.example.com.", ["198.51.100.2", "198.51.100.1"]));
            expect(zone.records()).to.deep.equal([]);
        });

        it("UPSERT creates then replaces, DELETE+CREATE in one batch is legal, names outside the zone are refused", async () => {
            await changeBatch(change("UPSERT", "a.live.example.com", ["198.51.100.1"]));
            await changeBatch(change("UPSERT", "a.live.example.com", ["198.51.100.2"], 30));
            expect(zone.records("A")).to.deep.equal([{ name: "a.live.example.com.", type: "A", ttl: 30, values: ["198.51.100.2"] }]);

            await changeBatch(change("DELETE", "a.live.example.com", ["198.51.100.2"], 30), change("CREATE", "a.live.example.com", ["198.51.100.3"]));
            expect(zone.records()[0].values).to.deep.equal(["198.51.100.3"]);

            const outside = await rejection(changeBatch(change("UPSERT", "a.example.org", ["198.51.100.4"])));
            expect(outside.name).to.equal("InvalidChangeBatch");
            expect(zone.records()).to.have.length(1);
        });

        it("refuses an A record beside a CNAME of the same name, and a CNAME beside any other record, failing the whole batch", async () => {
            zone.put({ name: "cdn.live.example.com", type: "CNAME", ttl: 60, values: ["edge.example.net"] });
            const beside = await rejection(changeBatch(change("UPSERT", "a.live.example.com", ["198.51.100.1"]), change("UPSERT", "cdn.live.example.com", ["198.51.100.2"])));
            expect(beside.message).to.equal("[RRSet of type A with DNS name cdn.live.example.com. is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone live.example.com.]");
            expect(zone.records().map(r => r.name)).to.deep.equal(["cdn.live.example.com."]);
            await changeBatch(change("UPSERT", "a.live.example.com", ["198.51.100.1"]));
            const cname = await rejection(changeBatch({ Action: "CREATE", ResourceRecordSet: { Name: "a.live.example.com", Type: "CNAME", TTL: 60, ResourceRecords: [{ Value: "x.example.net" }] } }));
            expect(cname.name).to.equal("InvalidChangeBatch");
            expect(zone.records().map(r => `${r.name} ${r.type}`)).to.deep.equal(["a.live.example.com. A", "cdn.live.example.com. CNAME"]);
        });

        it("takes a TXT value as strings in double quotes, as Route53 does, and gives it back as written", async () => {
            const owner = '"heritage=eip-dns-binder,eip-dns-binder/owner=test,eip-dns-binder/instance=i-0123456789abcdef0"';
            await changeBatch(change("UPSERT", "a.live.example.com", ["198.51.100.1"]), change("UPSERT", "a.live.example.com", [owner], 60, "TXT"));
            const page = await clients.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: ZONE.id, StartRecordName: "a.live.example.com", StartRecordType: "A", MaxItems: 2 }));
            expect(page.ResourceRecordSets!.map(r => [r.Type, r.ResourceRecords![0].Value])).to.deep.equal([["A", "198.51.100.1"], ["TXT", owner]]);
            // Several strings, and a quotation mark escaped inside one, are one value.
            await changeBatch(change("UPSERT", "b.live.example.com", ['"one" "say \\"two\\""'], 60, "TXT"));

            const unquoted = await rejection(changeBatch(change("UPSERT", "c.live.example.com", ["heritage=eip-dns-binder"], 60, "TXT")));
            expect(unquoted.name).to.equal("InvalidChangeBatch");
            expect(unquoted.message).to.equal("[Invalid Resource Record: FATAL problem: InvalidCharacterString (Value should be enclosed in quotation marks) encountered with 'heritage=eip-dns-binder']");
            const long = await rejection(changeBatch(change("CREATE", "c.live.example.com", [`"${"x".repeat(256)}"`], 60, "TXT")));
            expect(long.message).to.contain("CharacterStringTooLong");
            // A DELETE matches the value exactly, quotes included.
            const bare = await rejection(changeBatch(change("DELETE", "a.live.example.com", [owner.slice(1, -1)], 60, "TXT")));
            expect(bare.message).to.contain("do not match");
            await changeBatch(change("DELETE", "a.live.example.com", [owner], 60, "TXT"));
            expect(zone.records("TXT").map(r => r.name)).to.deep.equal(["b.live.example.com."]);
        });

        it("reports a change PENDING for pollsUntilInSync polls, then INSYNC; unknown ids and zones are 404", async () => {
            zone.pollsUntilInSync = 2;
            const { ChangeInfo } = await changeBatch(change("UPSERT", "a.live.example.com", ["198.51.100.1"]));
            expect(ChangeInfo!.Status).to.equal("PENDING");
            expect(ChangeInfo!.Id).to.match(/^\/change\/C[0-9A-F]+$/);
            expect(ChangeInfo!.SubmittedAt).to.be.instanceOf(Date);

            const poll = async () => (await clients.route53.send(new GetChangeCommand({ Id: ChangeInfo!.Id }))).ChangeInfo!.Status;
            expect([await poll(), await poll(), await poll()]).to.deep.equal(["PENDING", "PENDING", "INSYNC"]);
            expect(zone.changes()).to.deep.equal([{ id: ChangeInfo!.Id, status: "INSYNC" }]);

            const noChange = await rejection(clients.route53.send(new GetChangeCommand({ Id: "C00000000DEAD" })));
            expect([noChange.name, noChange.$metadata.httpStatusCode]).to.deep.equal(["NoSuchChange", 404]);
            const noZone = await rejection(clients.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: "/hostedzone/ZNOPE" })));
            expect([noZone.name, noZone.$metadata.httpStatusCode]).to.deep.equal(["NoSuchHostedZone", 404]);
        });

        it("lists records in Route53 order from a start name and type, paging with MaxItems", async () => {
            const seed = (name: string, type: string) => zone.put({ name, type, ttl: 60, values: [type === "TXT" ? '"v"' : "198.51.100.1"] });
            seed("c.live.example.com", "A");
            seed("b.live.example.com", "A");
            seed("z.a.live.example.com", "A");
            seed("a.live.example.com", "TXT");
            seed("a.live.example.com", "A");
            seed("live.example.com", "TXT");
            const list = (StartRecordName?: string, StartRecordType?: RRType, MaxItems?: number) =>
                clients.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: ZONE.id, StartRecordName, StartRecordType, MaxItems }));
            const names = (page: Awaited<ReturnType<typeof list>>) => page.ResourceRecordSets!.map((r) => `${r.Name} ${r.Type}`);

            const first = await list(undefined, undefined, 2);
            expect(names(first)).to.deep.equal(["live.example.com. TXT", "a.live.example.com. A"]);
            expect(first).to.include({ IsTruncated: true, NextRecordName: "a.live.example.com.", NextRecordType: "TXT", MaxItems: 2 });

            const second = await list(first.NextRecordName, first.NextRecordType, 2);
            expect(names(second)).to.deep.equal(["a.live.example.com. TXT", "z.a.live.example.com. A"]);
            expect(second.ResourceRecordSets![0]).to.deep.equal({ Name: "a.live.example.com.", Type: "TXT", TTL: 60, ResourceRecords: [{ Value: '"v"' }] });

            const rest = await list("B.live.example.com");
            expect(names(rest)).to.deep.equal(["b.live.example.com. A", "c.live.example.com. A"]);
            expect(rest.IsTruncated).to.equal(false);
            expect(rest.NextRecordName).to.equal(undefined);
        });

        it("sorts by the reversed name as one ASCII string, trailing dot included, so '-' sorts before a label's end", async () => {
            for (const name of ["a.x.live.example.com", "x.live.example.com", "x-y.live.example.com"]) {
                zone.put({ name, type: "A", ttl: 60, values: ["198.51.100.1"] });
            }
            const page = await clients.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: ZONE.id }));
            // live.example.com.x-y. < live.example.com.x. < live.example.com.x.a. (label by label, x would come first).
            expect(page.ResourceRecordSets!.map(r => r.Name)).to.deep.equal(["x-y.live.example.com.", "x.live.example.com.", "a.x.live.example.com."]);
            const from = await clients.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: ZONE.id, StartRecordName: "x.live.example.com" }));
            expect(from.ResourceRecordSets!.map(r => r.Name)).to.deep.equal(["x.live.example.com.", "a.x.live.example.com."]);
        });
    });

    describe("DynamoDB via dynalite", () => {
        it("passes calls through, conditional puts included, and records them", async () => {
            const table = await createTable();
            await putOnce(table, "node-1");
            const conflict = await rejection(putOnce(table, "node-1"));
            expect(conflict.name).to.equal("ConditionalCheckFailedException");
            const { Item } = await clients.dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: "node-1" } } }));
            expect(Item).to.deep.equal({ pk: { S: "node-1" } });

            // createTable polls DescribeTable until the table is ACTIVE; how often varies.
            const calls = gateway.calls.filter((c) => c.action !== "DescribeTable");
            expect(calls.map(({ service, action, outcome, errorCode }) => ({ service, action, outcome, errorCode }))).to.deep.equal([
                { service: "dynamodb", action: "CreateTable", outcome: "ok", errorCode: undefined },
                { service: "dynamodb", action: "PutItem", outcome: "ok", errorCode: undefined },
                { service: "dynamodb", action: "PutItem", outcome: "error", errorCode: "ConditionalCheckFailedException" },
                { service: "dynamodb", action: "GetItem", outcome: "ok", errorCode: undefined },
            ]);
            expect(calls[1].input).to.deep.include({ TableName: table, Item: { pk: { S: "node-1" } } });
        });

        describe("TransactWriteItems, which dynalite lacks, made of its own conditional writes", () => {
            const item = (pk: string, extra: Record<string, { S: string }> = {}) => ({ pk: { S: pk }, ...extra });
            const read = async (TableName: string, pk: string) =>
                (await clients.dynamodb.send(new GetItemCommand({ TableName, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item;
            const absent = { ConditionExpression: "attribute_not_exists(pk)" };

            it("writes every action or none: a failed condition cancels all, with a reason per action", async () => {
                const table = await createTable();
                await putOnce(table, "taken");
                const failure = await rejection(clients.dynamodb.send(new TransactWriteItemsCommand({
                    TransactItems: [
                        { Put: { TableName: table, Item: item("fresh"), ...absent } },
                        { Update: { TableName: table, Key: { pk: { S: "other" } }, UpdateExpression: "SET v = :v", ExpressionAttributeValues: { ":v": { S: "x" } } } },
                        { Put: { TableName: table, Item: item("taken"), ...absent } },
                    ],
                })));
                expect(failure).to.be.instanceOf(TransactionCanceledException);
                expect((failure as TransactionCanceledException).CancellationReasons?.map(r => r.Code)).to.deep.equal(["None", "None", "ConditionalCheckFailed"]);
                expect(await read(table, "fresh")).to.equal(undefined);
                expect(await read(table, "other")).to.equal(undefined);
                expect(await read(table, "taken")).to.deep.equal(item("taken"));

                await clients.dynamodb.send(new TransactWriteItemsCommand({
                    TransactItems: [{ Put: { TableName: table, Item: item("fresh"), ...absent } }, { Delete: { TableName: table, Key: { pk: { S: "taken" } } } }],
                }));
                expect(await read(table, "fresh")).to.deep.equal(item("fresh"));
                expect(await read(table, "taken")).to.equal(undefined);
            });

            it("a condition check judges an item without changing it, present or not", async () => {
                const table = await createTable();
                await clients.dynamodb.send(new PutItemCommand({ TableName: table, Item: item("lock", { owner: { S: "i-1" } }) }));
                const ownedBy = (owner: string) => ({
                    ConditionCheck: { TableName: table, Key: { pk: { S: "lock" } }, ConditionExpression: "#o = :o", ExpressionAttributeNames: { "#o": "owner" }, ExpressionAttributeValues: { ":o": { S: owner } } },
                });
                const row = (v: string) => ({ Put: { TableName: table, Item: item("row", { v: { S: v } }) } });
                await clients.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [ownedBy("i-1"), row("one")] }));
                const refused = await rejection(clients.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [ownedBy("i-2"), row("two")] })));
                expect((refused as TransactionCanceledException).CancellationReasons?.map(r => r.Code)).to.deep.equal(["ConditionalCheckFailed", "None"]);
                expect(await read(table, "row")).to.deep.equal(item("row", { v: { S: "one" } }));
                expect(await read(table, "lock")).to.deep.equal(item("lock", { owner: { S: "i-1" } }));
                await clients.dynamodb.send(new TransactWriteItemsCommand({
                    TransactItems: [{ ConditionCheck: { TableName: table, Key: { pk: { S: "none" } }, ...absent } }, row("three")],
                }));
                expect(await read(table, "none")).to.equal(undefined);
            });

            it("refuses two actions on one item, and succeeds again without writing for a repeated client token", async () => {
                const table = await createTable();
                const twice = await rejection(clients.dynamodb.send(new TransactWriteItemsCommand({
                    TransactItems: [{ Put: { TableName: table, Item: item("a") } }, { Delete: { TableName: table, Key: { pk: { S: "a" } } } }],
                })));
                expect(twice.name).to.equal("ValidationException");
                const once = { ClientRequestToken: "token-1", TransactItems: [{ Put: { TableName: table, Item: item("a"), ...absent } }] };
                await clients.dynamodb.send(new TransactWriteItemsCommand(once));
                await clients.dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: "a" } } }));
                await clients.dynamodb.send(new TransactWriteItemsCommand(once));
                expect(await read(table, "a"), "the repeat wrote again").to.equal(undefined);
            });

            it("no other request sees a transaction half done", async () => {
                const table = await createTable();
                const pair = (n: number) => ["x", "y"].map(pk => ({ Put: { TableName: table, Item: item(pk, { n: { S: String(n) } }) } }));
                const writes = Array.from({ length: 20 }, (_, n) => clients.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: pair(n) })));
                const reads = Array.from({ length: 40 }, () => clients.dynamodb.send(new ScanCommand({ TableName: table, ConsistentRead: true })));
                const [, scans] = await Promise.all([Promise.all(writes), Promise.all(reads)]);
                for (const { Items = [] } of scans) expect(new Set(Items.map(i => i.n?.S)).size, "a scan saw x and y from different transactions").to.be.at.most(1);
            });
        });

        it("createTable returns once the table takes writes", async () => {
            // Straight to dynalite: without the wait, about half of these writes were ResourceNotFound.
            const direct = sdkClients(dynalite.endpoint).dynamodb;
            for (let i = 0; i < 20; i++) {
                const table = await createTable(direct);
                await putOnce(table, "node-1", direct);
            }
        });
    });

    describe("SQS", () => {
        const changeVisibility = (Entries: { Id: string; ReceiptHandle: string; VisibilityTimeout: number }[], QueueUrl = `${gateway.endpoint}${QUEUE_PATH}`) =>
            clients.sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl, Entries }));

        it("changes the visibility of received messages, entry by entry, refusing a stale receipt handle or a bad timeout", async () => {
            queue.accepts = handle => handle !== "handle-stale";
            const out = await changeVisibility([
                { Id: "a", ReceiptHandle: "handle-a", VisibilityTimeout: 30 },
                { Id: "stale", ReceiptHandle: "handle-stale", VisibilityTimeout: 30 },
                { Id: "long", ReceiptHandle: "handle-b", VisibilityTimeout: 43_201 },
            ]);
            expect(out.Successful).to.deep.equal([{ Id: "a" }]);
            expect(out.Failed!.map(f => [f.Id, f.Code, f.SenderFault])).to.deep.equal([["stale", "ReceiptHandleIsInvalid", true], ["long", "InvalidParameterValue", true]]);
            expect(queue.changes).to.deep.equal([{ receiptHandle: "handle-a", visibilityTimeout: 30 }]);
            expect(gateway.calls.map(c => [c.service, c.action, c.outcome])).to.deep.equal([["sqs", "ChangeMessageVisibilityBatch", "ok"]]);
        });

        it("asks its queue model whether a receipt handle still works", async () => {
            const asked: [string, number][] = [];
            const bench = new SqsModel();
            bench.accepts = (handle, seconds) => { asked.push([handle, seconds]); return handle === "current"; };
            const result = bench.changeVisibilityBatch(`http://127.0.0.1:1${QUEUE_PATH}`, [
                { Id: "0", ReceiptHandle: "current", VisibilityTimeout: 15 },
                { Id: "1", ReceiptHandle: "superseded", VisibilityTimeout: 15 },
            ]);
            expect(asked).to.deep.equal([["current", 15], ["superseded", 15]]);
            expect(result.Failed.map(f => f.Code)).to.deep.equal(["ReceiptHandleIsInvalid"]);
        });

        it("refuses another queue, an empty batch, more than ten entries and repeated ids, as SQS does", async () => {
            const entry = (Id: string) => ({ Id, ReceiptHandle: "handle", VisibilityTimeout: 0 });
            const codes = [
                await rejection(changeVisibility([entry("0")], `${gateway.endpoint}/123456789012/other-queue`)),
                await rejection(changeVisibility([])),
                await rejection(changeVisibility(Array.from({ length: 11 }, (_, i) => entry(String(i))))),
                await rejection(changeVisibility([entry("0"), entry("0")])),
            ].map(err => err.name);
            expect(codes).to.deep.equal(["QueueDoesNotExist", "EmptyBatchRequest", "TooManyEntriesInBatchRequest", "BatchEntryIdsNotDistinct"]);
            expect(queue.changes).to.deep.equal([]);
        });
    });

    describe("gateway", () => {
        it("records every call with its parsed input, in order, until cleared", async () => {
            const eip = model.addAddress({ tags: { pool: "edge" } });
            await clients.ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: "tag:pool", Values: ["edge"] }] }));
            await rejection(describeAddresses(["eipalloc-00000000000000bad"]));
            await changeBatch(change("UPSERT", "a.live.example.com", [eip.publicIp]));

            expect(gateway.calls.map((c) => c.seq)).to.deep.equal([1, 2, 3]);
            expect(gateway.calls[0]).to.deep.equal({
                seq: 1,
                service: "ec2",
                action: "DescribeAddresses",
                input: { Action: "DescribeAddresses", Version: "2016-11-15", "Filter.1.Name": "tag:pool", "Filter.1.Value.1": "edge" },
                outcome: "ok",
            });
            expect(gateway.calls[1]).to.include({ outcome: "error", errorCode: "InvalidAllocationID.NotFound" });
            expect(gateway.calls[2]).to.deep.include({
                service: "route53",
                action: "ChangeResourceRecordSets",
                input: {
                    HostedZoneId: ZONE.id,
                    ChangeBatch: { Changes: [change("UPSERT", "a.live.example.com", [eip.publicIp])] },
                },
            });
            gateway.clearCalls();
            expect(gateway.calls).to.deep.equal([]);
        });

        it("a fault injected before a call fails it without applying it, and the SDK does not retry it", async () => {
            const instance = model.addInstance();
            const eip = model.addAddress();
            gateway.inject({ service: "ec2", action: "AssociateAddress" });
            expect(gateway.pendingFaults()).to.equal(1);

            const err = await rejection(associate(eip.allocationId, { InstanceId: instance.instanceId }));
            expect([err.name, err.$metadata.httpStatusCode, err.$metadata.attempts]).to.deep.equal(["InjectedFault", 400, 1]);
            expect(model.address(eip.allocationId)!.association).to.equal(undefined);
            expect(gateway.pendingFaults()).to.equal(0);
            expect(gateway.calls.at(-1)).to.include({ outcome: "error", errorCode: "InjectedFault", injected: "before" });

            await associate(eip.allocationId, { InstanceId: instance.instanceId });
            expect(model.address(eip.allocationId)!.association).to.include({ instanceId: instance.instanceId });
        });

        it("a fault injected after a call applies it and loses the response, in every service", async () => {
            const instance = model.addInstance();
            const eip = model.addAddress();
            const table = await createTable();
            gateway.inject({ action: "AssociateAddress", when: "after" });
            gateway.inject({ action: "ChangeResourceRecordSets", when: "after" });
            gateway.inject({ service: "dynamodb", action: "PutItem", when: "after" });

            expect((await rejection(associate(eip.allocationId, { InstanceId: instance.instanceId }))).name).to.equal("InjectedFault");
            expect(model.address(eip.allocationId)!.association).to.include({ instanceId: instance.instanceId });
            expect((await rejection(changeBatch(change("CREATE", "a.live.example.com", [eip.publicIp])))).name).to.equal("InjectedFault");
            expect(zone.records()).to.have.length(1);
            const lost = await rejection(putOnce(table, "node-1"));
            expect(lost.name).to.equal("InjectedFault");
            expect((await rejection(putOnce(table, "node-1"))).name).to.equal("ConditionalCheckFailedException");

            expect(gateway.calls.filter((c) => c.injected).map((c) => [c.action, c.injected])).to.deep.equal([
                ["AssociateAddress", "after"],
                ["ChangeResourceRecordSets", "after"],
                ["PutItem", "after"],
            ]);
        });

        it("match and times choose which calls fail", async () => {
            const forName = (name: string) => (call: { input: unknown }) =>
                (call.input as ChangeResourceRecordSetsInput).ChangeBatch.Changes.some((c) => c.ResourceRecordSet.Name === name);
            gateway.inject({ service: "route53", action: "ChangeResourceRecordSets", times: 2, match: forName("bad.live.example.com") });

            await changeBatch(change("UPSERT", "good.live.example.com", ["198.51.100.1"]));
            await rejection(changeBatch(change("UPSERT", "bad.live.example.com", ["198.51.100.2"])));
            expect(gateway.pendingFaults()).to.equal(1);
            await rejection(changeBatch(change("UPSERT", "bad.live.example.com", ["198.51.100.2"])));
            await changeBatch(change("UPSERT", "bad.live.example.com", ["198.51.100.2"]));
            expect(gateway.pendingFaults()).to.equal(0);
            expect(zone.records().map((r) => r.name)).to.deep.equal(["bad.live.example.com.", "good.live.example.com."]);
        });

        it("throttling errors of each service are retried by the SDK until the call goes through", async () => {
            let throttled = 0;
            throttle = (service, action) => service === "ec2" && action === "DescribeAddresses" && throttled++ < 2;
            const ec2 = await clients.ec2.send(new DescribeAddressesCommand({}));
            expect(ec2.$metadata.attempts).to.equal(3);
            expect(gateway.calls.map((c) => c.errorCode)).to.deep.equal(["RequestLimitExceeded", "RequestLimitExceeded", undefined]);

            gateway.inject({ action: "ChangeResourceRecordSets", code: "PriorRequestNotComplete" });
            gateway.inject({ action: "ListResourceRecordSets", code: "Throttling" });
            gateway.inject({ action: "GetItem", code: "ThrottlingException" });
            gateway.inject({ action: "DescribeInstances", code: "RequestLimitExceeded" });
            gateway.inject({ action: "ChangeMessageVisibilityBatch", code: "RequestThrottled" });
            const table = await createTable();
            const results = [
                await changeBatch(change("CREATE", "a.live.example.com", ["198.51.100.1"])),
                await clients.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: ZONE.id })),
                await clients.dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: "x" } } })),
                await clients.ec2.send(new DescribeInstancesCommand({})),
                await clients.sqs.send(new ChangeMessageVisibilityBatchCommand({
                    QueueUrl: `${gateway.endpoint}${QUEUE_PATH}`, Entries: [{ Id: "0", ReceiptHandle: "handle", VisibilityTimeout: 0 }],
                })),
            ];
            expect(results.map((r) => r.$metadata.attempts)).to.deep.equal([2, 2, 2, 2, 2]);
            expect(zone.changes()).to.have.length(1);
            expect(gateway.pendingFaults()).to.equal(0);
        });

        it("answers hundreds of concurrent requests, recording each once in arrival order", async () => {
            const table = await createTable();
            gateway.clearCalls();
            const instances = Array.from({ length: 100 }, () => model.addInstance());
            const addresses = instances.map(() => model.addAddress());
            const results = await Promise.allSettled([
                ...instances.map((instance, i) => associate(addresses[i].allocationId, { InstanceId: instance.instanceId })),
                ...instances.map(() => clients.ec2.send(new DescribeAddressesCommand({}))),
                ...instances.slice(0, 50).map((_, i) => changeBatch(change("UPSERT", `n${i}.live.example.com`, ["198.51.100.1"]))),
                ...instances.slice(0, 50).map((_, i) => putOnce(table, `node-${i}`)),
            ]);
            expect(results.filter((r) => r.status === "rejected")).to.deep.equal([]);
            expect(gateway.calls).to.have.length(300);
            expect(gateway.calls.every((c, i) => i === 0 || c.seq > gateway.calls[i - 1].seq)).to.equal(true);
            expect(model.addresses().map((a) => a.association?.instanceId)).to.deep.equal(instances.map((i) => i.instanceId));
            expect(zone.records()).to.have.length(50);
        });

        it("delays every response by latencyMs", async () => {
            const slow = await AwsGateway.start(gatewayOptions({ latencyMs: 150 }));
            const slowClients = sdkClients(slow.endpoint);
            try {
                const started = Date.now();
                await slowClients.ec2.send(new DescribeInstancesCommand({}));
                expect(Date.now() - started).to.be.at.least(145);
                expect(slow.calls).to.have.length(1);
            } finally {
                Object.values(slowClients).forEach((client) => client.destroy());
                await slow.close();
            }
        });
    });
});
