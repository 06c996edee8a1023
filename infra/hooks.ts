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

/** The only principal a node role's trust policy may admit: EC2, which names each session after its instance. */
const EC2_SERVICE = /^ec2\.amazonaws\.com(\.cn)?$/;

/** What an allowing statement of a trust policy admits other than EC2, in words; none: []. */
function othersAdmitted(statement: Record<string, any>): string[] {
    if (statement.Effect !== "Allow") return [];
    if (statement.NotPrincipal !== undefined) return [`NotPrincipal ${JSON.stringify(statement.NotPrincipal)}`];
    const principal = statement.Principal;
    if (typeof principal !== "object" || principal === null) return [`Principal ${JSON.stringify(principal)}`];
    return Object.entries<unknown>(principal).flatMap(([kind, value]) =>
        [value].flat().filter(who => kind !== "Service" || typeof who !== "string" || !EC2_SERVICE.test(who)).map(who => `${kind} ${JSON.stringify(who)}`));
}

/**
 * Fails the preview when a node role's trust policy admits anyone but EC2: whoever else
 * may assume the role chooses its session's name, and the hooks would take it for an
 * instance. `trustPolicy` is the role's assume-role policy as IAM returns it.
 */
export function checkNodeRoleTrust(roleArn: string, trustPolicy: string, key = "eip-dns-binder:nodeRoleArns"): void {
    let document: { Statement?: unknown };
    try {
        document = JSON.parse(trustPolicy.startsWith("%7B") ? decodeURIComponent(trustPolicy) : trustPolicy);
    } catch {
        throw new pulumi.RunError(`${key}: the trust policy of '${roleArn}' cannot be read as JSON`);
    }
    const statements = [document.Statement ?? []].flat() as Record<string, any>[];
    const others = statements.flatMap(othersAdmitted);
    if (others.length > 0) {
        throw new pulumi.RunError(`${key}: the trust policy of '${roleArn}' admits ${others.join(", ")}, not only ec2.amazonaws.com: `
            + "whoever else assumes the role names its own session and could act as any worker. Give the hooks a node role that only EC2 may assume");
    }
}

/** A resource-based policy on a function, as Lambda's PutResourcePolicy takes it. */
export interface FunctionResourcePolicy {
    Version: "2012-10-17";
    Statement: {
        Sid: string;
        Effect: "Allow" | "Deny";
        Principal: "*" | { AWS: string[] };
        Action: string | string[];
        Resource: string;
        Condition?: Record<string, Record<string, string | string[]>>;
    }[];
}

/** Both ways a principal invokes a function; the asynchronous one is the old InvokeAsync API. */
const INVOKE = ["lambda:InvokeFunction", "lambda:InvokeAsync"];

/**
 * Who may invoke the hook function: exactly the node roles' instance sessions, and only
 * through the function URL with IAM auth. The denials hold against any identity policy,
 * `lambda:*` on `*` included: a direct invoke would let its caller write the identity
 * the function reads. `ec2:SourceInstanceARN` is only in requests signed with credentials
 * EC2 issued to an instance, so a node role's session made any other way is refused too.
 */
export function hookInvokePolicy(functionArn: string, nodeRoleArns: string[]): FunctionResourcePolicy {
    const callers = { AWS: nodeRoleArns };
    const viaUrl = ["lambda:InvokeFunctionUrl", ...INVOKE];
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "NodeRolesCallTheUrlWithIamAuth",
                Effect: "Allow",
                Principal: callers,
                Action: "lambda:InvokeFunctionUrl",
                Resource: functionArn,
                Condition: { StringEquals: { "lambda:FunctionUrlAuthType": "AWS_IAM" } },
            },
            {
                Sid: "NodeRolesInvokeThroughTheUrl",
                Effect: "Allow",
                Principal: callers,
                Action: "lambda:InvokeFunction",
                Resource: functionArn,
                Condition: { Bool: { "lambda:InvokedViaFunctionUrl": "true" } },
            },
            {
                Sid: "NobodyInvokesButThroughTheUrl",
                Effect: "Deny",
                Principal: "*",
                Action: INVOKE,
                Resource: functionArn,
                Condition: { BoolIfExists: { "lambda:InvokedViaFunctionUrl": "false" } },
            },
            {
                Sid: "NobodyButTheNodeRoles",
                Effect: "Deny",
                Principal: "*",
                Action: viaUrl,
                Resource: functionArn,
                Condition: { ArnNotEquals: { "aws:PrincipalArn": nodeRoleArns } },
            },
            {
                Sid: "OnlyCredentialsEc2IssuedToAnInstance",
                Effect: "Deny",
                Principal: "*",
                Action: viaUrl,
                Resource: functionArn,
                Condition: { Null: { "ec2:SourceInstanceARN": "true" } },
            },
        ],
    };
}

/**
 * Who may invoke the binder: no IAM principal at all. Its event source mapping invokes
 * it as Lambda itself, which needs no grant; a direct invoke would hand it a made-up batch.
 */
export function binderInvokePolicy(functionArn: string): FunctionResourcePolicy {
    return {
        Version: "2012-10-17",
        Statement: [{
            Sid: "OnlyTheQueueMappingInvokes",
            Effect: "Deny",
            Principal: "*",
            Action: INVOKE,
            Resource: functionArn,
            Condition: { Bool: { "aws:PrincipalIsAWSService": "false" } },
        }],
    };
}

/** Sets a function's whole resource policy; nothing else may add to it (no aws.lambda.Permission on the same function). */
export function invokePolicy(owner: Owner, name: string, fn: aws.lambda.Function, policy: (functionArn: string) => FunctionResourcePolicy): aws.lambda.ResourcePolicy {
    // One document, Deny statements included, which AddPermission cannot write.
    return new aws.lambda.ResourcePolicy(owner.name(name), {
        resourceArn: fn.arn,
        policy: fn.arn.apply(arn => JSON.stringify(policy(arn))),
    }, { parent: owner.parent });
}

/**
 * The node hooks' endpoint: a function URL that takes only SigV4-signed requests,
 * and a resource policy that lets exactly the node roles' instances through it.
 */
export function hookEndpoint(owner: Owner, fn: aws.lambda.Function, nodeRoleArns: string[]): aws.lambda.FunctionUrl {
    // The function URL: Lambda authenticates every request with IAM (SigV4) and hands the function the caller's identity.
    const url = new aws.lambda.FunctionUrl(owner.name("hook"), { functionName: fn.name, authorizationType: "AWS_IAM" }, { parent: owner.parent });
    invokePolicy(owner, "hook-invokers", fn, arn => hookInvokePolicy(arn, nodeRoleArns));
    return url;
}
