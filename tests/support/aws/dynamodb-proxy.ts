// DynamoDB's JSON protocol, passed through to dynalite so the gateway can record and fault it;
// transactions, which dynalite lacks, are made of its own writes (dynamodb-transactions.ts),
// and the limits on expressions, which dynalite does not check, are checked here first.
import { request as httpRequest, type Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";
import type { DynamoCall, Hold, Transactions } from "./dynamodb-transactions";
import { AwsError, type Reply, type ServiceRequest } from "./wire";

const CONTENT_TYPE = "application/x-amz-json-1.0";
// Per-connection headers must not be relayed between the two hops.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

/**
 * One DynamoDB request, applied by dynalite. Every request runs alone through
 * `transactions`, which is what lets a TransactWriteItems be made of several;
 * `holdFor` says, when a TransactWriteItems is applied, whether and how it is held in flight.
 */
export function dynamoRequest(
    endpoint: string, agent: Agent, transactions: Transactions, path: string, headers: IncomingHttpHeaders, body: Buffer,
    holdFor: (input: unknown) => Hold | undefined = () => undefined,
): ServiceRequest {
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
        apply: async () => {
            checkExpressionLimits(action, input);
            if (action !== "TransactWriteItems") return transactions.single(call, action, input as Record<string, unknown>, () => forward(url, agent, headers, body));
            const reply = await transactions.write(call, input as Record<string, unknown>, holdFor(input));
            return { status: 200, headers: { "content-type": CONTENT_TYPE }, body: JSON.stringify(reply) };
        },
        error: dynamoError,
    };
}

// DynamoDB's limits on expressions ("Service, account, and table quotas in Amazon
// DynamoDB", section "Expression parameters"), which dynalite does not check: any
// expression string at most 4 KB, counted in bytes as sent; at most 300 operators or
// functions (the guide says "in an UpdateExpression"; DynamoDB applies it to every
// expression, as "Invalid FilterExpression: The expression contains too many operators;
// operator count: 301" shows); at most 100 operands for IN; at most 255 bytes for a
// placeholder. The messages are DynamoDB's, except the placeholder's, which is not
// documented. Not checked: the 2 MB of all substitution variables, beyond any request here.
const EXPRESSION_FIELDS = ["KeyConditionExpression", "ConditionExpression", "FilterExpression", "UpdateExpression", "ProjectionExpression"];
const MAX_EXPRESSION_BYTES = 4096;
const MAX_OPERATORS = 300;
const MAX_IN_OPERANDS = 100;
const MAX_PLACEHOLDER_BYTES = 255;
const COMPARATORS = new Set(["=", "<>", "<", "<=", ">", ">="]);
const TOKEN = /[A-Za-z_][A-Za-z0-9_]*|[#:][A-Za-z0-9_]+|<>|<=|>=|[=<>+\-(),[\].]|\d+/g;

/** Throws DynamoDB's ValidationException for the first expression over a limit, in the request or any action of a transaction. */
export function checkExpressionLimits(action: string, input: unknown): void {
    for (const request of expressionCarriers(action, input)) {
        for (const placeholder of [...Object.keys(objectAt(request, "ExpressionAttributeNames")), ...Object.keys(objectAt(request, "ExpressionAttributeValues"))]) {
            if (Buffer.byteLength(placeholder) > MAX_PLACEHOLDER_BYTES) {
                throw new AwsError("ValidationException", `Expression attribute name or value placeholder is longer than ${MAX_PLACEHOLDER_BYTES} bytes: ${placeholder}`);
            }
        }
        for (const field of EXPRESSION_FIELDS) {
            const expression = request[field];
            const problem = typeof expression === "string" ? expressionProblem(field, expression) : undefined;
            if (problem) throw new AwsError("ValidationException", `Invalid ${field}: ${problem}`);
        }
    }
}

/** The request itself, or each action of a TransactWriteItems, or each table's keys of a BatchGetItem. */
function expressionCarriers(action: string, input: unknown): Record<string, unknown>[] {
    if (action === "TransactWriteItems") {
        return ((objectAt(input, "TransactItems") as unknown as unknown[] | undefined) ?? []).flatMap(item => Object.values(item as object) as Record<string, unknown>[]);
    }
    if (action === "BatchGetItem") return Object.values(objectAt(input, "RequestItems")) as Record<string, unknown>[];
    return typeof input === "object" && input !== null ? [input as Record<string, unknown>] : [];
}

function objectAt(value: unknown, field: string): Record<string, unknown> {
    const inner = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[field] : undefined;
    return typeof inner === "object" && inner !== null ? (inner as Record<string, unknown>) : {};
}

/**
 * What is wrong with one expression, in DynamoDB's words. Operators are the
 * comparators, AND, OR, NOT, BETWEEN (with its AND), IN, + and -, and every function;
 * parentheses and spaces are not (DynamoDB accepts `a<b or (a<b or (...))` with 299
 * of "<" and "or", and refuses it with 301). The "=" of an update's SET is an
 * assignment: the guide's example `SET a = :val1 + :val2 + :val3` "contains two + operators".
 */
function expressionProblem(field: string, expression: string): string | undefined {
    const size = Buffer.byteLength(expression);
    if (size > MAX_EXPRESSION_BYTES) return `Expression size has exceeded the maximum allowed size; expression size: ${size}`;
    const tokens = expression.match(TOKEN) ?? [];
    let operators = 0;
    let between = false;
    for (const [i, token] of tokens.entries()) {
        const word = token.toUpperCase();
        const isFunction = /^[A-Za-z_]/.test(token) && tokens[i + 1] === "(";
        let counts: boolean;
        if (word === "AND" && between) {
            between = false;
            counts = false;
        } else {
            between ||= word === "BETWEEN";
            counts = ["AND", "OR", "NOT", "BETWEEN", "IN", "+", "-"].includes(word) || isFunction
                || (COMPARATORS.has(token) && !(field === "UpdateExpression" && token === "="));
        }
        if (counts && ++operators > MAX_OPERATORS) return `The expression contains too many operators; operator count: ${operators}`;
        if (word === "IN" && tokens[i + 1] === "(") {
            const operands = inOperands(tokens, i + 1);
            if (operands > MAX_IN_OPERANDS) return `The IN operator is provided with too many operands; number of operands: ${operands}`;
        }
    }
    return undefined;
}

/** How many operands the parenthesised list opening at `open` holds. */
function inOperands(tokens: string[], open: number): number {
    let depth = 0;
    let operands = 1;
    for (const token of tokens.slice(open)) {
        if (token === "(" || token === "[") depth++;
        else if (token === ")" || token === "]") depth--;
        else if (token === "," && depth === 1) operands++;
        if (depth === 0) break;
    }
    return operands;
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
