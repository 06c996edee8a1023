import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Owner } from "./owner";

/** Events per invocation: what one read of the instances and one of the pool are shared by. */
export const BATCH_SIZE = 10;
/** Deliveries of a message before it is set aside in the failed-events queue. */
export const MAX_RECEIVES = 5;
/** AWS's advice for a Lambda-fed queue: a visibility timeout of at least six function timeouts. */
const VISIBILITY_PER_TIMEOUT = 6;
/** Four days: events older than that describe instances long gone; the reconciler covers them. */
const RETENTION = 4 * 24 * 3600;

/** A queue's encryption: the customer managed key when there is one, else SSE-SQS (the two exclude each other). */
export function queueEncryption(kmsKeyArn?: pulumi.Input<string>): { kmsMasterKeyId: pulumi.Input<string> } | { sqsManagedSseEnabled: true } {
    return kmsKeyArn ? { kmsMasterKeyId: kmsKeyArn } : { sqsManagedSseEnabled: true };
}

/**
 * The event queue between EventBridge and the binder. A burst of launches waits
 * here instead of starting hundreds of invocations that would only fight over
 * EC2's 5 AssociateAddress calls a second.
 */
export function eventQueue(owner: Owner, deadLetters: aws.sqs.Queue, functionTimeout: number, kmsKeyArn?: pulumi.Input<string>): aws.sqs.Queue {
    // Encrypted, redelivered after a failed attempt, and set aside after the last one.
    return new aws.sqs.Queue(owner.name("instance-events"), {
        ...queueEncryption(kmsKeyArn),
        messageRetentionSeconds: RETENTION,
        visibilityTimeoutSeconds: VISIBILITY_PER_TIMEOUT * functionTimeout,
        redrivePolicy: deadLetters.arn.apply(arn => JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: MAX_RECEIVES })),
    }, { parent: owner.parent });
}

/** Feeds the binder from the queue in batches, with at most `maxConcurrency` invocations at once. */
export function feedFromQueue(owner: Owner, fn: aws.lambda.Function, queue: aws.sqs.Queue, maxConcurrency: number): aws.lambda.EventSourceMapping {
    // The binder reports the messages it failed on, so one bad instance does not redeliver its whole batch.
    return new aws.lambda.EventSourceMapping(owner.name("instance-events"), {
        eventSourceArn: queue.arn,
        functionName: fn.arn,
        batchSize: BATCH_SIZE,
        scalingConfig: { maximumConcurrency: maxConcurrency },
        functionResponseTypes: ["ReportBatchItemFailures"],
    }, { parent: owner.parent });
}
