// The call catalog the permission audit relies on, checked against what the
// functions were seen to do: the binder and the reconciler run against the AWS
// stand-ins (binds, a collision with an exhausted pool, stop, start, release and the
// hand-over of its address, a drain, drift), and the hook function answers workers
// (binds, an exhausted pool, a drain, a bind while draining, what a worker has),
// and every call the gateway recorded for each must be one the catalog lists for it.
import { expect } from "chai";
import { createEventHandler, createHookHandler, createReconcileHandler } from "../../binder";
import { DnsRecordsMode } from "../../binder/config";
import { FunctionRole } from "../../infra/policy";
import { callsOf } from "../support/iam/audit";
import { StackFacts } from "../support/iam/facts";
import { catalogSignature, observedSignatures, Tables } from "../support/iam/observed";
import { callers, hookRequest } from "../support/hooks";
import { ACCOUNT, ADDRESS_TAGS, stateChange, World } from "../support/world";

/** Facts enough to render the catalog's authorizations in the stand-ins' world. */
function worldFacts(world: World, mode: DnsRecordsMode): StackFacts {
    const tables = { servers: `table/${world.settings.serversTable}`, claims: `table/${world.settings.claimsTable}` };
    return {
        stack: "test", mode, policies: {} as StackFacts["policies"], queuePolicies: {}, tables,
        logGroups: { binder: "log-group:binder", reconciler: "log-group:reconciler", hook: "log-group:hook" },
        zoneId: "Z0TESTZONE", queues: { events: "events", failed: "failed", undelivered: "undelivered" }, stateRule: "rule", drainRules: [], scheduleRule: "schedule",
        hookFunction: "hook", hookPolicy: { Version: "2012-10-17", Statement: [] }, nodeRoleArns: [],
        binderFunction: "binder", binderInvokePolicy: { Version: "2012-10-17", Statement: [] },
        poolAddressTags: {}, addressTags: {}, instanceTags: {}, vpcArns: [], recordName: "name", suffix: "suffix", hostedZone: "zone",
    };
}

async function exercise(world: World): Promise<Record<FunctionRole, string[]>> {
    const handler = createEventHandler();
    const deliver = (instanceId: string, state: string) => world.handle(handler, stateChange(instanceId, state)).catch(() => undefined);
    const [a, b, c] = [world.launch(), world.launch(), world.launchSpot()];
    for (const instance of [a, b, c]) await deliver(instance.instanceId, "running"); // the third finds the pool exhausted
    world.ec2.setState(a.instanceId, "stopped");
    await deliver(a.instanceId, "stopped");
    world.ec2.setState(a.instanceId, "pending");
    world.ec2.setState(a.instanceId, "running");
    await deliver(a.instanceId, "running");
    world.ec2.setState(b.instanceId, "terminated");
    await deliver(b.instanceId, "terminated"); // its address goes to the third, which waits for one
    await world.handle(handler, world.signal("spot-interruption", [c.instanceId]), world.signal("scheduled-change", [c.instanceId])).catch(() => undefined);
    await deliver(world.launch().instanceId, "running"); // waits: the pool is exhausted
    const binder = world.gateway.calls.slice();

    world.gateway.clearCalls();
    world.ec2.setTags(a.instanceId, { team: "web" }); // no event: a stale binding, still associated
    world.launch(); // no event: an unbound target
    world.ec2.setState(c.instanceId, "terminated"); // no event: a stale binding and a stale drain mark
    await createReconcileHandler()({}).catch(() => undefined);
    const reconciler = world.gateway.calls.slice();

    world.gateway.clearCalls();
    const hook = createHookHandler();
    const context = { invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:hook` };
    const ask = (method: string, path: string, instanceId: string) => hook(hookRequest(method, path, callers.instance(instanceId)), context);
    world.ec2.addAddress({ tags: ADDRESS_TAGS }); // one more: the first worker gets it, the others wait
    const [d, e, f] = [world.launch(), world.launch(), world.launch()];
    for (const worker of [d, e, f]) await ask("POST", "/bind", worker.instanceId);
    for (const worker of [d, e, f]) await ask("GET", "/self", worker.instanceId);
    for (const worker of [d, e]) await ask("POST", "/drain", worker.instanceId);
    await ask("POST", "/bind", d.instanceId); // draining: refused
    const hooked = world.gateway.calls.slice();
    const tables: Tables = { servers: world.settings.serversTable, claims: world.settings.claimsTable };
    const signatures = (calls: typeof binder) => [...new Set(calls.flatMap(call => observedSignatures(call, tables)))].sort();
    return { binder: signatures(binder), reconciler: signatures(reconciler), hook: signatures(hooked) };
}

describe("the permission audit's call catalog, against what the functions do", function () {
    this.timeout(60_000);
    let world: World;
    afterEach(async () => { await world?.close(); });

    for (const mode of ["per-address", "per-binding"] as DnsRecordsMode[]) {
        it(`lists every call the binder, the reconciler and the hook function were seen to make, ${mode}`, async () => {
            world = await World.create({ poolSize: 2, dnsRecords: mode });
            world.useEnvironment();
            const seen = await exercise(world);
            const facts = worldFacts(world, mode);
            const tables: Tables = { servers: facts.tables.servers, claims: facts.tables.claims };
            for (const role of ["binder", "reconciler", "hook"] as FunctionRole[]) {
                const listed = new Set(callsOf(facts, role).flatMap(call => call.authorize(facts, role)).map(request => catalogSignature(request, tables)));
                expect(seen[role].filter(signature => !listed.has(signature)), role).to.deep.equal([]);
            }
            expect(seen.binder).to.include.members(["ec2:AssociateAddress", "dynamodb:UpdateItem@servers", "dynamodb:Query@claims/index/waitlist", "dynamodb:PutItem@claims", "dynamodb:DeleteItem@claims", "sqs:ChangeMessageVisibility"]);
            expect(seen.binder).to.not.include("dynamodb:Scan@servers");
            // A drain signal is confirmed with EC2 first; nothing else reads Spot requests or instance status.
            expect(seen.binder).to.include.members(["ec2:DescribeSpotInstanceRequests", "ec2:DescribeInstanceStatus"]);
            expect(seen.reconciler.concat(seen.hook).filter(s => /Spot|InstanceStatus/.test(s))).to.deep.equal([]);
            expect(seen.reconciler).to.include.members(["dynamodb:Scan@servers", "dynamodb:Scan@claims", "ec2:AssociateAddress", "ec2:DisassociateAddress"]);
            expect(seen.hook).to.include.members(["ec2:DescribeInstances", "ec2:AssociateAddress", "dynamodb:GetItem@servers", "dynamodb:PutItem@claims", "dynamodb:DeleteItem@servers"]);
            expect(seen.hook).to.not.include.members(["ec2:DisassociateAddress"]);
            if (mode === "per-binding") expect(seen.binder).to.include.members(["route53:ChangeResourceRecordSets/UPSERT/A,TXT", "route53:ChangeResourceRecordSets/DELETE/A,TXT", "route53:GetChange"]);
            else expect(seen.binder.concat(seen.reconciler).filter(s => s.startsWith("route53:"))).to.deep.equal([]);
        });
    }
});
