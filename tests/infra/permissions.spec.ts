// Least privilege, evaluated: every call each function makes, as AWS authorizes it,
// against the policies the stack generates (dev and prod, both DNS modes), through
// an offline IAM simulator; and the calls they must never make, refused.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { DNS_RECORDS_MODES } from "../../binder/config";
import { audit, principalOf } from "../support/iam/audit";
import { PLATFORM_CALLS, SDK_CALLS } from "../support/iam/calls";
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

/**
 * Who may call the node hooks, by the hook function's resource policy alone (the node
 * role needs nothing in its own policy, within the account): the node role's instance
 * sessions through the function URL with AWS_IAM auth, and nobody else, nor anyone
 * directly. Returns what went otherwise.
 */
async function wrongInvokers(facts: StackFacts, policy: PolicyDocument = facts.hookPolicy): Promise<string[]> {
    const wrong: string[] = [];
    const role = facts.nodeRoleArns[0].split("/").pop();
    const worker = `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/i-0123456789abcdef0`;
    const url = (authType: string): Authorization => ({ action: "lambda:InvokeFunctionUrl", resource: facts.hookFunction, context: { "lambda:FunctionUrlAuthType": authType } });
    const invoke = (viaUrl?: string): Authorization => ({ action: "lambda:InvokeFunction", resource: facts.hookFunction, context: viaUrl === undefined ? {} : { "lambda:InvokedViaFunctionUrl": viaUrl } });
    const cases: [string, string, Authorization, string][] = [
        ["a worker calling the URL", worker, url("AWS_IAM"), "Allowed"],
        ["a worker invoking through the URL", worker, invoke("true"), "Allowed"],
        ["a worker calling a URL without IAM auth", worker, url("NONE"), "ImplicitlyDenied"],
        ["a worker invoking the function directly", worker, invoke("false"), "ImplicitlyDenied"],
        ["a worker invoking the function with no URL in the request", worker, invoke(), "ImplicitlyDenied"],
        ["another role of the account calling the URL", `arn:aws:sts::${ACCOUNT}:assumed-role/SomeOtherRole/i-0123456789abcdef0`, url("AWS_IAM"), "ImplicitlyDenied"],
        ["a role of the same name in another account", `arn:aws:sts::999999999999:assumed-role/${role}/i-0123456789abcdef0`, url("AWS_IAM"), "ImplicitlyDenied"],
        ["the binder calling the URL", principalOf("binder"), url("AWS_IAM"), "ImplicitlyDenied"],
    ];
    for (const [who, principal, request, wanted] of cases) {
        const got = await decide(principal, request, { resource: policy });
        if (got !== wanted) wrong.push(`${who}: ${got}, expected ${wanted}`);
    }
    return wrong;
}

describe("the node hooks' resource policy, simulated", function () {
    this.timeout(120_000);
    let facts: StackFacts;
    before(async () => { facts = await stackFacts("dev", "per-address"); });

    it("lets the node role's instances call the function URL with IAM auth and invoke the function only through it; nobody else", async () => {
        expect(facts.hookPolicy.Statement).to.have.length(2);
        expect(await wrongInvokers(facts)).to.deep.equal([]);
    });

    it("fails when a grant loses its condition: the function invoked directly, or a URL without IAM auth", async () => {
        const unconditioned = (action: string) => ({
            ...facts.hookPolicy,
            Statement: facts.hookPolicy.Statement.map(({ Condition, ...s }: any) => (s.Action === action ? s : { ...s, Condition })),
        });
        expect(await wrongInvokers(facts, unconditioned("lambda:InvokeFunction"))).to.deep.equal([
            "a worker invoking the function directly: Allowed, expected ImplicitlyDenied",
            "a worker invoking the function with no URL in the request: Allowed, expected ImplicitlyDenied",
        ]);
        expect(await wrongInvokers(facts, unconditioned("lambda:InvokeFunctionUrl"))).to.deep.equal([
            "a worker calling a URL without IAM auth: Allowed, expected ImplicitlyDenied",
        ]);
    });
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
