// Several pools in one stack: the `pools` map beside the top-level keys, each pool a
// component of its own, and no two pools that could share an instance or an address.
import { expect } from "chai";
import fc from "fast-check";
import { couldMatchBoth, parsePools, Pool } from "../../infra/pools";
import { runStack, StackRun } from "../../tools/mock-stack";
import { configProblems, stackLookup } from "../support/config";

const EDGE = {
    instanceTags: { "team": "live", "karpenter.sh/nodepool": "edge-dev" },
    addressTags: { team: "live", pool: "edge-dev" },
    poolSize: 2,
    suffix: "edge.dev.live.example.com",
};

/** The dev stack's pools with `overrides` on its config. */
const pools = (overrides: Record<string, unknown>): Pool[] => parsePools(stackLookup("dev", overrides));
const problems = (overrides: Record<string, unknown>) => configProblems(() => pools(overrides));

describe("pools", function () {
    this.timeout(120_000);

    describe("in config", () => {
        it("makes one pool, the top-level one, from a stack file without pools", () => {
            expect(pools({}).map(pool => pool.name)).to.deep.equal(["default"]);
        });

        it("adds each named pool to the top-level one, which keeps its settings", () => {
            const [top, edge] = pools({ pools: { edge: EDGE } });
            expect([top.name, edge.name]).to.deep.equal(["default", "edge"]);
            expect(top.settings).to.deep.equal(pools({})[0].settings);
            expect(edge.settings).to.deep.include({ ...EDGE, hostedZone: "live.example.com", vpcIds: ["vpc-0123456789abcdef0"], addressQuota: 10, dnsTtl: 60 });
        });

        it("takes every key a pool leaves out from the top level, except its tags and size", () => {
            const [, edge] = pools({ dnsTtl: 120, alarmEmail: "oncall@example.com", pools: { edge: { ...EDGE, poolSize: undefined, dnsTtl: 30 } } });
            expect(edge.settings).to.deep.include({ dnsTtl: 30, alarmEmail: "oncall@example.com", poolSize: 0 });
            expect(problems({ pools: { edge: { addressTags: EDGE.addressTags } } })).to.deep.equal([
                "eip-dns-binder:pools.edge.instanceTags must be a non-empty map of tag names to values: an empty map would match every instance in the account",
            ]);
        });

        it("takes kmsKeyArn per pool or from the top level, and names a pool's bad one by its place", () => {
            const key = (id: string) => `arn:aws:kms:us-west-2:123456789012:key/${id}-12ab-34cd-56ef-1234567890ab`;
            const [top, edge] = pools({ kmsKeyArn: key("1234abcd"), pools: { edge: { ...EDGE, kmsKeyArn: key("5678abcd") } } });
            expect([top.settings.kmsKeyArn, edge.settings.kmsKeyArn]).to.deep.equal([key("1234abcd"), key("5678abcd")]);
            expect(pools({ kmsKeyArn: key("1234abcd"), pools: { edge: EDGE } })[1].settings.kmsKeyArn).to.equal(key("1234abcd"));
            expect(problems({ pools: { edge: { ...EDGE, kmsKeyArn: "alias/binder" } } })).to.deep.equal([
                `eip-dns-binder:pools.edge.kmsKeyArn must be a KMS key ARN such as '${key("1234abcd")}' (not a key id or an alias), not 'alias/binder'`,
            ]);
        });

        it("makes only the named pools when the top level sets no instanceTags", () => {
            const only = pools({ instanceTags: undefined, addressTags: undefined, poolSize: undefined, pools: { edge: EDGE } });
            expect(only.map(pool => pool.name)).to.deep.equal(["edge"]);
        });

        it("names a named pool's bad keys by their place in the map, and every problem at once", () => {
            expect(problems({ pools: { edge: { ...EDGE, poolSize: -1, dnsTTL: 5 }, Bad_Name: EDGE, default: EDGE, solo: "x" } })).to.deep.equal([
                "eip-dns-binder:pools.edge.dnsTTL is not a setting; a pool takes instanceTags, addressTags, poolSize, hostedZone, suffix, dnsName, dnsTtl, dnsRecords, "
                + "protectAddresses, deletionProtection, reconcileSchedule, minFreeAddresses, binderConcurrency, hookConcurrency, alarmEmail, vpcIds, addressQuota, drainOn, nodeRoleArns, kmsKeyArn",
                "eip-dns-binder:pools.edge.poolSize must be a whole number from 0 to 1000, not '-1'",
                "eip-dns-binder:pools has a pool named 'Bad_Name': a name is 1-24 lower-case letters, digits and dashes, starting with a letter, and not 'default' (the top-level pool's)",
                "eip-dns-binder:pools has a pool named 'default': a name is 1-24 lower-case letters, digits and dashes, starting with a letter, and not 'default' (the top-level pool's)",
                "eip-dns-binder:pools.solo must be a map of settings, not 'x'",
            ]);
            expect(problems({ pools: "edge" })).to.deep.equal([
                `eip-dns-binder:pools must be a map of pool names to their settings, such as {"edge": {"instanceTags": {...}, "addressTags": {...}}}, not 'edge'`,
            ]);
        });

        it("reports a bad top-level key once, though a named pool takes it over", () => {
            expect(problems({ dnsTtl: 0, pools: { edge: EDGE } })).to.deep.equal(["eip-dns-binder:dnsTtl must be a whole number from 1 to 86400, not '0'"]);
        });

        it("refuses two pools that could bind one instance, naming both", () => {
            // No tag with two values: an instance tagged team=live and karpenter.sh/nodepool=media-dev matches both.
            expect(problems({ pools: { edge: { ...EDGE, instanceTags: { team: "live" } } } })).to.deep.equal([
                `pools 'default' and 'edge' could both bind one instance: eip-dns-binder:instanceTags {"team":"live","karpenter.sh/nodepool":"media-dev"} and `
                + `eip-dns-binder:pools.edge.instanceTags {"team":"live"} give no tag two different values (give them one, such as karpenter.sh/nodepool)`,
            ]);
        });

        it("refuses two pools that could take one address, naming both", () => {
            expect(problems({ pools: { edge: EDGE, east: { ...EDGE, instanceTags: { "karpenter.sh/nodepool": "east" }, addressTags: { region: "east" } } } })).to.deep.equal([
                `pools 'default' and 'east' could both take one address: eip-dns-binder:addressTags {"team":"live","pool":"media-dev"} and `
                + `eip-dns-binder:pools.east.addressTags {"region":"east"} give no tag two different values (give them one, such as pool)`,
                `pools 'edge' and 'east' could both take one address: eip-dns-binder:pools.edge.addressTags {"team":"live","pool":"edge-dev"} and `
                + `eip-dns-binder:pools.east.addressTags {"region":"east"} give no tag two different values (give them one, such as pool)`,
            ]);
        });

        it("judges an overlap as EC2 would match tags: some resource carries both sets exactly when no tag differs", () => {
            const tags = fc.dictionary(fc.constantFrom("team", "pool", "karpenter.sh/nodepool", "zone"), fc.constantFrom("a", "b"), { minKeys: 1 });
            const carries = (resource: Record<string, string>, wanted: Record<string, string>) => Object.entries(wanted).every(([k, v]) => resource[k] === v);
            fc.assert(fc.property(tags, tags, (a, b) => {
                // The one resource that could carry both is the union; a differing tag rules out every resource.
                const union = { ...a, ...b };
                expect(couldMatchBoth(a, b)).to.equal(carries(union, a) && carries(union, b));
                expect(couldMatchBoth(a, b)).to.equal(couldMatchBoth(b, a));
            }));
        });
    });

    describe("a stack with two pools", () => {
        let run: StackRun;
        before(async () => { run = await runStack("dev", { pools: { edge: EDGE } }); });

        it("declares each pool's resources under its own component, alike but for the addresses", () => {
            const components = run.ofType("eip-dns-binder:index:EipDnsBinder").map(r => r.name);
            expect(components).to.deep.equal(["default", "edge"]);
            const count = (view: StackRun) => {
                const counts: Record<string, number> = {};
                for (const r of view.resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
                return counts;
            };
            const [top, edge] = [count(run.pool("default")), count(run.pool("edge"))];
            expect(top["aws:ec2/eip:Eip"]).to.equal(4);
            expect(edge["aws:ec2/eip:Eip"]).to.equal(2);
            expect(edge["aws:route53/record:Record"]).to.equal(2);
            expect({ ...edge, "aws:ec2/eip:Eip": 4, "aws:route53/record:Record": 4 }).to.deep.equal(top);
            // Every resource belongs to one pool.
            expect(run.pool("default").resources.length + run.pool("edge").resources.length).to.equal(run.resources.length - 2);
        });

        it("tags the named pool's addresses with its own name, so neither binder takes the other's", () => {
            for (const [i, eip] of run.pool("edge").ofType("aws:ec2/eip:Eip").entries()) {
                expect(eip.inputs.tags).to.deep.equal({
                    "team": "live", "pool": "edge-dev", "Name": `eip-dns-binder-dev-edge-${i}`,
                    "eip-dns-binder:stack": "dev/edge", "eip-dns-binder:owner": "dev/edge/pool=edge-dev,team=live",
                });
            }
            expect(run.pool("default").ofType("aws:ec2/eip:Eip")[0].inputs.tags["eip-dns-binder:owner"]).to.equal("dev/pool=media-dev,team=live");
        });

        it("scopes the named pool's functions, metrics and alarms to it", () => {
            const edge = run.pool("edge");
            const binder = edge.ofType("aws:lambda/function:Function").find(f => f.name === "binder")!.inputs;
            expect(binder.environment.variables).to.deep.include({
                BINDER_STACK: "dev/edge", BINDER_INSTANCE_TAGS: JSON.stringify(EDGE.instanceTags), BINDER_ADDRESS_TAGS: JSON.stringify(EDGE.addressTags),
                BINDER_DNS_SUFFIX: "edge.dev.live.example.com",
            });
            const policy = JSON.parse(edge.ofType("aws:iam/rolePolicy:RolePolicy").find(p => p.name === "binder")!.inputs.policy);
            const move = policy.Statement.find((s: { Sid: string }) => s.Sid === "MovePoolAddressesOnly");
            expect(move.Condition).to.deep.equal({ StringEquals: { "aws:ResourceTag/team": "live", "aws:ResourceTag/pool": "edge-dev" } });
            const tables = policy.Statement.find((s: { Sid: string }) => s.Sid === "ServerRows").Resource[0];
            expect(tables).to.match(/table\/edge-servers-\d+$/);
            const alarm = edge.ofType("aws:cloudwatch/metricAlarm:MetricAlarm").find(a => a.name === "free-addresses")!.inputs;
            expect(alarm.dimensions).to.deep.equal({ Stack: "dev/edge" });
        });

        it("exports each pool's outputs under pools, and the top-level pool's where they always were", () => {
            const { pools: byPool, ...top } = run.outputs;
            expect(Object.keys(byPool)).to.deep.equal(["default", "edge"]);
            expect(byPool.default).to.deep.equal(top);
            expect(Object.keys(byPool.edge.pool)).to.have.length(2);
            expect(Object.values<string>(byPool.edge.pool).every(name => name.endsWith(".edge.dev.live.example.com"))).to.equal(true);
            expect(byPool.edge.serversTable).to.match(/^edge-servers-/);
            expect(byPool.edge.binderSettings.BINDER_STACK).to.equal("dev/edge");
        });
    });

    it("fails the preview naming both pools when they overlap", async () => {
        let failure: unknown;
        await runStack("dev", { pools: { edge: { ...EDGE, addressTags: { team: "live" } } } }).catch(err => { failure = err; });
        expect(String(failure)).to.match(/pools 'default' and 'edge' could both take one address: eip-dns-binder:addressTags .* and eip-dns-binder:pools\.edge\.addressTags/);
    });

    it("exports only the named pools' outputs when the top level makes no pool", async () => {
        const run = await runStack("dev", { instanceTags: undefined, addressTags: undefined, poolSize: undefined, pools: { edge: EDGE } });
        expect(Object.keys(run.outputs)).to.deep.equal(["pools"]);
        expect(run.ofType("eip-dns-binder:index:EipDnsBinder").map(r => r.name)).to.deep.equal(["edge"]);
    });
});
