// A stand-in for a node's view of the node hooks: the instance metadata service
// (IMDSv2 token, the instance profile's role and credentials) and a Lambda function
// URL with AWS_IAM auth in front of the hook function's archive. The URL checks
// each request's SigV4 signature as AWS does, recomputing it with the SDK's signer
// (@smithy/signature-v4) from the credentials it issued, turns the request into the
// payload Lambda delivers (format 2.0, the caller's identity in
// requestContext.authorizer.iam), invokes the function and answers with its
// response. Both listen as one HTTP proxy, so a script runs as written with
// `http_proxy` pointing here: its requests to 169.254.169.254 and to the
// function URL's host arrive with their own Host header.
import { SignatureV4 } from "@smithy/signature-v4";
import { createHash, createHmac, Hash, Hmac, randomBytes } from "node:crypto";
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import { AddressInfo } from "node:net";
import { InvokeResult } from "../../tools/lambda-process";
import { Authorizer, hookRequest } from "./hooks";

const IMDS_HOST = "169.254.169.254";
const FUNCTION_URL_HOST = /^[a-z0-9]{32}\.lambda-url\.([a-z0-9-]+)\.on\.aws$/;

/** The hash SignatureV4 takes: SHA-256, or HMAC-SHA-256 with a secret. */
export class Sha256 {
    private hash: Hash | Hmac;
    private readonly secret?: string | Uint8Array;

    constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
        this.secret = typeof secret === "string" || secret === undefined ? secret
            : secret instanceof ArrayBuffer ? new Uint8Array(secret) : new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength);
        this.hash = this.fresh();
    }

    update(data: Uint8Array): void {
        this.hash.update(data);
    }

    async digest(): Promise<Uint8Array> {
        return new Uint8Array(this.hash.digest());
    }

    reset(): void {
        this.hash = this.fresh();
    }

    private fresh(): Hash | Hmac {
        return this.secret === undefined ? createHash("sha256") : createHmac("sha256", this.secret);
    }
}

/** Temporary credentials as the instance metadata service hands them out. */
export interface Credentials {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken: string;
}

/** A node: its instance profile's role, its credentials, and who Lambda says they are. */
interface Node {
    role: string;
    credentials: Credentials;
    identity: Authorizer;
}

export interface Exchange {
    host: string;
    method: string;
    path: string;
    status: number;
}

export class NodeView {
    /** Every request, with the status it was answered. */
    readonly exchanges: Exchange[] = [];
    private readonly token = randomBytes(16).toString("hex");
    private node?: Node;
    private failures: number[] = [];

    private constructor(private readonly server: Server, readonly proxy: string, private readonly invoke: (event: unknown) => Promise<InvokeResult>) {}

    /** Starts the proxy; `invoke` runs the hook function. */
    static async start(invoke: (event: unknown) => Promise<InvokeResult>): Promise<NodeView> {
        const server = createServer();
        await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
        const view = new NodeView(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, invoke);
        server.on("request", (req, res) => void view.serve(req, res));
        return view;
    }

    /** Makes this the node `identity` says (a worker's session, or anything else), with fresh credentials. */
    become(role: string, identity: Authorizer): Credentials {
        const credentials = {
            accessKeyId: `ASIA${randomBytes(8).toString("hex").toUpperCase()}`,
            secretAccessKey: randomBytes(20).toString("base64"),
            sessionToken: randomBytes(48).toString("base64"),
        };
        this.node = { role, credentials, identity: { ...identity, accessKey: credentials.accessKeyId } };
        return credentials;
    }

    /** The next function URL requests are answered with these statuses instead (429: throttled; 502: the function failed). */
    failNext(...statuses: number[]): void {
        this.failures.push(...statuses);
    }

    close(): Promise<void> {
        this.server.closeAllConnections();
        return new Promise(resolve => this.server.close(() => resolve()));
    }

    private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const host = req.headers.host ?? "";
        const url = new URL(req.url ?? "/", `http://${host}`);
        const answer = (status: number, body: string, headers: Record<string, string> = {}) => {
            this.exchanges.push({ host, method: req.method ?? "", path: url.pathname + url.search, status });
            res.writeHead(status, { "content-type": "application/json", ...headers }).end(body);
        };
        try {
            if (host === IMDS_HOST) return this.metadata(req, url, answer);
            const region = FUNCTION_URL_HOST.exec(host)?.[1];
            if (!region) return answer(502, JSON.stringify({ Message: `no route to ${host}` }));
            const failure = this.failures.shift();
            if (failure !== undefined) return answer(failure, JSON.stringify({ Message: "injected" }));
            const refusal = await this.refusal(req, url, region, Buffer.concat(chunks));
            if (refusal) return answer(403, JSON.stringify({ Message: `Forbidden: ${refusal}` }));
            const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, [value].flat().join(",")]));
            const event = hookRequest(req.method ?? "GET", url.pathname + url.search, this.node!.identity, { headers, domain: host });
            const result = await this.invoke(event);
            if (result.error) return answer(502, JSON.stringify({ Message: "Internal Server Error" }));
            const response = result.value as { statusCode: number; headers: Record<string, string>; body: string };
            answer(response.statusCode, response.body, response.headers);
        } catch (err) {
            answer(500, JSON.stringify({ Message: String(err) }));
        }
    }

    /** IMDSv2: a session token first (PUT), then reads that carry it. */
    private metadata(req: IncomingMessage, url: URL, answer: (status: number, body: string) => void): void {
        if (url.pathname === "/latest/api/token") {
            if (req.method !== "PUT" || !req.headers["x-aws-ec2-metadata-token-ttl-seconds"]) return answer(400, "");
            return answer(200, this.token);
        }
        if (req.headers["x-aws-ec2-metadata-token"] !== this.token) return answer(401, "");
        const node = this.node;
        if (!node) return answer(404, "");
        if (url.pathname === "/latest/meta-data/iam/security-credentials/") return answer(200, node.role);
        if (url.pathname === `/latest/meta-data/iam/security-credentials/${node.role}`) {
            const { accessKeyId, secretAccessKey, sessionToken } = node.credentials;
            const expiration = new Date(Date.now() + 6 * 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
            // IMDS prints the document with a field on each line.
            return answer(200, [
                "{",
                '  "Code" : "Success",',
                `  "LastUpdated" : "${new Date().toISOString().replace(/\.\d+Z$/, "Z")}",`,
                '  "Type" : "AWS-HMAC",',
                `  "AccessKeyId" : "${accessKeyId}",`,
                `  "SecretAccessKey" : "${secretAccessKey}",`,
                `  "Token" : "${sessionToken}",`,
                `  "Expiration" : "${expiration}"`,
                "}",
            ].join("\n"));
        }
        answer(404, "");
    }

    /**
     * Why AWS would refuse the request before invoking (undefined: it would not): no
     * credentials it issued, a scope other than this region's `lambda`, no or another
     * session token, or a signature other than the one the credentials make of it.
     */
    private async refusal(req: IncomingMessage, url: URL, region: string, body: Buffer): Promise<string | undefined> {
        const authorization = req.headers.authorization ?? "";
        const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(authorization);
        if (!match) return "not signed with SigV4";
        const [, accessKeyId, , scopeRegion, service, signedHeaders] = match;
        const node = this.node;
        if (!node || accessKeyId !== node.credentials.accessKeyId) return "unknown access key";
        if (scopeRegion !== region || service !== "lambda") return `credential scoped to ${scopeRegion}/${service}, not ${region}/lambda`;
        if (req.headers["x-amz-security-token"] !== node.credentials.sessionToken) return "no or another session token";
        const amzDate = String(req.headers["x-amz-date"] ?? "");
        const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));
        if (Number.isNaN(signingDate.getTime())) return "no x-amz-date";
        const headers = Object.fromEntries(signedHeaders.split(";")
            .filter(name => !["x-amz-date", "x-amz-security-token", "authorization"].includes(name))
            .map(name => [name, [req.headers[name] ?? ""].flat().join(",")]));
        const signer = new SignatureV4({ service: "lambda", region, credentials: node.credentials, sha256: Sha256, applyChecksum: false });
        const expected = await signer.sign({
            method: req.method ?? "GET", protocol: "https:", hostname: req.headers.host ?? "", path: url.pathname,
            query: Object.fromEntries(url.searchParams), headers, body: body.length > 0 ? body : undefined,
        }, { signingDate });
        return expected.headers.authorization === authorization ? undefined : "the signature does not match";
    }
}
