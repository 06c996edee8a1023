// What one SQS batch of EventBridge events asks the binder to do, instance by instance.
import { isNamedError } from "./errors";
import { DRAIN_REASONS, DrainReason, DrainSignal, MALFORMED, malformed, readEvent } from "./events";
import { announcedPhase } from "./lifecycle";

/** The batch Lambda's SQS event source mapping hands the function. */
export interface QueueBatch {
    Records: { messageId: string; body: string; receiptHandle?: string; attributes?: { ApproximateReceiveCount?: string } }[];
}

/** How to hand a received message back to the queue, and how often it has been delivered. */
export interface Receipt {
    receiptHandle: string;
    receiveCount: number;
}

/** One instance's events in a batch: the states it entered and the signals that it goes. */
export interface Work {
    instanceId: string;
    /** The states it entered, in the order received, each with its message. */
    states: { messageId: string; state: string }[];
    /** Signals that it is about to go, each with its message (one message may name several instances). */
    drains: { messageId: string; signal: DrainSignal }[];
    /** Every message about it: those to report failed if the work fails, so that SQS delivers them again. */
    messageIds: string[];
}

/** A message that is not an event the binder knows: it is logged and dropped, never retried. */
export interface Dropped {
    messageId?: string;
    reason: string;
    body: unknown;
}

export interface BatchWork {
    /** Instances with at least one message announcing a phase (see lifecycle.ts) or a drain: EC2 decides what each needs. */
    instances: Work[];
    /** Instances whose only events are states that need nothing (the rule does not send these). */
    ignored: Work[];
    /** Messages about nothing to do (a scheduled change that is over, a signal the stack does not drain on). */
    idle: string[];
    dropped: Dropped[];
    /** Each message's receipt, by message id (a record without a receipt handle has none). */
    receipts: Map<string, Receipt>;
}

/**
 * Reads a batch into work per instance: duplicates of one instance's events (at
 * least once delivery) become one piece of work. A drain signal not in `drainOn`
 * has no rule of the stack's behind it, so it needs nothing. Throws a
 * MalformedEventError when the event is not an SQS batch at all.
 */
export function readBatch(event: unknown, drainOn: readonly DrainReason[] = DRAIN_REASONS): BatchWork {
    const records = (event as Partial<QueueBatch> | null)?.Records;
    if (!Array.isArray(records)) throw malformed("the event is not an SQS batch (it has no Records list)");
    const byInstance = new Map<string, Work>();
    const dropped: Dropped[] = [];
    const idle: string[] = [];
    const receipts = new Map<string, Receipt>();
    for (const record of records as unknown[]) {
        const { messageId, body, receiptHandle, attributes } = (record ?? {}) as Record<string, unknown>;
        if (typeof messageId !== "string" || messageId === "") {
            dropped.push({ reason: "the record has no messageId", body: record });
            continue;
        }
        if (typeof receiptHandle === "string" && receiptHandle !== "") {
            receipts.set(messageId, { receiptHandle, receiveCount: receiveCountOf(attributes) });
        }
        let events;
        try {
            events = readEvent(parseBody(body));
        } catch (err) {
            if (!isNamedError(err, MALFORMED)) throw err;
            dropped.push({ messageId, reason: err.message, body });
            continue;
        }
        events = events.filter(event => event.kind === "state" || drainOn.includes(event.reason));
        if (events.length === 0) idle.push(messageId);
        for (const event of events) {
            const work = byInstance.get(event.instanceId) ?? { instanceId: event.instanceId, states: [], messageIds: [], drains: [] };
            if (event.kind === "state") work.states.push({ messageId, state: event.state });
            else work.drains.push({ messageId, signal: event });
            if (!work.messageIds.includes(messageId)) work.messageIds.push(messageId);
            byInstance.set(event.instanceId, work);
        }
    }
    const all = [...byInstance.values()];
    const announces = (work: Work) => work.drains.length > 0 || work.states.some(({ state }) => announcedPhase(state) !== undefined);
    return { instances: all.filter(announces), ignored: all.filter(work => !announces(work)), idle, dropped, receipts };
}

/** SQS's ApproximateReceiveCount, a string; 1 when it is missing or not a count. */
function receiveCountOf(attributes: unknown): number {
    const count = Number((attributes as { ApproximateReceiveCount?: unknown } | null | undefined)?.ApproximateReceiveCount);
    return Number.isInteger(count) && count >= 1 ? count : 1;
}

function parseBody(body: unknown): unknown {
    if (typeof body !== "string") throw malformed("the message body is not a string");
    try {
        return JSON.parse(body);
    } catch {
        throw malformed("the message body is not JSON");
    }
}
