import { DynamoDBClient, ServiceInputTypes, ServiceOutputTypes } from "@aws-sdk/client-dynamodb";
import { EC2Client } from "@aws-sdk/client-ec2";
import { Route53Client } from "@aws-sdk/client-route-53";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { InitializeMiddleware } from "@smithy/types";

export interface Clients {
    ec2: EC2Client;
    route53: Route53Client;
    dynamodb: DynamoDBClient;
}

/**
 * The SDK's standard retry strategy already treats RequestLimitExceeded,
 * Throttling and PriorRequestNotComplete as throttling errors and backs off with
 * jitter; bursts need more attempts than its default of 3.
 */
export const RETRY = { retryMode: "standard", maxAttempts: 10 } as const;

/**
 * EC2 is what a burst queues on (5 AssociateAddress calls a second for the
 * account). Adaptive mode makes each client slow down when throttled instead of
 * spending its attempts, and the attempts cover a whole burst at the default
 * concurrency: with 10, about one bind in 250 still ran out of them in the bench.
 */
export const EC2_RETRY = { retryMode: "adaptive", maxAttempts: 20 } as const;

/** One set of clients per cold start; region, credentials and endpoints come from the environment. */
export function createClients(): Clients {
    return {
        ec2: new EC2Client(EC2_RETRY),
        route53: new Route53Client(RETRY),
        dynamodb: new DynamoDBClient(RETRY),
    };
}

/** The binder's client for its event queue; the reconciler does not make one. */
export function createQueueClient(): SQSClient {
    return new SQSClient(RETRY);
}

/** The error code of an AWS SDK error (its name), or undefined for anything else. */
export function errorCode(err: unknown): string | undefined {
    return err instanceof Error && "$metadata" in err ? err.name : undefined;
}

/** Attempts of a DynamoDB write that meets another transaction on its items: quick, with jitter, bounded. */
export const CONFLICT_ATTEMPTS = 4;
const CONFLICT_BASE_DELAY_MS = 20;

/**
 * Whether a DynamoDB error says only that another transaction or write was in
 * progress on an item (nothing was written, and a moment later it may pass): a
 * plain write's TransactionConflictException, or a transaction cancelled for a
 * TransactionConflict and for no condition of its own. The SDK retries neither.
 */
export function isTransactionConflict(err: unknown): boolean {
    const code = errorCode(err);
    if (code === "TransactionConflictException") return true;
    if (code !== "TransactionCanceledException") return false;
    const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
    return reasons.some(r => r.Code === "TransactionConflict") && !reasons.some(r => r.Code === "ConditionalCheckFailed");
}

const retryConflicts: InitializeMiddleware<ServiceInputTypes, ServiceOutputTypes> = next => async args => {
    for (let attempt = 1; ; attempt++) {
        try {
            return await next(args);
        } catch (err) {
            if (attempt >= CONFLICT_ATTEMPTS || !isTransactionConflict(err)) throw err;
            await new Promise(resolve => setTimeout(resolve, Math.random() * CONFLICT_BASE_DELAY_MS * 2 ** attempt));
        }
    }
};

/**
 * Makes a DynamoDB client retry its writes that met a transaction in progress, a
 * few times within a fraction of a second, around the SDK's own retries; what
 * still conflicts then is the caller's (see Store). Idempotent per client.
 */
export function retryingConflicts(client: DynamoDBClient): DynamoDBClient {
    client.middlewareStack.add(retryConflicts, { step: "initialize", name: "retryTransactionConflicts", override: true });
    return client;
}
