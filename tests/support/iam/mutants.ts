// Broken fixtures, made from a generated policy one change at a time: a statement's
// resources widened to `*`, its actions widened to the whole service, or one of its
// condition keys dropped. The audit must catch every one that grants more.
import { PolicyDocument } from "./simulate";

interface Statement {
    Sid: string;
    Action: string[];
    Resource: string[];
    Condition?: Record<string, Record<string, unknown>>;
}

export interface Mutant {
    change: string;
    policy: PolicyDocument;
}

/**
 * Mutants that grant nothing more, so no check can catch them: GetChange is
 * Route53's only action on a change and a change its only resource, and ec2:Vpc
 * exists only on network interfaces among the resources AssociateAddress and
 * DisassociateAddress take.
 */
export const EQUIVALENT = new Set([
    "WaitForChanges: Resource widened to *",
    "WaitForChanges: Action widened to route53:*",
    "AttachToClusterInterfacesOnly: Resource widened to *",
]);

export function mutants(policy: PolicyDocument): Mutant[] {
    const statements = policy.Statement as Statement[];
    const found: Mutant[] = [];
    const replace = (index: number, change: string, statement: Statement) => found.push({
        change: `${statements[index].Sid}: ${change}`,
        policy: { ...policy, Statement: statements.map((s, i) => (i === index ? statement : s)) },
    });
    statements.forEach((statement, i) => {
        if (!statement.Resource.includes("*")) replace(i, "Resource widened to *", { ...statement, Resource: ["*"] });
        for (const service of new Set(statement.Action.map(action => action.split(":")[0]))) {
            replace(i, `Action widened to ${service}:*`, { ...statement, Action: [...statement.Action.filter(a => !a.startsWith(`${service}:`)), `${service}:*`] });
        }
        for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
            for (const key of Object.keys(keys)) {
                const { [key]: _dropped, ...rest } = keys;
                const { [operator]: _operator, ...others } = statement.Condition!;
                const condition = Object.keys(rest).length > 0 ? { ...others, [operator]: rest } : others;
                replace(i, `condition ${operator} ${key} dropped`, { ...statement, Condition: condition });
            }
        }
    });
    return found.filter(mutant => !EQUIVALENT.has(mutant.change));
}
