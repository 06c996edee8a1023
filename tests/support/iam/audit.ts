// Judges a function's policy the way AWS would: every call it makes must be
// allowed on every resource AWS checks, and every forbidden call refused on the
// resource that matters. Returns what went wrong, so a broken policy can be shown
// to fail the same checks.
import { FunctionRole } from "../../../infra/policy";
import { Call, PLATFORM_CALLS, SDK_CALLS } from "./calls";
import { StackFacts } from "./facts";
import { FORBIDDEN } from "./forbidden";
import { ACCOUNT, decide, PolicyDocument } from "./simulate";

export interface Audit {
    allowed: number;
    denied: number;
    failures: string[];
}

const applies = (call: Call, facts: StackFacts, role: FunctionRole) =>
    call.by.includes(role) && (call.modes === undefined || call.modes.includes(facts.mode));

/** The calls `role` makes in this stack's DNS mode. */
export function callsOf(facts: StackFacts, role: FunctionRole): Call[] {
    return [...Object.values(SDK_CALLS).flat(), ...PLATFORM_CALLS].filter(call => applies(call, facts, role));
}

/** The calls `role` must never be able to make in this stack. */
export function forbiddenFor(facts: StackFacts, role: FunctionRole): Call[] {
    return FORBIDDEN.filter(call => applies(call, facts, role) && (call.when?.(facts) ?? true));
}

export const principalOf = (role: FunctionRole) => `arn:aws:sts::${ACCOUNT}:assumed-role/${role}-role/${role}`;

/** Audits `policy` as `role`'s identity policy in the stack described by `facts` (its queue policies included). */
export async function audit(facts: StackFacts, role: FunctionRole, policy: PolicyDocument = facts.policies[role]): Promise<Audit> {
    const failures: string[] = [];
    const judge = async (call: Call) => Promise.all(call.authorize(facts, role).map(async request => ({
        request,
        decision: await decide(principalOf(role), request, { identity: [policy], resource: facts.queuePolicies[request.resource] }),
    })));
    const allowed = callsOf(facts, role);
    for (const call of allowed) {
        for (const { request, decision } of await judge(call)) {
            if (decision !== "Allowed") failures.push(`${role} cannot ${call.what}: ${request.action} on ${request.resource} is ${decision}`);
        }
    }
    let denied = 0;
    for (const call of forbiddenFor(facts, role)) {
        for (const { request, decision } of await judge(call)) {
            denied++;
            if (decision === "Allowed") failures.push(`${role} can ${call.what}: ${request.action} on ${request.resource} ${JSON.stringify(request.context ?? {})} is Allowed`);
        }
    }
    return { allowed: allowed.length, denied, failures };
}
