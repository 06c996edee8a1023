// A customer managed key (kmsKeyArn), simulated: the binder may have SQS decrypt what its
// event source mapping receives (which queue it may read is ConsumeOwnEventQueue's to say),
// and no function may use the key any other way; the other calls each function makes are
// authorized as without the key. (The simulator does not evaluate kms:EncryptionContext
// keys, so the statement is not scoped by one: it could not be shown to hold.)
import { expect } from "chai";
import { FunctionRole } from "../../infra/policy";
import { audit, principalOf } from "../support/iam/audit";
import { FUNCTIONS, REGION, stackFacts, StackFacts } from "../support/iam/facts";
import { ACCOUNT, decide, Decision, PolicyDocument } from "../support/iam/simulate";

const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const OTHER_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0000abcd-12ab-34cd-56ef-1234567890ab`;
const VIA_SQS = { "kms:ViaService": `sqs.${REGION}.amazonaws.com` };
/** KMS's default key policy: the account's IAM policies decide who may use the key (docs/deploying.md asks for it, or a grant to the binder's role). */
const DEFAULT_KEY_POLICY: PolicyDocument = {
    Version: "2012-10-17",
    Statement: [{ Sid: "Enable IAM User Permissions", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "kms:*", Resource: "*" }],
};

interface KeyUse {
    what: string;
    role: FunctionRole;
    action: string;
    key: string;
    context: Record<string, string>;
    wanted: Decision;
}

/** Every use of a key a function might attempt, and what AWS must decide for it. */
function keyUses(): KeyUse[] {
    const uses: KeyUse[] = [
        { what: "SQS decrypting a message the mapping receives", role: "binder", action: "kms:Decrypt", key: KEY, context: VIA_SQS, wanted: "Allowed" },
        { what: "decrypting with the key directly", role: "binder", action: "kms:Decrypt", key: KEY, context: {}, wanted: "ImplicitlyDenied" },
        { what: "DynamoDB decrypting with the key", role: "binder", action: "kms:Decrypt", key: KEY, context: { "kms:ViaService": `dynamodb.${REGION}.amazonaws.com` }, wanted: "ImplicitlyDenied" },
        { what: "SNS decrypting with the key", role: "binder", action: "kms:Decrypt", key: KEY, context: { "kms:ViaService": `sns.${REGION}.amazonaws.com` }, wanted: "ImplicitlyDenied" },
        { what: "SQS decrypting with another key", role: "binder", action: "kms:Decrypt", key: OTHER_KEY, context: VIA_SQS, wanted: "ImplicitlyDenied" },
        ...["kms:GenerateDataKey", "kms:Encrypt", "kms:ReEncryptFrom"].map(action => (
            { what: "SQS encrypting with the key", role: "binder" as const, action, key: KEY, context: VIA_SQS, wanted: "ImplicitlyDenied" as const })),
        ...["kms:CreateGrant", "kms:DescribeKey"].map(action => (
            { what: "managing the key", role: "binder" as const, action, key: KEY, context: VIA_SQS, wanted: "ImplicitlyDenied" as const })),
    ];
    for (const role of FUNCTIONS.filter(role => role !== "binder")) {
        uses.push({ what: "SQS decrypting a message", role, action: "kms:Decrypt", key: KEY, context: VIA_SQS, wanted: "ImplicitlyDenied" });
    }
    return uses;
}

/** The uses AWS would decide otherwise than wanted under `policies`. */
async function wrongDecisions(policies: Record<FunctionRole, PolicyDocument>): Promise<string[]> {
    const wrong: string[] = [];
    for (const use of keyUses()) {
        const got = await decide(principalOf(use.role), { action: use.action, resource: use.key, context: use.context }, { identity: [policies[use.role]], resource: DEFAULT_KEY_POLICY });
        if (got !== use.wanted) wrong.push(`the ${use.role}, ${use.what} (${use.action} on ${use.key}): ${got}, expected ${use.wanted}`);
    }
    return wrong;
}

/** The binder's policy with its key statement changed by `change`. */
function withKeyStatement(facts: StackFacts, change: (statement: Record<string, any>) => Record<string, any>): Record<FunctionRole, PolicyDocument> {
    const statements = facts.policies.binder.Statement as Record<string, any>[];
    expect(statements.filter(s => s.Sid === "DecryptOwnEventQueue")).to.have.length(1);
    const binder = { ...facts.policies.binder, Statement: statements.map(s => (s.Sid === "DecryptOwnEventQueue" ? change(s) : s)) };
    return { ...facts.policies, binder };
}

describe("a customer managed key (kmsKeyArn), simulated", function () {
    this.timeout(120_000);
    let facts: StackFacts;
    before(async () => { facts = await stackFacts("dev", "per-address", { kmsKeyArn: KEY }); });

    it("lets SQS decrypt what the binder's mapping receives, and no function use the key any other way", async () => {
        expect(await wrongDecisions(facts.policies)).to.deep.equal([]);
    });

    for (const role of FUNCTIONS) {
        it(`still allows every call the ${role} makes, and denies those it must not`, async () => {
            expect((await audit(facts, role)).failures).to.deep.equal([]);
        });
    }

    const widened: [string, (statement: Record<string, any>) => Record<string, any>][] = [
        ["on every key", s => ({ ...s, Resource: ["*"] })],
        ["for every KMS action", s => ({ ...s, Action: ["kms:*"] })],
        ["for calls not through SQS", s => ({ Sid: s.Sid, Effect: s.Effect, Action: s.Action, Resource: s.Resource })],
    ];
    for (const [how, change] of widened) {
        it(`catches the binder's key statement widened ${how}`, async () => {
            expect(await wrongDecisions(withKeyStatement(facts, change))).to.not.deep.equal([]);
        });
    }
});
