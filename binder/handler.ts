import { bind } from "./bind";
import { createClients } from "./clients";
import { binderSettingsFromEnv } from "./config";
import { Context } from "./context";
import { Dns } from "./dns";
import { Ec2 } from "./ec2";
import { isNamedError, namedError } from "./errors";
import { MALFORMED, readEvent } from "./events";
import { createLogger, Logger } from "./log";
import { createMetrics } from "./metrics";
import { reconcile, Reconciliation } from "./reconcile";
import { release } from "./release";
import { Store } from "./store";

/** The part of the Lambda context the handler reads. */
export interface InvocationContext {
    awsRequestId?: string;
}

export type EventHandler = (event: unknown, context?: InvocationContext) => Promise<void>;
export type ReconcileHandler = (event: unknown, context?: InvocationContext) => Promise<Reconciliation>;

/**
 * Everything a handler needs, built once per cold start: settings from the
 * environment, SDK clients, logger. `perInvocation` adds the request id to the
 * logs and starts fresh metrics.
 */
function coldStart(): (context?: InvocationContext) => Context {
    const settings = binderSettingsFromEnv(process.env);
    const clients = createClients();
    const log: Logger = createLogger();
    const base = {
        settings,
        ec2: new Ec2(clients.ec2),
        store: new Store(clients.dynamodb, settings.serversTable, settings.claimsTable),
        dns: new Dns(clients.route53, settings.hostedZoneId, settings.dnsTtl),
        now: () => new Date(),
    };
    return context => ({ ...base, log: log.with({ requestId: context?.awsRequestId }), metrics: createMetrics(settings.stack) });
}

/**
 * The EC2 state-change handler. A malformed event is logged and dropped; any
 * other failure is thrown so that Lambda retries the event.
 */
export function createEventHandler(): EventHandler {
    const perInvocation = coldStart();
    return async (event, context) => {
        const ctx = perInvocation(context);
        try {
            await handle(ctx, event);
        } finally {
            ctx.metrics.flush();
        }
    };
}

/** The scheduled reconciler; fails the invocation if any drift could not be fixed. */
export function createReconcileHandler(): ReconcileHandler {
    const perInvocation = coldStart();
    return async (_event, context) => {
        const ctx = perInvocation(context);
        try {
            const result = await reconcile(ctx, { dryRun: false });
            if (result.failed.length > 0) {
                ctx.metrics.failed("ReconcileError");
                throw namedError("ReconcileError", `${result.failed.length} drift(s) could not be fixed: ${result.failed.map(f => `${f.drift.kind} ${f.drift.instanceId ?? f.drift.allocationId}: ${f.error}`).join("; ")}`);
            }
            return result;
        } finally {
            ctx.metrics.flush();
        }
    };
}

async function handle(ctx: Context, event: unknown): Promise<void> {
    let intent;
    try {
        intent = readEvent(event);
    } catch (err) {
        if (!isNamedError(err, MALFORMED)) throw err;
        ctx.log.error("malformed event dropped", { outcome: "malformed", reason: err.message, event });
        ctx.metrics.failed(MALFORMED);
        return;
    }
    const { action, instanceId, state } = intent;
    try {
        if (action === "bind") await bind(ctx, instanceId);
        else if (action === "release") await release(ctx, instanceId);
        else ctx.log.info("state needs no action", { instanceId, state, outcome: "ignored" });
    } catch (err) {
        ctx.log.error(`${action} failed; the event will be retried`, { instanceId, state, outcome: "failed", error: err });
        ctx.metrics.failed(err instanceof Error ? err.name : "Error");
        throw err;
    }
}
