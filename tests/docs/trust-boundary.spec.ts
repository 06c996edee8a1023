// The example service control policy in docs/deploying.md, in the IAM simulator: only
// Karpenter's controller role (its exact ARN) may set or remove the target tag, through EC2,
// Auto Scaling or Spot Fleet; only the deploy role the pool tags, at launch, at allocation or
// afterwards; only the functions and the deploy role move, release or transfer a pool
// address; nobody rewrites the exempt roles, and only the deploy role the functions'.
// Other tags stay free.
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
    // A function's role, under the stack's path.
    binder: `arn:aws:iam::${ACCOUNT}:role/eip-dns-binder/prod/binder-1a2b3c4`,
    // Roles an administrator could make with names like the exempt ones'.
    fakeKarpenter: `arn:aws:iam::${ACCOUNT}:role/KarpenterController-x`,
    fakeDeployer: `arn:aws:iam::${ACCOUNT}:role/eip-dns-binder-deploy-x`,
};
type Who = keyof typeof PRINCIPALS;

const instance = `arn:aws:ec2:us-west-2:${ACCOUNT}:instance/i-0123456789abcdef0`;
const address = `arn:aws:ec2:us-west-2:${ACCOUNT}:elastic-ip/eipalloc-0123456789abcdef0`;
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const group = `arn:aws:autoscaling:us-west-2:${ACCOUNT}:autoScalingGroup:0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0:autoScalingGroupName/nodes`;
const poolAddress = { "aws:ResourceTag/pool": "media" };
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
    ["tag an instance with a tag of its own", tagging("ec2:CreateTags", instance, { CostCenter: "42" }), ["admin", "karpenter", "deployer", "binder", "fakeKarpenter", "fakeDeployer"]],
    ["tag an address with a tag of its own", tagging("ec2:CreateTags", address, { Name: "bastion" }), ["admin", "karpenter", "deployer", "binder", "fakeKarpenter", "fakeDeployer"]],
    // Other services that put tags on instances they launch.
    ["make an Auto Scaling group that tags its instances as targets", tagging("autoscaling:CreateAutoScalingGroup", group, { "karpenter.sh/nodepool": "media" }), ["karpenter"]],
    ["tag an Auto Scaling group's instances as targets", tagging("autoscaling:CreateOrUpdateTags", group, { "karpenter.sh/nodepool": "media" }), ["karpenter"]],
    ["request a Spot Fleet that tags its instances as targets", tagging("ec2:RequestSpotFleet", `arn:aws:ec2:us-west-2:${ACCOUNT}:spot-fleet-request/*`, { "karpenter.sh/nodepool": "media" }), ["karpenter"]],
    // A pool address moved, released or given away needs no tag at all.
    ...["ec2:AssociateAddress", "ec2:DisassociateAddress", "ec2:ReleaseAddress", "ec2:EnableAddressTransfer", "ec2:DisableAddressTransfer"].map(action =>
        [`${action.slice(4)} a pool address`, { action, resource: address, context: poolAddress }, ["deployer", "binder"]] as [string, Authorization, Who[]]),
    ["associate an address outside the pool", { action: "ec2:AssociateAddress", resource: address, context: { "aws:ResourceTag/Name": "bastion" } }, ["admin", "karpenter", "deployer", "binder", "fakeKarpenter", "fakeDeployer"]],
    // The exempt roles, and the functions' path, written only where they are made.
    ...["iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRolePermissionsBoundary"].flatMap(action => [
        [`${action} on Karpenter's role`, { action, resource: role("KarpenterController-prod") }, []],
        [`${action} on the deploy role`, { action, resource: role("eip-dns-binder-deploy-prod") }, []],
        [`${action} on a role under the functions' path`, { action, resource: role("eip-dns-binder/prod/binder-9z8y7x6") }, ["deployer"]],
    ] as [string, Authorization, Who[]][]),
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

    it("fits in a service control policy (5,120 characters, whitespace not counted)", () => {
        expect(JSON.stringify(scp).length).to.be.below(5120);
    });

    it("lets only Karpenter set the target tag and only the deployer the pool tags, and leaves other tags free", async () => {
        expect(await violations(scp)).to.deep.equal([]);
    });

    it("fails those checks when a statement or one of its conditions is dropped", async () => {
        const statements = scp.Statement as any[];
        const broken: PolicyDocument[] = statements.flatMap((statement, i) => [
            { ...scp, Statement: statements.filter((_, j) => j !== i) },
            ...Object.keys(statement.Condition ?? {}).map(operator => {
                const { [operator]: _dropped, ...rest } = statement.Condition;
                return { ...scp, Statement: statements.map((s, j) => (j === i ? { ...s, Condition: rest } : s)) };
            }),
        ]);
        for (const policy of broken) expect(await violations(policy)).to.not.deep.equal([]);
    });
});
