// Least privilege, evaluated: every call each function makes, as AWS authorizes it,
// against the policies the stack generates (dev and prod, both DNS modes), through
// an offline IAM simulator; and the calls they must never make, refused.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { DNS_RECORDS_MODES } from "../../binder/config";
import { audit, principalOf } from "../support/iam/audit";
import { PLATFORM_CALLS, recordChange, SDK_CALLS } from "../support/iam/calls";
import { FUNCTIONS, stackFacts, StackFacts } from "../support/iam/facts";
import { mutants } from "../support/iam/mutants";
import { ACCOUNT, Authorization, decide, PolicyDocument } from "../support/iam/simulate";

const BINDER = path.join(__dirname, "..", "..", "binder");

/** The SDK commands (and waiters) the binder sends: its AWS layer, binder/aws/, and anything else under binder/ that might. */
function commandsInUse(): Set<string> {
    const found = new Set<string>();
    for (const file of fs.readdirSync(BINDER, { recursive: true, encoding: "utf8" }).filter(name => name.endsWith(".ts"))) {
        const source = fs.readFileSync(path.join(BINDER, file), "utf8");
        for (const match of source.matchAll(/new (\w+Command)\(|\b(waitUntil\w+)\(/g)) found.add(match[1] ?? match[2]);
    }
    return found;
}

/**
 * Who may send to the event queue and the undelivered-events queue: EventBridge for each
 * rule that targets them, and nobody else (EventBridge for another rule or for none, an
 * administrator of the account, the binder). Returns what went otherwise.
 */
async function refusedSenders(facts: StackFacts): Promise<string[]> {
    const wrong: string[] = [];
    const admin: PolicyDocument = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "sqs:*", Resource: "*" }] };
    for (const queue of [facts.queues.events, facts.queues.undelivered]) {
        const send = (principal: string, context: Record<string, string>, identity: PolicyDocument[] = []) =>
            decide(principal, { action: "sqs:SendMessage", resource: queue, context }, { identity, resource: facts.queuePolicies[queue] });
        const check = async (who: string, decision: Promise<string>, wanted: string) => {
            const got = await decision;
            if (got !== wanted) wrong.push(`${who} sending to ${queue}: ${got}, expected ${wanted}`);
        };
        for (const rule of [facts.stateRule, ...facts.drainRules]) {
            await check(`EventBridge for ${rule}`, send("events.amazonaws.com", { "aws:SourceArn": rule }), "Allowed");
            await check(`EventBridge for ${rule}-other`, send("events.amazonaws.com", { "aws:SourceArn": `${rule}-other` }), "ExplicitlyDenied");
        }
        await check("EventBridge for the reconciler's schedule", send("events.amazonaws.com", { "aws:SourceArn": facts.scheduleRule }), "ExplicitlyDenied");
        await check("EventBridge for no rule", send("events.amazonaws.com", {}), "ExplicitlyDenied");
        await check("an administrator", send(`arn:aws:iam::${ACCOUNT}:role/admin`, {}, [admin]), "ExplicitlyDenied");
        await check("the binder", send(principalOf("binder"), {}, [admin, facts.policies.binder]), "ExplicitlyDenied");
        await check("the hook function", send(principalOf("hook"), {}, [facts.policies.hook]), "ExplicitlyDenied");
    }
    return wrong;
}

describe("permissions, simulated", function () {
    this.timeout(120_000);

    it("has an authorization case for every SDK command the code sends, and none for a command it does not", () => {
        const used = [...commandsInUse()].sort();
        expect(used).to.include.members(["AssociateAddressCommand", "TransactWriteItemsCommand", "waitUntilResourceRecordSetsChanged"]);
        expect(Object.keys(SDK_CALLS).sort()).to.deep.equal(used);
        expect(PLATFORM_CALLS.map(call => call.what)).to.have.length(2);
    });

    for (const stack of ["dev", "prod"]) {
        for (const mode of DNS_RECORDS_MODES) {
            describe(`${stack} (Pulumi.${stack}.yaml), ${mode}`, () => {
                let facts: StackFacts;
                before(async () => { facts = await stackFacts(stack, mode); });

                for (const role of FUNCTIONS) {
                    it(`allows every call the ${role} makes and denies at least 20 it must not`, async () => {
                        const result = await audit(facts, role);
                        expect(result.failures).to.deep.equal([]);
                        expect(result.allowed).to.be.at.least(15);
                        expect(result.denied).to.be.at.least(20);
                    });
                }

                it("lets only the state-change rule and the drain rules send to the event queue and the undelivered-events queue", async () => {
                    expect(facts.drainRules).to.have.length(2);
                    expect(await refusedSenders(facts)).to.deep.equal([]);
                });
            });
        }
    }
});

/** An identity policy as broad as AWSLambda_FullAccess's Lambda statement: every Lambda action on every function. */
const LAMBDA_FULL_ACCESS: PolicyDocument = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "lambda:*", Resource: "*" }] };
/** An instance of the node role's, in the account: EC2 put its ARN into the credentials it issued. */
const INSTANCE = `arn:aws:ec2:us-west-2:${ACCOUNT}:instance/i-0123456789abcdef0`;

/**
 * Who may call the node hooks: the node role's instance sessions through the function
 * URL with AWS_IAM auth (by the resource policy alone: the node role needs nothing in its
 * own policy, within the account), and nobody else, nor anyone directly, whatever their
 * identity policies allow. Returns what went otherwise.
 */
async function wrongInvokers(facts: StackFacts, policy: PolicyDocument = facts.hookPolicy): Promise<string[]> {
    const wrong: string[] = [];
    const roleArn = facts.nodeRoleArns[0];
    const role = roleArn.split("/").pop();
    const session = (name: string) => `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${name}`;
    // What each caller's credentials put into the request: the role behind a session, and EC2's instance when EC2 issued them.
    const ec2Issued = { "aws:PrincipalArn": roleArn, "ec2:SourceInstanceARN": INSTANCE };
    const assumed = { "aws:PrincipalArn": roleArn };
    const admin = { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:role/Administrator` };
    const url = (authType: string, who: Record<string, string>): Authorization =>
        ({ action: "lambda:InvokeFunctionUrl", resource: facts.hookFunction, context: { "lambda:FunctionUrlAuthType": authType, ...who } });
    const invoke = (viaUrl: string | undefined, who: Record<string, string>, action = "lambda:InvokeFunction"): Authorization =>
        ({ action, resource: facts.hookFunction, context: { ...(viaUrl !== undefined && { "lambda:InvokedViaFunctionUrl": viaUrl }), ...who } });
    const cases: [string, string, Authorization, string, PolicyDocument[]?][] = [
        ["a worker calling the URL", session("i-0123456789abcdef0"), url("AWS_IAM", ec2Issued), "Allowed"],
        ["a worker invoking through the URL", session("i-0123456789abcdef0"), invoke("true", ec2Issued), "Allowed"],
        ["a worker calling a URL without IAM auth", session("i-0123456789abcdef0"), url("NONE", ec2Issued), "ImplicitlyDenied"],
        ["a worker invoking the function directly", session("i-0123456789abcdef0"), invoke("false", ec2Issued), "ExplicitlyDenied"],
        ["a worker invoking the function with no URL in the request", session("i-0123456789abcdef0"), invoke(undefined, ec2Issued), "ExplicitlyDenied"],
        ["another role of the account calling the URL", `arn:aws:sts::${ACCOUNT}:assumed-role/SomeOtherRole/i-0123456789abcdef0`,
            url("AWS_IAM", { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:role/SomeOtherRole`, "ec2:SourceInstanceARN": INSTANCE }), "ExplicitlyDenied"],
        ["a role of the same name in another account", `arn:aws:sts::999999999999:assumed-role/${role}/i-0123456789abcdef0`,
            url("AWS_IAM", { "aws:PrincipalArn": `arn:aws:iam::999999999999:role/${role}`, "ec2:SourceInstanceARN": INSTANCE }), "ExplicitlyDenied"],
        ["the binder calling the URL", principalOf("binder"), url("AWS_IAM", { "aws:PrincipalArn": principalOf("binder") }), "ExplicitlyDenied"],
        // A session of the node role that EC2 did not issue: its maker chose the name.
        ["a node role session not issued by EC2 calling the URL", session("i-0fedcba9876543210"), url("AWS_IAM", assumed), "ExplicitlyDenied"],
        ["a node role session not issued by EC2 invoking through the URL", session("i-0fedcba9876543210"), invoke("true", assumed), "ExplicitlyDenied"],
        // An administrator whose identity policy allows every Lambda action: the payload would be theirs to write.
        ["an administrator with lambda:* invoking the function directly", admin["aws:PrincipalArn"], invoke(undefined, admin), "ExplicitlyDenied", [LAMBDA_FULL_ACCESS]],
        ["an administrator with lambda:* invoking it asynchronously", admin["aws:PrincipalArn"], invoke(undefined, admin, "lambda:InvokeAsync"), "ExplicitlyDenied", [LAMBDA_FULL_ACCESS]],
        ["an administrator with lambda:* calling the URL", admin["aws:PrincipalArn"], url("AWS_IAM", admin), "ExplicitlyDenied", [LAMBDA_FULL_ACCESS]],
        ["an administrator with lambda:* invoking through the URL", admin["aws:PrincipalArn"], invoke("true", admin), "ExplicitlyDenied", [LAMBDA_FULL_ACCESS]],
    ];
    for (const [who, principal, request, wanted, identity] of cases) {
        const got = await decide(principal, request, { resource: policy, identity });
        if (got !== wanted) wrong.push(`${who}: ${got}, expected ${wanted}`);
    }
    return wrong;
}

/**
 * Who may invoke the binder: nobody but its event source mapping, which Lambda runs
 * itself (an AWS service, needing no grant), whatever an identity policy allows.
 */
async function wrongBinderInvokers(facts: StackFacts, policy: PolicyDocument = facts.binderInvokePolicy): Promise<string[]> {
    const wrong: string[] = [];
    const admin = `arn:aws:iam::${ACCOUNT}:role/Administrator`;
    const invoke = (principal: string, action = "lambda:InvokeFunction"): Authorization =>
        ({ action, resource: facts.binderFunction, context: { "aws:PrincipalArn": principal, "aws:PrincipalIsAWSService": "false" } });
    const cases: [string, string, Authorization, string[], PolicyDocument[]][] = [
        ["an administrator with lambda:* invoking the binder", admin, invoke(admin), ["ExplicitlyDenied"], [LAMBDA_FULL_ACCESS]],
        ["an administrator with lambda:* invoking it asynchronously", admin, invoke(admin, "lambda:InvokeAsync"), ["ExplicitlyDenied"], [LAMBDA_FULL_ACCESS]],
        ["the hook function's role with lambda:* invoking the binder", principalOf("hook"), invoke(principalOf("hook")), ["ExplicitlyDenied"], [facts.policies.hook, LAMBDA_FULL_ACCESS]],
        // Lambda's poller: it reads the queue with the binder's role and invokes as the service; only an explicit denial would stop it.
        ["the event source mapping invoking the binder", "lambda.amazonaws.com",
            { action: "lambda:InvokeFunction", resource: facts.binderFunction, context: { "aws:PrincipalIsAWSService": "true" } }, ["Allowed", "ImplicitlyDenied"], []],
    ];
    for (const [who, principal, request, wanted, identity] of cases) {
        const got = await decide(principal, request, { resource: policy, identity });
        if (!wanted.includes(got)) wrong.push(`${who}: ${got}, expected ${wanted.join(" or ")}`);
    }
    return wrong;
}

describe("the functions' resource policies, simulated", function () {
    this.timeout(120_000);
    let facts: StackFacts;
    before(async () => { facts = await stackFacts("dev", "per-address"); });

    it("let the node role's EC2-issued sessions call the function URL with IAM auth and invoke the hook only through it; nobody else", async () => {
        expect(await wrongInvokers(facts)).to.deep.equal([]);
    });

    it("let nobody invoke the binder directly, and leave its event source mapping and its reads of the queue alone", async () => {
        expect(await wrongBinderInvokers(facts)).to.deep.equal([]);
        for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]) {
            expect(await decide(principalOf("binder"), { action, resource: facts.queues.events }, { identity: [facts.policies.binder] }), action).to.equal("Allowed");
        }
    });

    // An allowing statement's condition is backed by a denial, so only denials are widened.
    it("fail when a statement is dropped or a denial loses its condition", async () => {
        for (const [check, policy] of [[wrongInvokers, facts.hookPolicy], [wrongBinderInvokers, facts.binderInvokePolicy]] as const) {
            for (const [i, statement] of (policy.Statement as any[]).entries()) {
                const dropped = { ...policy, Statement: policy.Statement.filter((_, j) => j !== i) };
                expect(await check(facts, dropped), `without ${statement.Sid}`).to.not.deep.equal([]);
                if (statement.Effect !== "Deny") continue;
                const { Condition: _condition, ...unconditioned } = statement;
                const widened = { ...policy, Statement: policy.Statement.map((s, j) => (j === i ? unconditioned : s)) };
                expect(await check(facts, widened), `${statement.Sid} without its condition`).to.not.deep.equal([]);
            }
        }
    });
});

describe("the per-binding names the functions may write, simulated", function () {
    this.timeout(120_000);

    // Names in the zone that the template can never yield for prod (suffix live.example.com).
    const FOREIGN = ["my-cool-web-app.live.example.com", "www.shop-eu-west-1.live.example.com", "a-b-c-d.e.live.example.com",
        "10-0-0-1.dev.live.example.com", "192-0-2-1.dev.live.example.com", "1-2-3-4.live.example.com.attacker.live.example.com"];

    for (const [dnsName, own] of [
        ["{ip-dashed}.{suffix}", ["192-0-2-1.live.example.com", "10-100-200-255.live.example.com", "1-1-1-1.live.example.com"]],
        ["{ip}.{suffix}", ["192.0.2.1.live.example.com", "10.100.200.255.live.example.com"]],
        ["{instance-id}.{suffix}", ["i-0123456789abcdef0.live.example.com", "i-01234567.live.example.com"]],
        ["{ip-dashed}-{instance-id}.{suffix}", ["192-0-2-1-i-0123456789abcdef0.live.example.com"]],
    ] as const) {
        it(`lets prod with dnsName ${dnsName} write its own names and none of the zone's others, nor dev's`, async () => {
            const facts = await stackFacts("prod", "per-binding", { dnsName });
            const wrong: string[] = [];
            for (const role of FUNCTIONS) {
                for (const name of [...own, ...FOREIGN]) {
                    const wanted = (own as readonly string[]).includes(name) ? "Allowed" : "ImplicitlyDenied";
                    const got = await decide(principalOf(role), recordChange(facts.zoneId, "UPSERT", ["A", "TXT"], [name]), { identity: [facts.policies[role]] });
                    if (got !== wanted) wrong.push(`${role} writing ${name}: ${got}`);
                }
            }
            expect(wrong).to.deep.equal([]);
            expect(JSON.stringify(facts.policies.binder).replace(/\s/g, "").length, "a role's inline policies may hold 10,240 characters").to.be.below(10_240);
        });
    }
});

describe("permissions, simulated, for every choice of drain signals", function () {
    this.timeout(120_000);

    for (const drainOn of [[], ["spot-interruption", "rebalance-recommendation", "scheduled-change"]]) {
        it(`lets exactly the rules send with drainOn ${JSON.stringify(drainOn)}`, async () => {
            const facts = await stackFacts("dev", "per-address", { drainOn });
            expect(facts.drainRules).to.have.length(drainOn.length);
            expect(await refusedSenders(facts)).to.deep.equal([]);
        });
    }
});

describe("permissions, simulated, catch a broken policy", function () {
    this.timeout(300_000);
    let facts: StackFacts;
    before(async () => { facts = await stackFacts("dev", "per-binding"); });

    for (const role of FUNCTIONS) {
        it(`fails the ${role}'s audit for every statement widened to * and every condition dropped`, async () => {
            const made = mutants(facts.policies[role]);
            expect(made.length).to.be.at.least(20);
            const uncaught: string[] = [];
            for (const mutant of made) {
                if ((await audit(facts, role, mutant.policy)).failures.length === 0) uncaught.push(mutant.change);
            }
            expect(uncaught).to.deep.equal([]);
        });
    }

    it("fails when the event queue's policy stops refusing other senders", async () => {
        const policy = facts.queuePolicies[facts.queues.events];
        const allowOnly = { ...policy, Statement: policy.Statement.filter((s: any) => s.Effect === "Allow") };
        const broken = { ...facts, queuePolicies: { ...facts.queuePolicies, [facts.queues.events]: allowOnly } };
        const admin: PolicyDocument = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "sqs:SendMessage", Resource: "*" }] };
        expect((await audit(broken, "binder", { ...facts.policies.binder, Statement: [...facts.policies.binder.Statement, ...admin.Statement] })).failures)
            .to.deep.include(`binder can send to the event queue: sqs:SendMessage on ${facts.queues.events} {} is Allowed`);
    });
});
