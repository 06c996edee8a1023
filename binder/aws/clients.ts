import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EC2Client } from "@aws-sdk/client-ec2";
import { Route53Client } from "@aws-sdk/client-route-53";
import { SQSClient } from "@aws-sdk/client-sqs";

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
