import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { BinderSettings, binderEnvironment, PROJECT } from "../binder/config";
import { InvocationContext } from "../binder/handler";
import { Owner } from "./owner";
import { binderPolicy, PolicyScope } from "./policy";

/** The Lambda runtime this stack deploys; the tests run the archive on the same Node major. */
export const RUNTIME = aws.lambda.Runtime.NodeJS22dX;

/**
 * Packages kept out of the archive: those the Lambda runtime already provides (AWS SDK
 * v3), and this package itself, which a program that depends on it would otherwise
 * upload whole, though its functions' code is serialized into the archive by value.
 */
export function excludedPackages(): string[] {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8"));
    return [manifest.name, ...Object.keys(manifest.dependencies ?? {}).filter(name => name.startsWith("@aws-sdk/"))];
}

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export interface FunctionArgs {
    description: string;
    /** Builds the handler at cold start; serialized from binder/ with everything it reaches. */
    factory: () => (event: unknown, context?: InvocationContext) => Promise<unknown>;
    timeout: number;
    /** Concurrency reserved for the function, which is also its ceiling; unset, it shares the account's unreserved pool. */
    reservedConcurrency?: number;
    /** Run-time settings, already rendered as environment-variable strings. */
    settings: Record<keyof BinderSettings, pulumi.Input<string>>;
    /** Variables only this function gets, by name. */
    environment?: Record<string, pulumi.Input<string>>;
    policy: Inputs<Omit<PolicyScope, "partition" | "region" | "accountId" | "logGroupArn">>;
    /** The customer managed key the function's log group is encrypted with; unset, CloudWatch Logs' own encryption. */
    kmsKeyArn?: pulumi.Input<string>;
}

/** The path of every function role of a stack: `/eip-dns-binder/<stack>/`. */
export function functionRolePath(stack: string): string {
    return `/${PROJECT}/${stack}/`;
}

/** A function of the binder's with its own log group and a role that can do only what it does. */
export function binderFunction(owner: Owner, name: string, args: FunctionArgs): aws.lambda.CallbackFunction<unknown, unknown> {
    // Logs go to a group the stack owns, so their retention is set and the role
    // needs no permission to create log groups; CloudWatch Logs uses the key itself.
    const logs = new aws.cloudwatch.LogGroup(owner.name(name), {
        retentionInDays: 30,
        ...(args.kmsKeyArn && { kmsKeyId: args.kmsKeyArn }),
    }, { parent: owner.parent });

    // The role carries one inline policy instead of CallbackFunction's broad managed policies. Its path is
    // the stack's own, so a deploy role can be limited to this stack's roles by ARN (docs/deploying.md).
    const role = new aws.iam.Role(owner.name(name), {
        path: functionRolePath(pulumi.getStack()),
        assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "lambda.amazonaws.com" }),
    }, { parent: owner.parent });

    const partition = aws.getPartitionOutput({}, { parent: owner.parent });
    const region = aws.getRegionOutput({}, { parent: owner.parent });
    const identity = aws.getCallerIdentityOutput({}, { parent: owner.parent });
    // The inline policy scopes every write to this stack's tables, zone and tagged pool addresses.
    const policy = new aws.iam.RolePolicy(owner.name(name), {
        role: role.id,
        policy: pulumi
            .all([partition.partition, region.region, identity.accountId, logs.arn, pulumi.output(args.policy)])
            .apply(([partitionName, regionName, accountId, logGroupArn, scope]) =>
                JSON.stringify(binderPolicy({ ...scope, partition: partitionName, region: regionName, accountId, logGroupArn }))),
    }, { parent: owner.parent });

    // The handler is serialized from binder/ at deploy time; run-time settings travel as
    // environment variables, and the AWS SDK comes from the Lambda runtime, not the archive.
    return new aws.lambda.CallbackFunction(owner.name(name), {
        description: args.description,
        role,
        runtime: RUNTIME,
        architectures: ["arm64"],
        memorySize: 256,
        timeout: args.timeout,
        reservedConcurrentExecutions: args.reservedConcurrency,
        environment: { variables: pulumi.output({ ...binderEnvironment(args.settings), ...args.environment }) },
        loggingConfig: { logFormat: "Text", logGroup: logs.name },
        callbackFactory: args.factory,
        codePathOptions: { extraExcludePackages: excludedPackages() },
    }, { parent: owner.parent, dependsOn: [policy] });
}
