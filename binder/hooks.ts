// The node hooks' function, behind a Lambda function URL with AWS_IAM auth: a
// worker's user data asks it to bind the worker at boot, and a pod's preStop hook
// to drain it. Lambda checks the SigV4 signature and the function's resource policy
// (only the node roles may invoke) before the request arrives; the function takes
// the caller from the identity Lambda authenticated, never from the request, and
// acts only on what EC2 says about that instance.
import { Context } from "./context";
import { admit, bindSelf, describeSelf, drainSelf, HookAnswer, Route, RETRY_AFTER, unavailable } from "./hook-actions";
import { accountOf, IamIdentity, identify, NodeRole } from "./identity";
import { Instance } from "./aws/ec2";
import { Logger } from "./log";

/** A function URL request as Lambda delivers it (payload format version 2.0): the parts the hooks read. */
export interface FunctionUrlRequest {
    version?: string;
    rawPath?: string;
    queryStringParameters?: Record<string, string>;
    requestContext?: { http?: { method?: string }; authorizer?: { iam?: IamIdentity } };
}

/** What the function returns; Lambda makes the HTTP answer of it. */
export interface FunctionUrlResponse {
    statusCode: number;
    headers: Record<string, string>;
    body: string;
}

/** What the function knows besides the request: its own ARN, from Lambda's context, and the node roles. */
export interface HookSetting {
    functionArn?: string;
    roles: NodeRole[];
}

const ROUTES: Record<string, { method: string; route: Route }> = {
    "/bind": { method: "POST", route: "bind" },
    "/drain": { method: "POST", route: "drain" },
    "/self": { method: "GET", route: "self" },
};

const ACTIONS: Record<Route, (ctx: Context, instance: Instance, log: Logger) => Promise<HookAnswer>> = {
    bind: bindSelf,
    drain: drainSelf,
    self: describeSelf,
};

/** Kept back from the invocation's timeout: a request is answered at least this long before Lambda would cut it off. */
const ANSWER_MARGIN_MS = 3_000;

/** The longest `?wait=` a caller may ask for, in seconds: Lambda's longest timeout. */
const WAIT_LIMIT = 900;

/**
 * Answers one request: who calls (Lambda's word), which route, then EC2's word
 * on the caller, then the route's work, within the caller's `?wait=` seconds and
 * the invocation's time. An answer that cannot wait longer is 503 with
 * Retry-After; the work it cut short goes on while the invocation's environment
 * does, and every step of it is safe to leave half done (the next request, the
 * worker's event or the reconciler finishes it).
 */
export async function answerHook(ctx: Context, event: unknown, setting: HookSetting): Promise<FunctionUrlResponse> {
    const started = ctx.now().getTime();
    const { answer, route } = await handle(ctx, event, setting);
    ctx.log.info("hook answered", {
        action: "hook", route, instanceId: answer.body.instanceId, status: answer.status, error: answer.body.error, ms: ctx.now().getTime() - started,
    });
    return { statusCode: answer.status, headers: { "content-type": "application/json", ...answer.headers }, body: JSON.stringify(answer.body) };
}

const badRequest = (reason: string): HookAnswer => ({ status: 400, body: { error: "bad-request", reason } });

async function handle(ctx: Context, event: unknown, setting: HookSetting): Promise<{ answer: HookAnswer; route?: Route }> {
    const request = event as FunctionUrlRequest | undefined;
    if (typeof request !== "object" || request === null || request.version !== "2.0") {
        ctx.log.error("not a function URL request", { outcome: "malformed", event });
        return { answer: badRequest("not a function URL request (payload format version 2.0)") };
    }
    const iam = request.requestContext?.authorizer?.iam;
    const identity = identify(iam, accountOf(setting.functionArn), setting.roles);
    if ("refused" in identity) {
        ctx.log.warn("hook refused", { outcome: "refused", reason: identity.refused, caller: iam?.userArn, path: request.rawPath });
        return { answer: { status: 403, body: { error: "refused", reason: identity.refused } } };
    }
    const { caller } = identity;
    // Own properties only, so that a path such as `__proto__` or `constructor` finds nothing of Object's prototype.
    // (Not a Map: the archive's serializer does not carry one.)
    const path = request.rawPath ?? "";
    const known = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
    const method = request.requestContext?.http?.method;
    if (!known) return { answer: { status: 404, body: { error: "no-such-route", reason: `no ${request.rawPath}: the hooks are POST /bind, POST /drain and GET /self` } } };
    const { route } = known;
    if (method !== known.method) {
        return { route, answer: { status: 405, body: { error: "method-not-allowed", reason: `${request.rawPath} takes ${known.method}, not ${method}` }, headers: { allow: known.method } } };
    }
    const wait = request.queryStringParameters?.wait;
    if (wait !== undefined && !(/^\d+$/.test(wait) && Number(wait) >= 1 && Number(wait) <= WAIT_LIMIT)) {
        return { route, answer: badRequest(`wait must be a whole number of seconds from 1 to ${WAIT_LIMIT}, not '${wait}'`) };
    }
    const log = ctx.log.with({ instanceId: caller.instanceId, action: "hook" });
    const work = (async () => {
        const admitted = await admit(ctx, caller, route, log);
        return "status" in admitted ? admitted : ACTIONS[route](ctx, admitted, log);
    })().catch(error => {
        ctx.metrics.failed(error instanceof Error ? error.name : "Error");
        log.error("hook failed", { outcome: "failed", route, error });
        return unavailable("failed", error instanceof Error ? error.message : String(error), RETRY_AFTER.soon, caller.instanceId);
    });
    const limitMs = Math.min(wait === undefined ? Infinity : Number(wait) * 1000, ctx.timeLeft() - ANSWER_MARGIN_MS);
    return { route, answer: await within(work, limitMs, caller.instanceId, route) };
}

/** The work's answer, or 503 once `limitMs` has passed; the work is not stopped. */
async function within(work: Promise<HookAnswer>, limitMs: number, instanceId: string, route: Route): Promise<HookAnswer> {
    if (limitMs === Infinity) return work;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<HookAnswer>(resolve => {
        timer = setTimeout(() => resolve(unavailable("time-ran-out",
            `no answer within ${Math.round(Math.max(0, limitMs) / 1000)} s; the ${route} goes on meanwhile, and asking again is safe`,
            RETRY_AFTER.soon, instanceId)), Math.max(0, limitMs));
    });
    try {
        return await Promise.race([work, late]);
    } finally {
        clearTimeout(timer);
    }
}
