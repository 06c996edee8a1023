import { BatchWork, Dropped, readBatch, Receipt, Work } from "./batch";
import { connect, connectEventQueue, StoreFactory } from "./aws/connect";
import { binderSettingsFromEnv, drainOnFromEnv, eventQueueUrlFromEnv, nodeRolesFromEnv, reconcileConcurrencyFromEnv } from "./config";
import { Context } from "./context";
import { isNamedError, namedError } from "./errors";
import { DRAIN_REASONS, DrainReason, MALFORMED } from "./events";
import { answerHook, FunctionUrlResponse } from "./hooks";
import { announcedPhase } from "./lifecycle";
import { createLogger, Logger } from "./log";
import { createMetrics } from "./metrics";
import { Redeliveries } from "./aws/queue";
import { reconcile, Reconciliation } from "./reconcile";
import { confirmationDelay, redeliveryDelay } from "./redelivery";
import { settleAll } from "./settle";

/** The part of the Lambda context the handler reads. */
export interface InvocationContext {
    awsRequestId?: string;
    getRemainingTimeInMillis?: () => number;
    /** The function's own ARN: the node hooks serve only its account. */
    invokedFunctionArn?: string;
}

/** The partial batch response: the messages SQS must deliver again (ReportBatchItemFailures). */
export interface BatchResponse {
    batchItemFailures: { itemIdentifier: string }[];
}

export type EventHandler = (event: unknown, context?: InvocationContext) => Promise<BatchResponse>;
export type ReconcileHandler = (event: unknown, context?: InvocationContext) => Promise<Reconciliation>;
export type HookHandler = (event: unknown, context?: InvocationContext) => Promise<FunctionUrlResponse>;

/** What a handler may be given instead of what it ships with; the Lambda passes nothing. */
export interface HandlerOptions {
    /** Makes the Store it works with (a bench baseline's); the stack's tables' Store by default. */
    store?: StoreFactory;
}

/**
 * Everything a handler needs, built once per cold start: settings from the
 * environment, the AWS layer, logger. `perInvocation` adds the request id to the
 * logs, starts fresh metrics and reads the time left from the Lambda context.
 */
function coldStart(options: HandlerOptions = {}): (context?: InvocationContext) => Context {
    const settings = binderSettingsFromEnv(process.env);
    const { layer } = connect(settings, { store: options.store });
    const log: Logger = createLogger();
    const base = {
        settings,
        ...layer,
        now: () => new Date(),
    };
    return context => ({
        ...base,
        log: log.with({ requestId: context?.awsRequestId }),
        metrics: createMetrics(settings.stack),
        timeLeft: () => context?.getRemainingTimeInMillis?.() ?? Infinity,
    });
}

/**
 * The EC2 state-change handler, fed batches by the event queue. A malformed
 * message is logged and dropped; the messages of an instance whose work failed,
 * that wait for EC2 to show what they announce or to confirm a drain signal, or that it had no time left to
 * start, are reported back, so that SQS delivers them again, and handed back to
 * the queue to come back soon rather than after its visibility timeout.
 */
export function createEventHandler(options: HandlerOptions = {}): EventHandler {
    const perInvocation = coldStart(options);
    const queue = connectEventQueue(eventQueueUrlFromEnv(process.env));
    const drainOn = drainOnFromEnv(process.env);
    return async (event, context) => {
        const ctx = perInvocation(context);
        try {
            return await handleBatch(ctx, queue, event, drainOn);
        } finally {
            ctx.metrics.flush();
        }
    };
}

/**
 * The scheduled reconciler. It fails the invocation when a fix failed (an AWS error
 * the SDK gave up on, a race with an event that the next run sees settled), not for
 * targets left waiting because the pool had no free address, nor for drift left
 * for lack of time: those are reported, and the next run finds them again.
 */
export function createReconcileHandler(): ReconcileHandler {
    const perInvocation = coldStart();
    const concurrency = reconcileConcurrencyFromEnv(process.env);
    return async (_event, context) => {
        const ctx = perInvocation(context);
        try {
            const result = await reconcile(ctx, { dryRun: false, concurrency });
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

/** The node hooks, behind the function URL: a worker binds itself, drains itself, or asks what it has. */
export function createHookHandler(): HookHandler {
    const perInvocation = coldStart();
    const roles = nodeRolesFromEnv(process.env);
    return async (event, context) => {
        const ctx = perInvocation(context);
        try {
            return await answerHook(ctx, event, { functionArn: context?.invokedFunctionArn, roles });
        } finally {
            ctx.metrics.flush();
        }
    };
}

/**
 * Handles one batch in an invocation's context: what the Lambda handler does once
 * it has its clients, and what the interleaving explorer drives directly.
 */
export async function handleBatch(ctx: Context, queue: Redeliveries, event: unknown, drainOn: readonly DrainReason[] = DRAIN_REASONS): Promise<BatchResponse> {
    let batch: BatchWork;
    try {
        batch = readBatch(event, drainOn);
    } catch (err) {
        if (!isNamedError(err, MALFORMED)) throw err;
        drop(ctx, { reason: err.message, body: event });
        return { batchItemFailures: [] };
    }
    batch.dropped.forEach(dropped => drop(ctx, dropped));
    for (const { instanceId, states } of batch.ignored) ctx.log.info("state needs no action", { instanceId, states: states.map(s => s.state), outcome: "ignored" });
    for (const messageId of batch.idle) ctx.log.info("event needs no action", { messageId, outcome: "ignored" });

    // The messages SQS must deliver again: of work that failed, that waits for EC2, or that was not started.
    const again: Again[] = [];
    const fail = (work: Work, err: unknown) => {
        ctx.log.error("failed; its events will be delivered again", { instanceId: work.instanceId, states: work.states.map(s => s.state), drains: work.drains.map(d => d.signal.reason), outcome: "failed", error: err });
        ctx.metrics.failed(err instanceof Error ? err.name : "Error");
        again.push(...work.messageIds.map(messageId => ({ messageId, why: "failed" as const })));
    };
    const receiveCount = (messageId: string) => batch.receipts.get(messageId)?.receiveCount ?? 1;
    const work = batch.instances.map(w => ({
        instanceId: w.instanceId,
        announcements: w.states.flatMap(({ messageId, state }) => {
            const phase = announcedPhase(state);
            return phase ? [{ messageId, phase, receiveCount: receiveCount(messageId) }] : [];
        }),
        drains: w.drains.map(({ messageId, signal }) => ({
            messageId, receiveCount: receiveCount(messageId), notice: { cause: signal.reason, signalledAt: signal.signalledAt, deadline: signal.deadline },
        })),
    }));
    const settled = await settleAll(ctx, work);
    for (const w of batch.instances) {
        const result = settled.find(r => r.instanceId === w.instanceId);
        if (!result) continue;
        if ("error" in result) fail(w, result.error);
        else again.push(...result.wait.map(messageId => ({ messageId, why: "waiting" as const })), ...result.confirming.map(messageId => ({ messageId, why: "confirming" as const })));
    }
    const postponed = batch.instances.filter(w => !settled.some(r => r.instanceId === w.instanceId));
    if (postponed.length > 0) {
        ctx.log.warn("the invocation is nearly out of time; these events will be delivered again", {
            instanceIds: postponed.map(w => w.instanceId), outcome: "postponed", timeLeftMs: ctx.timeLeft(),
        });
        again.push(...postponed.flatMap(w => w.messageIds).map(messageId => ({ messageId, why: "postponed" as const })));
    }
    // A message that names several instances (a scheduled change) comes again once, if any of them needs it.
    const once = again.filter((a, i) => again.findIndex(b => b.messageId === a.messageId) === i);
    if (once.length > 0) await redeliverSoon(ctx, queue, once, batch.receipts);
    return { batchItemFailures: once.map(({ messageId }) => ({ itemIdentifier: messageId })) };
}

/** A message to deliver again: of work that failed, that waits for EC2 to catch up or to confirm a signal, or that was not started for lack of time. */
interface Again {
    messageId: string;
    why: "failed" | "waiting" | "confirming" | "postponed";
}

/** Seconds until a message comes again: at once when not started; soon for a signal EC2 has yet to confirm; backing off otherwise. */
function delayOf(why: Again["why"], receiveCount: number): number {
    if (why === "postponed") return 0;
    return why === "confirming" ? confirmationDelay(receiveCount) : redeliveryDelay(receiveCount);
}

/**
 * Makes messages visible again soon: a failed one, or one waiting for EC2, after a
 * delay that grows with its deliveries; one not started at once (it did not fail).
 * If that fails too, nothing is lost: they come back when their visibility timeout ends.
 */
async function redeliverSoon(ctx: Context, queue: Redeliveries, again: Again[], receipts: Map<string, Receipt>): Promise<void> {
    const messages = again.flatMap(({ messageId, why }) => {
        const receipt = receipts.get(messageId);
        return receipt ? [{ messageId, receiptHandle: receipt.receiptHandle, delaySeconds: delayOf(why, receipt.receiveCount) }] : [];
    });
    const late = "they will be delivered again when their visibility timeout ends";
    try {
        const refused = new Map((await queue.redeliver(messages)).map(r => [r.receiptHandle, r]));
        for (const { messageId, receiptHandle, delaySeconds } of messages) {
            const refusal = refused.get(receiptHandle);
            if (refusal) ctx.log.warn(`the queue refused an early redelivery; ${late}`, { messageId, code: refusal.code, reason: refusal.message });
            else ctx.log.info("message will be delivered again", { messageId, delaySeconds });
        }
    } catch (err) {
        ctx.log.warn(`could not hand messages back early; ${late}`, { messageIds: messages.map(m => m.messageId), error: err });
    }
}

function drop(ctx: Context, { messageId, reason, body }: Dropped): void {
    ctx.log.error("malformed event dropped", { outcome: "malformed", reason, messageId, event: body });
    ctx.metrics.failed(MALFORMED);
}
