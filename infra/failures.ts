import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Owner } from "./owner";
import { queueEncryption } from "./queue";

/** How long EventBridge keeps retrying to deliver an event (seconds). */
export const MAX_EVENT_AGE = 3600;
/** Two weeks: the longest SQS keeps a message, time for a human to look. */
const RETENTION = 14 * 24 * 3600;

/**
 * The two places an event can end up when it cannot be handled. They keep messages
 * longer than the event queue does, because a message's age counts from when it
 * first entered that queue.
 */
export interface FailureQueues {
    /** Events the binder failed on every delivery (the event queue's dead-letter queue). */
    handling: aws.sqs.Queue;
    /** Events EventBridge could not put into the event queue at all (the rule target's dead-letter queue). */
    delivery: aws.sqs.Queue;
}

export function failureQueues(owner: Owner, kmsKeyArn?: pulumi.Input<string>): FailureQueues {
    const common = { messageRetentionSeconds: RETENTION, ...queueEncryption(kmsKeyArn) };
    return {
        // Failed events are kept, encrypted, so they can be read, fixed and replayed.
        handling: new aws.sqs.Queue(owner.name("failed-events"), common, { parent: owner.parent }),
        // Undeliverable events are kept the same way.
        delivery: new aws.sqs.Queue(owner.name("undelivered-events"), common, { parent: owner.parent }),
    };
}
