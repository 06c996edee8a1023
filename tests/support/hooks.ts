// Requests to the node hooks as Lambda delivers them through a function URL with
// AWS_IAM auth (payload format version 2.0, "Invoking Lambda function URLs",
// request payload), from the callers a test needs: a worker's instance-profile
// session, and the identities the hooks must refuse.
import { randomUUID } from "node:crypto";
import { IamIdentity } from "../../binder/identity";
import { InvokeResult } from "../../tools/lambda-process";
import { ACCOUNT, NODE_ROLE } from "./world";

/** What Lambda puts in requestContext.authorizer.iam. */
export type Authorizer = Required<IamIdentity> & { principalOrgId: string | null; cognitoIdentity: null };

const ROLE_ID = "AROAEXAMPLEROLEID0001";

/** A caller's identity as Lambda reports it; `userArn` decides what kind of principal it is. */
function authorizer(userArn: string, userId: string, accountId = ACCOUNT): Authorizer {
    return { accessKey: "ASIAEXAMPLEKEY000001", accountId, callerId: userId, userArn, userId, principalOrgId: null, cognitoIdentity: null };
}

export const callers = {
    /** A worker: its instance profile's session, named by EC2 after the instance. */
    instance: (instanceId: string, role = NODE_ROLE, account = ACCOUNT) =>
        authorizer(`arn:aws:sts::${account}:assumed-role/${role}/${instanceId}`, `${ROLE_ID}:${instanceId}`, account),
    /** A session of a node role that someone named (only a principal the trust policy admits can make one). */
    session: (name: string, role = NODE_ROLE) => authorizer(`arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${name}`, `${ROLE_ID}:${name}`),
    user: (name: string) => ({ ...authorizer(`arn:aws:iam::${ACCOUNT}:user/${name}`, "AIDAEXAMPLEUSERID0001"), accessKey: "AKIAEXAMPLEKEY000001" }),
    /** GetFederationToken's session of an IAM user. */
    federated: (name: string) => authorizer(`arn:aws:sts::${ACCOUNT}:federated-user/${name}`, `${ACCOUNT}:${name}`),
    /** An IAM Identity Center (SSO) user: a session of a reserved role, named after the user. */
    sso: (email: string) => authorizer(`arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0123456789abcdef/${email}`, `AROAEXAMPLESSOID0001:${email}`),
};

/** A function URL's host name: an id Lambda makes up, and the function's region. */
const DOMAIN = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws";

/**
 * The request Lambda hands the function for `method path?query` from `caller`, at the
 * function URL `domain`, with the headers the request carried.
 */
export function hookRequest(method: string, pathAndQuery: string, caller: Authorizer, options: { headers?: Record<string, string>; domain?: string } = {}): Record<string, unknown> {
    const domain = options.domain ?? DOMAIN;
    const urlId = domain.split(".")[0];
    const url = new URL(pathAndQuery, `https://${domain}`);
    const now = new Date();
    const query = url.search.slice(1);
    return {
        version: "2.0",
        routeKey: "$default",
        rawPath: url.pathname,
        rawQueryString: query,
        headers: {
            "host": domain, "x-amzn-trace-id": `Root=1-${randomUUID()}`, "x-forwarded-proto": "https", "x-forwarded-port": "443",
            "x-forwarded-for": "198.51.100.10", "accept": "*/*", "user-agent": "curl/8.5.0", ...options.headers,
        },
        ...(query && { queryStringParameters: Object.fromEntries(url.searchParams) }),
        requestContext: {
            accountId: ACCOUNT,
            apiId: urlId,
            authorizer: { iam: caller },
            domainName: domain,
            domainPrefix: urlId,
            http: { method, path: url.pathname, protocol: "HTTP/1.1", sourceIp: "198.51.100.10", userAgent: "curl/8.5.0" },
            requestId: randomUUID(),
            routeKey: "$default",
            stage: "$default",
            time: now.toUTCString(),
            timeEpoch: now.getTime(),
        },
        isBase64Encoded: false,
    };
}

/** A hook's answer as the caller sees it: status, headers and the JSON body. */
export interface Answer {
    status: number;
    headers: Record<string, string>;
    body: Record<string, any>;
}

/** Reads the function's response out of an invocation through the Lambda host; fails on an invocation error. */
export function answerOf(result: InvokeResult): Answer {
    if (result.error) throw new Error(`the hook function failed: ${result.error.name}: ${result.error.message}`);
    const response = result.value as { statusCode: number; headers: Record<string, string>; body: string };
    return { status: response.statusCode, headers: response.headers, body: JSON.parse(response.body) };
}
