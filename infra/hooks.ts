import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { nodeRole } from "../binder/identity";
import { Owner } from "./owner";

/** The hook function's timeout: a bind starts only with 40 s left (binder/deadline.ts), and a boot waits for it. */
export const HOOK_TIMEOUT = 60;

/**
 * Fails the preview when a node role is of another account than the stack's: the
 * hooks serve only workers of their own account, so its workers would be refused.
 */
export function checkNodeRoles(nodeRoleArns: string[], accountId: string, key = "eip-dns-binder:nodeRoleArns"): void {
    const foreign = nodeRoleArns.filter(arn => nodeRole(arn)?.account !== accountId);
    if (foreign.length > 0) {
        throw new pulumi.RunError(`${key} has ${foreign.map(arn => `'${arn}'`).join(", ")}, of another account than ${accountId}, where the stack deploys: the node hooks serve only workers of their own account`);
    }
}

/**
 * The node hooks' endpoint: a function URL that takes only SigV4-signed requests,
 * and a resource policy that lets exactly the node roles through it.
 */
export function hookEndpoint(owner: Owner, fn: aws.lambda.Function, nodeRoleArns: string[]): aws.lambda.FunctionUrl {
    // The function URL: Lambda authenticates every request with IAM (SigV4) and hands the function the caller's identity.
    const url = new aws.lambda.FunctionUrl(owner.name("hook"), { functionName: fn.name, authorizationType: "AWS_IAM" }, { parent: owner.parent });
    for (const arn of nodeRoleArns) {
        // Named by the role, whose name is unique in the account, so that reordering nodeRoleArns replaces nothing.
        const name = nodeRole(arn)?.name ?? arn;
        // Each node role may call the function URL, and only one with AWS_IAM auth (condition lambda:FunctionUrlAuthType).
        new aws.lambda.Permission(owner.name(`hook-url-${name}`), {
            action: "lambda:InvokeFunctionUrl",
            function: fn.name,
            principal: arn,
            functionUrlAuthType: "AWS_IAM",
        }, { parent: owner.parent });
        // Since October 2025 a new function URL also needs lambda:InvokeFunction; granted only through
        // the URL (condition lambda:InvokedViaFunctionUrl), so a node role cannot invoke the function directly.
        new aws.lambda.Permission(owner.name(`hook-invoke-${name}`), {
            action: "lambda:InvokeFunction",
            function: fn.name,
            principal: arn,
            invokedViaFunctionUrl: true,
        }, { parent: owner.parent });
    }
    return url;
}
