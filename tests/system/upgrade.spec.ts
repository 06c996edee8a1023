// Upgrading a stack made before pools: every resource it holds is kept, none replaced
// or deleted but the node hooks' grants (RETIRED); above all the pool addresses, which
// partners have whitelisted.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { DRAIN_REASONS } from "../../binder/events";
import { DeclaredResource, MockAccount, runStack, StackRun } from "../../tools/mock-stack";

const FIXTURES = path.join(__dirname, "..", "fixtures", "urns");
const recorded = (file: string): string[] => JSON.parse(fs.readFileSync(path.join(FIXTURES, `${file}.json`), "utf8"));

/** The options tests/fixtures/urns/dev-every-option.json was recorded with. */
const EVERY_OPTION = { alarmEmail: "oncall@example.com", nodeRoleArns: ["arn:aws:iam::123456789012:role/KarpenterNodeRole-media"], drainOn: [...DRAIN_REASONS] };
const BYOIP: MockAccount = { tagged: [{ allocationId: "eipalloc-0byoip000000000001", publicIp: "198.51.100.7", tags: { team: "live", pool: "media-dev" } }] };

/**
 * What an upgrade would lose: each URN of `before` that no resource of `resources`
 * declares, nor exactly one names as an alias. The engine would delete the first
 * kind and refuse, or pick arbitrarily for, the second.
 */
function lost(before: string[], resources: DeclaredResource[]): string[] {
    const declared = new Set(resources.map(r => r.urn));
    return before.filter(urn => {
        if (declared.has(urn)) return false;
        return resources.filter(r => r.aliases.includes(urn)).length !== 1;
    });
}

/**
 * What an upgrade gives up on purpose: the node hooks' grants, one per node role and
 * action, which one resource policy (with denials AddPermission cannot write) replaced.
 */
const RETIRED = /::aws:lambda\/permission:Permission::hook-(url|invoke)-/;
/** What an upgrade adds on purpose, beside the pool's component: the binder's and the hook's resource policies. */
const ADDED = ["eip-dns-binder:index:EipDnsBinder", "aws:lambda/resourcePolicy:ResourcePolicy"];

/** The resource that takes over `urn`: itself, or the one that names it as an alias. */
const keeper = (run: StackRun, urn: string) => run.resources.find(r => r.urn === urn || r.aliases.includes(urn))!;

const STACKS: [string, string, Record<string, unknown>, MockAccount?][] = [
    ["dev", "dev", {}],
    ["prod", "prod", {}],
    ["dev-every-option", "dev", EVERY_OPTION, BYOIP],
];

describe("upgrading a stack made before pools", function () {
    this.timeout(120_000);

    for (const [file, stack, overrides, account] of STACKS) {
        describe(`${file} (tests/fixtures/urns/${file}.json)`, () => {
            const urns = recorded(file).filter(urn => !RETIRED.test(urn));
            let run: StackRun;
            before(async () => { run = await runStack(stack, overrides, account); });

            it("keeps every resource: declared again or taken over by exactly one alias", () => {
                expect(urns.length).to.be.greaterThan(30);
                expect(lost(urns, run.resources)).to.deep.equal([]);
            });

            it("keeps each one as the same type, so the engine updates it in place", () => {
                for (const urn of urns) expect(keeper(run, urn).type, urn).to.equal(urn.split("::")[2].split("$").pop());
            });

            it("keeps each pool address as the default pool's, with its protection, and adds no other address", () => {
                const addresses = urns.filter(urn => urn.includes("::aws:ec2/eip:Eip::"));
                expect(addresses).to.have.length(stack === "prod" ? 40 : 4);
                for (const urn of addresses) {
                    const eip = keeper(run, urn);
                    expect(eip.name).to.equal(`default-${urn.split("::").pop()}`);
                    expect(eip.options).to.deep.equal({ protect: stack === "prod", retainOnDelete: stack === "prod" });
                }
                expect(run.ofType("aws:ec2/eip:Eip")).to.have.length(addresses.length);
            });

            it("declares nothing new but the pool's component and the functions' resource policies", () => {
                const kept = new Set(urns.map(urn => keeper(run, urn)));
                const added = run.resources.filter(r => !kept.has(r)).map(r => r.type);
                expect([...new Set(added)]).to.deep.equal(ADDED);
                expect(added).to.have.length(file === "dev-every-option" ? 3 : 2);
            });
        });
    }

    describe("the check", () => {
        let run: StackRun;
        before(async () => { run = await runStack("dev"); });

        it("finds a resource whose alias was removed", () => {
            const servers = run.resources.find(r => r.name === "default-servers")!;
            const without = run.resources.map(r => (r === servers ? { ...r, aliases: [] } : r));
            expect(lost(recorded("dev"), without)).to.deep.equal(["urn:pulumi:dev::eip-dns-binder::aws:dynamodb/table:Table::servers"]);
        });

        it("finds a URN that two resources name as an alias", () => {
            const address = run.resources.find(r => r.name === "default-pool-1")!;
            const twice = [...run.resources, { ...address, urn: `${address.urn}-copy` }];
            expect(lost(recorded("dev"), twice)).to.deep.equal(["urn:pulumi:dev::eip-dns-binder::aws:ec2/eip:Eip::pool-1"]);
        });
    });
});
