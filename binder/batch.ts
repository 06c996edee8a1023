// What one SQS batch of EventBridge events asks the binder to do, instance by instance.
import { isNamedError } from "./errors";
import { MALFORMED, malformed, readEvent } from "./events";

/** The batch Lambda's SQS event source mapping hands the function. */
export interface QueueBatch {
    Records: { messageId: string; body: string }[];
}

/** One instance's events in a batch, and the one thing to do about them. */
export interface Work {
    instanceId: string;
    states: string[];
    /** The messages to report failed if the work fails, so that SQS delivers them again. */
    messageIds: string[];
}

/** A message that is not an EC2 state change: it is logged and dropped, never retried. */
export interface Dropped {
    messageId?: string;
    reason: string;
    body: unknown;
}

export interface BatchWork {
    /** Instances going away. A terminated instance never runs again, so this wins over any running event. */
    releases: Work[];
    binds: Work[];
    /** Instances whose only events are states that need nothing (the rule does not send these). */
    ignored: Work[];
    dropped: Dropped[];
}

/**
 * Reads a batch into work per instance: duplicates of one instance's events (at
 * least once delivery) become one piece of work. Throws a MalformedEventError when
 * the event is not an SQS batch at all.
 */
export function readBatch(event: unknown): BatchWork {
    const records = (event as Partial<QueueBatch> | null)?.Records;
    if (!Array.isArray(records)) throw malformed("the event is not an SQS batch (it has no Records list)");
    const byInstance = new Map<string, Work & { action: "bind" | "release" | "ignore" }>();
    const dropped: Dropped[] = [];
    for (const record of records as unknown[]) {
        const { messageId, body } = (record ?? {}) as Record<string, unknown>;
        if (typeof messageId !== "string" || messageId === "") {
            dropped.push({ reason: "the record has no messageId", body: record });
            continue;
        }
        let intent;
        try {
            intent = readEvent(parseBody(body));
        } catch (err) {
            if (!isNamedError(err, MALFORMED)) throw err;
            dropped.push({ messageId, reason: err.message, body });
            continue;
        }
        const work = byInstance.get(intent.instanceId) ?? { instanceId: intent.instanceId, action: intent.action, states: [], messageIds: [] };
        work.states.push(intent.state);
        work.messageIds.push(messageId);
        if (RANK[intent.action] > RANK[work.action]) work.action = intent.action;
        byInstance.set(intent.instanceId, work);
    }
    const all = [...byInstance.values()];
    const of = (action: string) => all.filter(w => w.action === action).map(({ instanceId, states, messageIds }) => ({ instanceId, states, messageIds }));
    return { releases: of("release"), binds: of("bind"), ignored: of("ignore"), dropped };
}

const RANK = { ignore: 0, bind: 1, release: 2 };

function parseBody(body: unknown): unknown {
    if (typeof body !== "string") throw malformed("the message body is not a string");
    try {
        return JSON.parse(body);
    } catch {
        throw malformed("the message body is not JSON");
    }
}
