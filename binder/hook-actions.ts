// What a worker may ask about itself through its node hook: bind me (at boot),
// drain me (on its way out), and what do I have. Each acts only on the calling
// instance and only on what EC2 says about it, and goes through the same steps as
// the event path (bind.ts, drain.ts): a hook and an event for one worker end in one
// binding, and a drain signalled twice is one drain.
import { bindEach, newPoolView, POOL_EXHAUSTED } from "./bind";
import { Context, describeTags, hasTags } from "./context";
import { drain } from "./drain";
import { Instance } from "./aws/ec2";
import { isNamedError } from "./errors";
import { Caller } from "./identity";
import { Logger } from "./log";
import { Claim, holdingSignals } from "./aws/store";

export type Route = "bind" | "drain" | "self";

/** An answer to a worker: its HTTP status, its JSON body and any extra headers. */
export interface HookAnswer {
    status: number;
    body: Record<string, unknown>;
    headers?: Record<string, string>;
}

/** Seconds a caller waits before it asks again: for an address a release frees, and for anything passing. */
export const RETRY_AFTER = { exhausted: 30, soon: 5 } as const;

/** An answer that asks the caller to come back after `seconds`. */
export const unavailable = (error: string, reason: string, seconds: number, instanceId?: string): HookAnswer =>
    ({ status: 503, body: { error, reason, ...(instanceId && { instanceId }) }, headers: { "retry-after": String(seconds) } });

/** EC2 states a worker may be in for each route: one that binds must run; one that drains or asks may be on its way out. */
const STATES: Record<Route, string[]> = {
    bind: ["running"],
    drain: ["running", "stopping", "shutting-down"],
    self: ["pending", "running", "stopping", "shutting-down"],
};

/**
 * Reads the caller from EC2 (one DescribeInstances): it must exist, be in a state
 * the route allows and carry every instance tag. Otherwise the answer that says
 * why, logged, with nothing written.
 */
export async function admit(ctx: Context, caller: Caller, route: Route, log: Logger): Promise<Instance | HookAnswer> {
    const { instanceId } = caller;
    const [instance] = await ctx.ec2.instances([instanceId]);
    const refuse = (status: number, error: string, reason: string): HookAnswer => {
        log.warn("hook refused", { outcome: error, route, reason, caller: caller.arn, state: instance?.state });
        return { status, body: { error, reason, instanceId } };
    };
    // An instance's credentials stay valid for hours after it stops or goes: a call about one that
    // EC2 shows stopped, gone or unknown is made with copied credentials, and refused.
    if (!instance) return refuse(403, "refused", `EC2 shows no instance ${instanceId}`);
    if (route === "bind" && instance.state === "pending") {
        return unavailable("not-running-yet", `EC2 shows ${instanceId} pending, not running yet`, RETRY_AFTER.soon, instanceId);
    }
    if (!STATES[route].includes(instance.state)) return refuse(403, "refused", `EC2 shows ${instanceId} ${instance.state}`);
    if (!hasTags(instance.tags, ctx.settings.instanceTags)) {
        return refuse(404, "not-a-target", `${instanceId} lacks an instance tag (${describeTags(ctx.settings.instanceTags)}): this stack does not serve it`);
    }
    return instance;
}

/**
 * The caller's claim, and whether its row is published for the run EC2 shows: a
 * row is written only once its worker is bound and named, in a transaction with
 * the address's lock, so a published row says the binding is whole.
 */
async function bindingOf(ctx: Context, instance: Instance): Promise<{ claim?: Claim; published: boolean }> {
    const { instanceId, launchedAt } = instance;
    const claim = await ctx.store.claim(instanceId);
    const row = claim && await ctx.store.server(claim.publicIp, claim.dnsName);
    return { claim, published: row?.instanceId === instanceId && (row.launchedAt === undefined || row.launchedAt === launchedAt) };
}

const bound = (instanceId: string, claim: Claim): HookAnswer =>
    ({ status: 200, body: { instanceId, publicIp: claim.publicIp, dnsName: claim.dnsName, allocationId: claim.allocationId } });

/**
 * Binds the caller as an event would (claim, lock, associate, name, row), over the
 * instance just read, and answers with its binding as its claim records it. A
 * worker already bound and published is answered from its drain item, claim and row
 * alone: a boot that asks again after a 503 costs three reads, not a bind. A drain the
 * worker started itself (cause `node`: its pod's preStop hook, when the pod was only
 * restarted) ends here, first; any other drain stands (409). An exhausted pool puts the
 * worker on the waitlist: the next release hands it an address.
 */
export async function bindSelf(ctx: Context, instance: Instance, log: Logger): Promise<HookAnswer> {
    const { instanceId } = instance;
    // A worker that asks to be bound ends its own drain first, whatever the bind then finds (an
    // exhausted pool, say). Only its own cause ends, and only as it was read: AWS's and an
    // operator's stand, and so does a signal that came since.
    const mark = await ctx.store.drainOf(instanceId);
    const own = holdingSignals(mark, instance.launchedAt).filter(signal => signal.cause === "node");
    if (mark && own.length > 0 && await ctx.store.endDrain(mark, own, false)) {
        const others = holdingSignals(mark, instance.launchedAt).filter(signal => signal.cause !== "node").map(signal => signal.cause);
        log.info("its own drain ends: it asks to be bound again", { action: "undrain", outcome: "undrained", cause: "node", signalledAt: own[0].signalledAt, others });
    }
    // Answered from the claim and the row only when nothing else holds it back; otherwise the bind says why (409).
    const drained = holdingSignals(mark, instance.launchedAt).some(signal => signal.cause !== "node");
    const known = await bindingOf(ctx, instance);
    if (known.claim && known.published && !drained) {
        log.info("already bound and published; answered from its claim", { action: "bind", outcome: "already-bound", allocationId: known.claim.allocationId });
        return bound(instanceId, known.claim);
    }
    const [result] = await bindEach(ctx, [instance], newPoolView());
    if (!result) return unavailable("no-time", "the invocation had too little time left to start the bind", RETRY_AFTER.soon, instanceId);
    if ("error" in result) {
        const { error } = result;
        ctx.metrics.failed(error instanceof Error ? error.name : "Error");
        log.error("bind failed; the worker may ask again, and its event binds it", { outcome: "failed", error });
        const message = error instanceof Error ? error.message : String(error);
        return isNamedError(error, POOL_EXHAUSTED)
            ? unavailable("pool-exhausted", `${message}; ${instanceId} waits for the next address a release frees`, RETRY_AFTER.exhausted, instanceId)
            : unavailable("bind-failed", message, RETRY_AFTER.soon, instanceId);
    }
    if (result.outcome === "draining") {
        return { status: 409, body: { error: "draining", reason: `${instanceId} is draining (a drain it did not start): it takes no address and publishes no row`, instanceId } };
    }
    const claim = result.outcome === "bound" || result.outcome === "already-bound" ? await ctx.store.claim(instanceId) : undefined;
    if (!claim) return unavailable("bind-failed", `${instanceId} was not bound (${result.outcome})`, RETRY_AFTER.soon, instanceId);
    return bound(instanceId, claim);
}

/** Drains the caller (cause `node`, signalled now): its row goes at once, its address and name stay until it terminates. */
export async function drainSelf(ctx: Context, instance: Instance): Promise<HookAnswer> {
    const outcome = await drain(ctx, instance, [{ cause: "node", signalledAt: ctx.now().toISOString() }]);
    return { status: 200, body: { instanceId: instance.instanceId, outcome } };
}

/** The caller's binding as its claim records it, whether its row is published for this run, and its drain (every cause that holds). */
export async function describeSelf(ctx: Context, instance: Instance): Promise<HookAnswer> {
    const { instanceId, launchedAt } = instance;
    const [{ claim, published }, mark] = await Promise.all([bindingOf(ctx, instance), ctx.store.drainOf(instanceId)]);
    const holding = holdingSignals(mark, launchedAt).map(({ cause, signalledAt, deadline }) => ({ cause, signalledAt, ...(deadline && { deadline }) }));
    // The first cause signalled, and every cause that holds.
    const draining = holding.length > 0 ? { ...holding[0], causes: holding } : null;
    return {
        status: 200,
        body: {
            instanceId,
            state: instance.state,
            binding: claim ? { publicIp: claim.publicIp, dnsName: claim.dnsName, allocationId: claim.allocationId } : null,
            published,
            draining,
        },
    };
}
