// One request through the offline IAM simulator (@cloud-copilot/iam-simulate), with
// AWS's service authorization data. A request the simulator cannot validate (an
// unknown action, a resource type or condition key the action does not take) is an
// error, never a quiet denial.
import { runSimulation } from "@cloud-copilot/iam-simulate";

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";
export type PolicyDocument = { Version: string; Statement: unknown[] };

/** What AWS authorizes for one resource of a call: the action, the resource's ARN, and the condition keys the request carries. */
export interface Authorization {
    action: string;
    resource: string;
    context?: Record<string, string | string[]>;
}

export interface Policies {
    identity?: PolicyDocument[];
    /** The resource's own policy (an SQS queue policy), if it has one. */
    resource?: PolicyDocument;
    /** Service control policies, root first. */
    scps?: PolicyDocument[];
}

export const ACCOUNT = "123456789012";

export async function decide(principal: string, request: Authorization, policies: Policies): Promise<Decision> {
    const response = await runSimulation({
        request: {
            principal,
            action: request.action,
            // Resources whose ARN names no account (`*`, Route53's) belong to the caller's.
            resource: { resource: request.resource, accountId: request.resource.split(":")[4] || principal.split(":")[4] || ACCOUNT },
            contextVariables: request.context ?? {},
        },
        identityPolicies: (policies.identity ?? []).map((policy, i) => ({ name: `identity-${i}`, policy })),
        serviceControlPolicies: policies.scps ? [{ orgIdentifier: ACCOUNT, policies: policies.scps.map((policy, i) => ({ name: `scp-${i}`, policy })) }] : [],
        resourceControlPolicies: [],
        ...(policies.resource && { resourcePolicy: policies.resource }),
    }, {});
    if (response.resultType === "error") {
        throw new Error(`the simulator refused ${request.action} on ${request.resource}: ${JSON.stringify(response.errors)}`);
    }
    return response.overallResult as Decision;
}
