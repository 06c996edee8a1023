import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** How long an event may wait for a retry before it counts as failed (seconds). */
export const MAX_EVENT_AGE = 3600;
/** Two weeks: the longest SQS keeps a message, time for a human to look. */
const RETENTION = 14 * 24 * 3600;

/** The two places an event can end up when it cannot be handled. */
export interface FailureQueues {
    /** Events the binder failed on after Lambda's retries (its asynchronous on-failure destination). */
    handling: aws.sqs.Queue;
    /** Events EventBridge could not deliver to the binder at all (the rule target's dead-letter queue). */
    delivery: aws.sqs.Queue;
}

export function failureQueues(): FailureQueues {
    const common = { messageRetentionSeconds: RETENTION, sqsManagedSseEnabled: true };
    return {
        // Failed events are kept, encrypted, so they can be read, fixed and replayed.
        handling: new aws.sqs.Queue("failed-events", common),
        // Undeliverable events are kept the same way.
        delivery: new aws.sqs.Queue("undelivered-events", common),
    };
}

/** Bounds Lambda's asynchronous retries and sends what still fails to the handling queue. */
export function retryToQueue(fn: aws.lambda.Function, queue: aws.sqs.Queue): aws.lambda.FunctionEventInvokeConfig {
    // Two retries with backoff, then the event goes to the queue instead of vanishing.
    return new aws.lambda.FunctionEventInvokeConfig("binder", {
        functionName: fn.name,
        maximumRetryAttempts: 2,
        maximumEventAgeInSeconds: MAX_EVENT_AGE,
        destinationConfig: { onFailure: { destination: queue.arn } },
    });
}

/** Lets EventBridge put events from `rule` (and only that rule) into the delivery queue. */
export function allowDeadLetters(queue: aws.sqs.Queue, rule: aws.cloudwatch.EventRule): aws.sqs.QueuePolicy {
    // EventBridge needs the queue's permission to dead-letter into it.
    return new aws.sqs.QueuePolicy("undelivered-events", {
        queueUrl: queue.url,
        policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [{
                Sid: "DeadLettersFromTheRule",
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: "sqs:SendMessage",
                Resource: queue.arn,
                Condition: { ArnEquals: { "aws:SourceArn": rule.arn } },
            }],
        }),
    });
}
