import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { createEventHandler } from "../binder";
import { BinderSettings, binderEnvironment } from "../binder/config";
import { binderPolicy, PolicyScope } from "./policy";

/** The Lambda runtime this stack deploys; the tests run the archive on the same Node major. */
export const RUNTIME = aws.lambda.Runtime.NodeJS22dX;

/** Packages the Lambda runtime already provides (AWS SDK v3), so they stay out of the archive. */
export function runtimeProvidedPackages(): string[] {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8"));
    return Object.keys(manifest.dependencies ?? {}).filter(name => name.startsWith("@aws-sdk/"));
}

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export interface BinderFunctionArgs {
    /** Run-time settings, already rendered as environment-variable strings. */
    settings: Record<keyof BinderSettings, pulumi.Input<string>>;
    policy: Inputs<Omit<PolicyScope, "partition" | "region" | "accountId" | "logGroupArn">>;
}

/** The binder Lambda with its own log group and a role that can do only what the binder does. */
export function binderFunction(args: BinderFunctionArgs): aws.lambda.CallbackFunction<unknown, void> {
    // Logs go to a group the stack owns, so their retention is set and the role
    // needs no permission to create log groups.
    const logs = new aws.cloudwatch.LogGroup("binder", { retentionInDays: 30 });

    // The role carries one inline policy instead of CallbackFunction's broad managed policies.
    const role = new aws.iam.Role("binder", {
        assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "lambda.amazonaws.com" }),
    });

    const partition = aws.getPartitionOutput();
    const region = aws.getRegionOutput();
    const identity = aws.getCallerIdentityOutput();
    // The inline policy scopes every write to this stack's tables, zone and tagged pool addresses.
    const policy = new aws.iam.RolePolicy("binder", {
        role: role.id,
        policy: pulumi
            .all([partition.partition, region.region, identity.accountId, logs.arn, pulumi.output(args.policy)])
            .apply(([partitionName, regionName, accountId, logGroupArn, scope]) =>
                JSON.stringify(binderPolicy({ ...scope, partition: partitionName, region: regionName, accountId, logGroupArn }))),
    });

    // The handler is serialized from binder/ at deploy time; run-time settings travel as
    // environment variables, and the AWS SDK comes from the Lambda runtime, not the archive.
    return new aws.lambda.CallbackFunction("binder", {
        description: "Binds pool Elastic IPs, DNS names and scheduler rows to EC2 instances as they start and stop.",
        role,
        runtime: RUNTIME,
        architectures: ["arm64"],
        memorySize: 256,
        timeout: 120,
        environment: { variables: pulumi.output(binderEnvironment(args.settings)) },
        loggingConfig: { logFormat: "Text", logGroup: logs.name },
        callbackFactory: createEventHandler,
        codePathOptions: { extraExcludePackages: runtimeProvidedPackages() },
    }, { dependsOn: [policy] });
}
