// Shared wire-level types of the stand-ins: one parsed request, one reply, one AWS error.
import type { OutgoingHttpHeaders } from "node:http";

export type Service = "ec2" | "route53" | "dynamodb" | "sqs";

/** An error in AWS terms; each protocol renders it in its own wire format. */
export class AwsError extends Error {
    constructor(
        readonly code: string,
        message: string,
        readonly status = 400,
        /** Fields an error carries besides its code and message (DynamoDB's CancellationReasons). */
        readonly extra: Record<string, unknown> = {},
    ) {
        super(message);
    }
}

export interface Reply {
    status: number;
    headers: OutgoingHttpHeaders;
    body: string | Buffer;
    /** Set on error replies so the gateway can record the code without re-parsing. */
    errorCode?: string;
}

/** A request the gateway has identified but not applied yet. */
export interface ServiceRequest {
    service: Service;
    action: string;
    input: unknown;
    /** Applies the call to the model (or dynalite); throws AwsError on an API error. */
    apply(): Reply | Promise<Reply>;
    /** Renders an error the way this service would. */
    error(error: AwsError): Reply;
}
