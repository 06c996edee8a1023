// DynamoDB's JSON protocol, passed through to dynalite so the gateway can record and fault it;
// transactions, which dynalite lacks, are made of its own writes (dynamodb-transactions.ts).
import { request as httpRequest, type Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";
import type { DynamoCall, Transactions } from "./dynamodb-transactions";
import type { AwsError, Reply, ServiceRequest } from "./wire";

const CONTENT_TYPE = "application/x-amz-json-1.0";
// Per-connection headers must not be relayed between the two hops.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

/**
 * One DynamoDB request, applied by dynalite. Every request runs alone through
 * `transactions`, which is what lets a TransactWriteItems be made of several.
 */
export function dynamoRequest(endpoint: string, agent: Agent, transactions: Transactions, path: string, headers: IncomingHttpHeaders, body: Buffer): ServiceRequest {
    const target = String(headers["x-amz-target"]);
    const action = target.slice(target.indexOf(".") + 1);
    const input = parseJson(body.toString("utf8"));
    const url = new URL(path, endpoint);
    const call: DynamoCall = async (name, request) => {
        const reply = await forward(url, agent, { ...headers, "x-amz-target": `DynamoDB_20120810.${name}` }, Buffer.from(JSON.stringify(request)));
        return { status: reply.status, body: parseJson(reply.body.toString()) as Record<string, unknown> };
    };
    return {
        service: "dynamodb",
        action,
        input,
        apply: () => transactions.exclusive(async () => action === "TransactWriteItems"
            ? { status: 200, headers: { "content-type": CONTENT_TYPE }, body: JSON.stringify(await transactions.write(call, input as Record<string, unknown>)) }
            : forward(url, agent, headers, body)),
        error: dynamoError,
    };
}

function dynamoError(error: AwsError): Reply {
    const body = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${error.code}`, message: error.message, ...error.extra });
    return { status: error.status, headers: { "content-type": CONTENT_TYPE }, body, errorCode: error.code };
}

function forward(url: URL, agent: Agent, headers: IncomingHttpHeaders, body: Buffer): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const outgoing = httpRequest(url, { method: "POST", agent, headers: withoutHopByHop(headers) }, (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("error", reject);
            response.on("end", () => {
                const responseBody = Buffer.concat(chunks);
                const status = response.statusCode ?? 500;
                const reply: Reply = { status, headers: withoutHopByHop(response.headers), body: responseBody };
                if (status >= 300) reply.errorCode = errorCode(responseBody);
                resolve(reply);
            });
        });
        outgoing.on("error", reject);
        outgoing.end(body);
    });
}

function withoutHopByHop(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
    return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

/** `__type` is `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`; the code is after '#'. */
function errorCode(body: Buffer): string {
    const type = (parseJson(body.toString("utf8")) as { __type?: string } | undefined)?.__type ?? "Unknown";
    return type.slice(type.indexOf("#") + 1);
}

function parseJson(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}
