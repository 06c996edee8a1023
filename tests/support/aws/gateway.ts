// One local HTTP endpoint standing in for EC2, Route53, DynamoDB and SQS. It routes each request to its
// service, records it, and can throttle it or fail it before or after it takes effect. A DynamoDB
// transaction can be held in flight, its items inside it, while other requests go on
// (holdTransaction, holdTransactionAt; dynamodb-transactions.ts).
import { Agent, createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dynamoRequest } from "./dynamodb-proxy";
import { Transactions, type Hold } from "./dynamodb-transactions";
import type { Ec2Model } from "./ec2";
import { ec2Request } from "./ec2-query";
import type { Route53Model } from "./route53";
import { route53Request } from "./route53-rest";
import type { SqsModel } from "./sqs";
import { sqsRequest } from "./sqs-json";
import { AwsError, type Reply, type Service, type ServiceRequest } from "./wire";

export type { Service } from "./wire";

export interface AwsCall {
    /** Arrival number, from 1 since the gateway started (clearCalls does not reset it). */
    seq: number;
    service: Service;
    action: string;
    input: unknown;
    outcome: "ok" | "error";
    errorCode?: string;
    injected?: "before" | "after";
}

export interface Fault {
    service?: Service;
    action: string;
    /** "before" (default): the call is not applied. "after": it is applied, then its response is lost. */
    when?: "before" | "after";
    code?: string;
    status?: number;
    times?: number;
    match?: (call: { service: Service; action: string; input: unknown }) => boolean;
}

/** One request as it arrives: method, path with query, headers (lower-case names) and body. */
export interface RawRequest {
    method: string;
    url: string;
    headers: IncomingHttpHeaders;
    body: Buffer;
}

export interface GatewayOptions {
    ec2: Ec2Model;
    route53: Route53Model;
    sqs: SqsModel;
    dynamoEndpoint: string;
    latencyMs?: number;
    throttle?: (service: Service, action: string, input: unknown) => boolean;
    /**
     * Awaited for every TransactWriteItems between its begin and its commit, outside the
     * section in which DynamoDB requests run one at a time: while it is pending the
     * transaction is in flight (its items refuse plain writes and other transactions)
     * and other requests go on. If it rejects, the transaction is not applied and the
     * call fails with a 500. Without it, a transaction begins and commits at once.
     */
    holdTransaction?: (call: { service: "dynamodb"; action: "TransactWriteItems"; input: unknown }) => Promise<void>;
}

type CallMatch = (call: { service: Service; action: string; input: unknown }) => boolean;

// Each service's own throttling error; the SDK retries them all.
const THROTTLING: Record<Service, () => AwsError> = {
    ec2: () => new AwsError("RequestLimitExceeded", "Request limit exceeded.", 503),
    route53: () => new AwsError("Throttling", "Rate exceeded", 400),
    dynamodb: () => new AwsError("ThrottlingException", "Rate of requests exceeds the allowed throughput.", 400),
    sqs: () => new AwsError("RequestThrottled", "Request is throttled.", 400),
};

export class AwsGateway {
    readonly calls: AwsCall[] = [];
    /** The most calls of each action in flight at once, since the start or the last clearCalls. */
    readonly peakInFlight = new Map<string, number>();
    private readonly inFlight = new Map<string, number>();
    private readonly faults: { fault: Fault; remaining: number }[] = [];
    private readonly pauses: { match: CallMatch; arrived: () => void; resumed: Promise<void> }[] = [];
    private readonly transactionHolds: { match: CallMatch; arrived: () => void; resumed: Promise<void> }[] = [];
    private readonly dynamoAgent = new Agent({ keepAlive: true });
    private readonly transactions = new Transactions();
    private seq = 0;

    static async start(options: GatewayOptions): Promise<AwsGateway> {
        const server = createServer();
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(0, "127.0.0.1", () => resolve());
        });
        const { port } = server.address() as AddressInfo;
        return new AwsGateway(options, server, `http://127.0.0.1:${port}`);
    }

    private constructor(
        private readonly options: GatewayOptions,
        private readonly server: Server,
        readonly endpoint: string,
    ) {
        server.on("request", (req: IncomingMessage, res: ServerResponse) => void this.serve(req, res));
    }

    /** The next `times` (default 1) calls matching the fault fail with it. */
    inject(fault: Fault): void {
        const times = fault.times ?? 1;
        if (!(times >= 1)) throw new Error(`fault.times must be at least 1, got ${times}`);
        this.faults.push({ fault, remaining: times });
    }

    /**
     * Holds the next call that matches before it is applied: `reached` resolves when
     * it arrives, and it goes on once `resume` is called. How a test stages one
     * interleaving exactly: a call waits while other actors move.
     */
    pauseAt(match: CallMatch): { reached: Promise<void>; resume: () => void } {
        return armed(this.pauses, match);
    }

    /**
     * Holds the next TransactWriteItems that matches once it has begun, before it
     * commits: `reached` resolves when its items are inside it, and it commits once
     * `resume` is called. Meanwhile a plain write on one of its items fails with
     * TransactionConflictException and a transaction that touches one is cancelled.
     * Takes the place of `holdTransaction` for that one call.
     */
    holdTransactionAt(match: CallMatch): { reached: Promise<void>; resume: () => void } {
        return armed(this.transactionHolds, match);
    }

    /** How many injected failures are still to happen. */
    pendingFaults(): number {
        return this.faults.reduce((sum, f) => sum + f.remaining, 0);
    }

    clearCalls(): void {
        this.calls.length = 0;
        this.peakInFlight.clear();
    }

    async close(): Promise<void> {
        const closed = new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
        // Keep-alive sockets would otherwise hold the server (and mocha) open.
        this.server.closeAllConnections();
        this.dynamoAgent.destroy();
        await closed;
    }

    private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
        try {
            const body = await readBody(req);
            const reply = await this.dispatch({ method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, body });
            res.writeHead(reply.status, { ...reply.headers, "content-length": Buffer.byteLength(reply.body) });
            res.end(reply.body);
        } catch (err) {
            // A request the stand-in cannot even parse: fail loudly rather than hang the client.
            if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" }).end(String(err));
        }
    }

    /**
     * Routes one raw request to its service, applies it with any fault that matches,
     * records it, and returns the reply. The HTTP server calls this; so does an
     * in-process transport, which skips the socket but not the semantics.
     * `gate`, if given, is awaited once the call is identified and before it is applied.
     */
    async dispatch(raw: RawRequest, gate?: (call: { service: Service; action: string; input: unknown }) => Promise<void>): Promise<Reply> {
        const seq = ++this.seq;
        const request = this.identify(raw);
        if (gate) await gate(request);
        const pause = this.pauses.findIndex(p => p.match(request));
        if (pause >= 0) {
            const [{ arrived, resumed }] = this.pauses.splice(pause, 1);
            arrived();
            await resumed;
        }
        const inFlight = (this.inFlight.get(request.action) ?? 0) + 1;
        this.inFlight.set(request.action, inFlight);
        this.peakInFlight.set(request.action, Math.max(inFlight, this.peakInFlight.get(request.action) ?? 0));
        if (this.options.latencyMs) await new Promise((resolve) => setTimeout(resolve, this.options.latencyMs));
        const { reply, injected } = await this.answer(request).finally(() => this.inFlight.set(request.action, (this.inFlight.get(request.action) ?? 1) - 1));
        this.record({
            seq,
            service: request.service,
            action: request.action,
            input: request.input,
            outcome: reply.status < 300 ? "ok" : "error",
            ...(reply.errorCode !== undefined && { errorCode: reply.errorCode }),
            ...(injected && { injected }),
        });
        return reply;
    }

    private identify(raw: RawRequest): ServiceRequest {
        const url = new URL(raw.url, this.endpoint);
        const target = raw.headers["x-amz-target"];
        if (typeof target === "string" && target.startsWith("AmazonSQS.")) {
            return sqsRequest(this.options.sqs, target, raw.body.toString("utf8"));
        }
        if (target) {
            return dynamoRequest(this.options.dynamoEndpoint, this.dynamoAgent, this.transactions, url.pathname + url.search, raw.headers, raw.body, input => this.holdFor(input));
        }
        if (url.pathname.startsWith("/2013-04-01/")) {
            return route53Request(this.options.route53, raw.method, url, raw.body.toString("utf8"));
        }
        return ec2Request(this.options.ec2, raw.body.toString("utf8"));
    }

    /**
     * How a TransactWriteItems about to be applied is held in flight: a test's one-off hold,
     * else the options' hook, else not at all. The one-off hold is used up only by a
     * transaction that begins (one cancelled at once never gets in flight).
     */
    private holdFor(input: unknown): Hold | undefined {
        const call = { service: "dynamodb", action: "TransactWriteItems", input } as const;
        const hold = this.transactionHolds.find(h => h.match(call));
        if (hold) {
            return async () => {
                const index = this.transactionHolds.indexOf(hold);
                if (index < 0) return;
                this.transactionHolds.splice(index, 1);
                hold.arrived();
                await hold.resumed;
            };
        }
        const hook = this.options.holdTransaction;
        return hook && (() => hook(call));
    }

    private async answer(request: ServiceRequest): Promise<{ reply: Reply; injected?: "before" | "after" }> {
        if (this.options.throttle?.(request.service, request.action, request.input)) {
            return { reply: request.error(THROTTLING[request.service]()) };
        }
        const fault = this.takeFault(request);
        if (fault && fault.when !== "after") return { reply: request.error(faultError(fault)), injected: "before" };
        const reply = await applySafely(request);
        if (fault) return { reply: request.error(faultError(fault)), injected: "after" };
        return { reply };
    }

    private takeFault(call: { service: Service; action: string; input: unknown }): Fault | undefined {
        const index = this.faults.findIndex(
            ({ fault }) =>
                (fault.service === undefined || fault.service === call.service) &&
                fault.action === call.action &&
                (fault.match === undefined || fault.match({ service: call.service, action: call.action, input: call.input })),
        );
        if (index < 0) return undefined;
        const armed = this.faults[index];
        if (--armed.remaining === 0) this.faults.splice(index, 1);
        return armed.fault;
    }

    /** Keeps `calls` in arrival order even when a later request finishes first. */
    private record(call: AwsCall): void {
        let i = this.calls.length;
        while (i > 0 && this.calls[i - 1].seq > call.seq) i--;
        this.calls.splice(i, 0, call);
    }
}

/** Arms a one-off hold on the next call that matches. */
function armed(list: { match: CallMatch; arrived: () => void; resumed: Promise<void> }[], match: CallMatch): { reached: Promise<void>; resume: () => void } {
    let arrived!: () => void;
    let resume!: () => void;
    const reached = new Promise<void>(resolve => { arrived = resolve; });
    const resumed = new Promise<void>(resolve => { resume = resolve; });
    list.push({ match, arrived, resumed });
    return { reached, resume };
}

function faultError(fault: Fault): AwsError {
    const code = fault.code ?? "InjectedFault";
    const status = fault.status ?? (code === "RequestLimitExceeded" ? 503 : 400);
    return new AwsError(code, `Injected fault (${code}) for ${fault.action}`, status);
}

/** A stand-in bug or an unreachable dynalite surfaces as a 500 InternalError rather than a hung request. */
async function applySafely(request: ServiceRequest): Promise<Reply> {
    try {
        return await request.apply();
    } catch (err) {
        return request.error(err instanceof AwsError ? err : new AwsError("InternalError", String(err), 500));
    }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
}
