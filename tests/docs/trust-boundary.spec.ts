// The example service control policy in docs/deploying.md, in the IAM simulator: only
// Karpenter's controller role may set or remove the target tag, only the deploy role the
// pool tags, at launch, at allocation or afterwards; other tags stay free.
import { expect } from "chai";
import * as path from "path";
import { parseSettings } from "../../binder/config";
import { OWNER_TAG, STACK_TAG } from "../../binder/schema";
import { stackLookup } from "../support/config";
import { jsonBlockAfter } from "../support/iam/markdown";
import { Authorization, decide, Decision, PolicyDocument } from "../support/iam/simulate";

const DOC = path.join(__dirname, "..", "..", "docs", "deploying.md");
const ACCOUNT = "111122223333";
const ALL: PolicyDocument = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] };
const PRINCIPALS = {
    admin: `arn:aws:iam::${ACCOUNT}:role/Administrator`,
    karpenter: `arn:aws:iam::${ACCOUNT}:role/KarpenterController-prod`,
    deployer: `arn:aws:iam::${ACCOUNT}:role/eip-dns-binder-deploy-prod`,
};
type Who = keyof typeof PRINCIPALS;

const instance = `arn:aws:ec2:us-west-2:${ACCOUNT}:instance/i-0123456789abcdef0`;
const address = `arn:aws:ec2:us-west-2:${ACCOUNT}:elastic-ip/eipalloc-0123456789abcdef0`;
const tagging = (action: string, resource: string, tags: Record<string, string>, extra: Record<string, string> = {}): Authorization => ({
    action,
    resource,
    context: { "aws:TagKeys": Object.keys(tags), ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])), ...extra },
});

/** Each request, and who may make it (everyone else must be refused). */
const CASES: [string, Authorization, Who[]][] = [
    ["tag an instance as a target", tagging("ec2:CreateTags", instance, { "karpenter.sh/nodepool": "media" }), ["karpenter"]],
    ["untag a target instance", tagging("ec2:DeleteTags", instance, { "karpenter.sh/nodepool": "media" }), ["karpenter"]],
    ["launch an instance with the target tag", tagging("ec2:RunInstances", instance, { "team": "live", "karpenter.sh/nodepool": "media" }), ["karpenter"]],
    ["tag an instance at launch", tagging("ec2:CreateTags", instance, { "karpenter.sh/nodepool": "media" }, { "ec2:CreateAction": "RunInstances" }), ["karpenter"]],
    ["tag an address into the pool", tagging("ec2:CreateTags", address, { pool: "media" }), ["deployer"]],
    ["claim an address for a stack", tagging("ec2:CreateTags", address, { [OWNER_TAG]: "prod/pool=media,team=live" }), ["deployer"]],
    ["take an address out of the pool", tagging("ec2:DeleteTags", address, { pool: "media" }), ["deployer"]],
    ["allocate an address into the pool", tagging("ec2:AllocateAddress", address, { "pool": "media", [STACK_TAG]: "prod" }), ["deployer"]],
    ["tag an address at allocation", tagging("ec2:CreateTags", address, { pool: "media" }, { "ec2:CreateAction": "AllocateAddress" }), ["deployer"]],
    ["tag an instance with a tag of its own", tagging("ec2:CreateTags", instance, { CostCenter: "42" }), ["admin", "karpenter", "deployer"]],
    ["tag an address with a tag of its own", tagging("ec2:CreateTags", address, { Name: "bastion" }), ["admin", "karpenter", "deployer"]],
];

async function violations(scp: PolicyDocument): Promise<string[]> {
    const found: string[] = [];
    for (const [what, request, allowed] of CASES) {
        for (const who of Object.keys(PRINCIPALS) as Who[]) {
            const principal = PRINCIPALS[who];
            const expected: Decision[] = allowed.includes(who) ? ["Allowed"] : ["ExplicitlyDenied"];
            const decision = await decide(principal, { ...request, context: { ...request.context, "aws:PrincipalArn": principal } }, { identity: [ALL], scps: [ALL, scp] });
            if (!expected.includes(decision)) found.push(`${who} may ${what}: ${decision}`);
        }
    }
    return found;
}

describe("the trust boundary's example service control policy", function () {
    this.timeout(60_000);
    const scp: PolicyDocument = jsonBlockAfter(DOC, "## Trust boundary: who may set the tags");

    it("guards a tag key of each stack file's instanceTags and addressTags, and the owner and stack tags", () => {
        const [targets, pool] = scp.Statement as any[];
        for (const stack of ["dev", "prod"]) {
            const settings = parseSettings(stackLookup(stack));
            expect(Object.keys(settings.instanceTags), stack).to.include.members(targets.Condition["ForAnyValue:StringEquals"]["aws:TagKeys"]);
            expect([...Object.keys(settings.addressTags), OWNER_TAG, STACK_TAG], stack).to.include.members(pool.Condition["ForAnyValue:StringEquals"]["aws:TagKeys"]);
        }
    });

    it("lets only Karpenter set the target tag and only the deployer the pool tags, and leaves other tags free", async () => {
        expect(await violations(scp)).to.deep.equal([]);
    });

    it("fails those checks when a statement or one of its conditions is dropped", async () => {
        const statements = scp.Statement as any[];
        const broken: PolicyDocument[] = statements.flatMap((statement, i) => [
            { ...scp, Statement: statements.filter((_, j) => j !== i) },
            ...Object.keys(statement.Condition).map(operator => {
                const { [operator]: _dropped, ...rest } = statement.Condition;
                return { ...scp, Statement: statements.map((s, j) => (j === i ? { ...s, Condition: rest } : s)) };
            }),
        ]);
        for (const policy of broken) expect(await violations(policy)).to.not.deep.equal([]);
    });
});
