import { DynamoDBClient, ServiceInputTypes, ServiceOutputTypes } from "@aws-sdk/client-dynamodb";
import { EC2Client } from "@aws-sdk/client-ec2";
import { Route53Client } from "@aws-sdk/client-route-53";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { DeserializeMiddleware, InitializeMiddleware } from "@smithy/types";
import { namedError } from "../errors";

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

/** How the operator CLI reaches AWS: a Region it chose, and endpoints that must answer within seconds. */
export interface OperatorReach {
    region: string;
    /** How long an endpoint has to accept the connection, and then to answer. */
    timeoutSeconds: number;
}

/** The Region the SDK's default chain finds (AWS_REGION, the profile), or undefined when it finds none. */
export async function configuredRegion(): Promise<string | undefined> {
    const probe = new DynamoDBClient({});
    try {
        return await probe.config.region();
    } catch {
        return undefined;
    } finally {
        probe.destroy();
    }
}

/** Failures that say the endpoint cannot be reached at all; a reset connection is left to the SDK's retries. */
const UNREACHABLE_CODES = ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"];

/**
 * An operator waiting on an endpoint that does not answer learns so at once, by name:
 * a timeout or an unreachable host fails the call with EndpointUnreachable, which the
 * SDK does not retry (its retries would make seconds into minutes).
 */
function failFastUnreachable<I extends object, O extends object>(timeoutSeconds: number): DeserializeMiddleware<I, O> {
    return (next, context) => async args => {
        try {
            return await next(args);
        } catch (err) {
            const code = err instanceof Error ? (err as { code?: string }).code : undefined;
            const timedOut = err instanceof Error && err.name === "TimeoutError";
            if (!timedOut && !UNREACHABLE_CODES.includes(code ?? "")) throw err;
            const { protocol, hostname, port } = args.request as { protocol?: string; hostname?: string; port?: number };
            const endpoint = `${protocol ?? "https:"}//${hostname ?? "?"}${port ? `:${port}` : ""}`;
            const call = `${(context.clientName ?? "").replace(/Client$/, "")} ${(context.commandName ?? "").replace(/Command$/, "")}`.trim();
            const what = timedOut ? `did not answer within ${timeoutSeconds}s (timed out)` : `cannot be reached (${code})`;
            throw namedError("EndpointUnreachable", `${endpoint} ${what}, calling ${call}`);
        }
    };
}

/** The CLI's clients: the Region given, a timeout on every connection and request, and no retries of a silent endpoint. */
export function createOperatorClients(reach: OperatorReach): Clients {
    const timeoutMs = reach.timeoutSeconds * 1000;
    const common = { region: reach.region, requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true } };
    const clients = {
        ec2: new EC2Client({ ...EC2_RETRY, ...common }),
        route53: new Route53Client({ ...RETRY, ...common }),
        dynamodb: new DynamoDBClient({ ...RETRY, ...common }),
    };
    const options = { step: "deserialize", priority: "low", name: "failFastUnreachable" } as const;
    clients.ec2.middlewareStack.add(failFastUnreachable(reach.timeoutSeconds), options);
    clients.route53.middlewareStack.add(failFastUnreachable(reach.timeoutSeconds), options);
    clients.dynamodb.middlewareStack.add(failFastUnreachable(reach.timeoutSeconds), options);
    return clients;
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
