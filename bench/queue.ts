// An SQS standard queue and Lambda's event source mapping, as the stack deploys
// them for our binder: every event is one message; a poller takes up to
// `batchSize` visible messages for one invocation (no batching window), which
// hides them for the visibility timeout. The handler's partial batch response
// (ReportBatchItemFailures) names the messages that failed; the others are
// deleted. A failed message, or every message of an invocation that threw or
// timed out, reappears when its visibility timeout ends (counted from the
// receive, as in SQS) or, if the handler changed its visibility, that many
// seconds after the change; one that fails on its `maxReceives`th receive goes
// to the dead-letter queue instead. Events can also arrive while the run goes
// on (`Arrival`): each is sent at its time, whether or not a poller is free.
import { randomUUID } from "node:crypto";
import type { Delivery, Outcome, Source } from "./source";

export interface QueueOptions {
    batchSize: number;
    visibilityTimeoutMs: number;
    /** The redrive policy's maxReceiveCount. */
    maxReceives: number;
}

/**
 * An event sent `at` ms after the run begins. `send` makes the world show what the
 * event says (an instance's new state, say) and returns the event, made then, so
 * that its time is the moment it was sent.
 */
export interface Arrival {
    at: number;
    send: () => unknown;
}

interface Message {
    id: string;
    event: number;
    body: string;
    sentAt: number;
    receives: number;
    visibleAt: number;
}

const ARN = "arn:aws:sqs:us-east-1:123456789012:bench-instance-events";

export class QueueSource implements Source {
    /** The queue, in the order sent; a message leaves it when deleted or dead-lettered. */
    private readonly messages = new Map<string, Message>();
    /** The messages each running invocation received. */
    private readonly received = new Map<Delivery, Message[]>();
    /** Arrivals not sent yet, soonest first, at absolute times; an arrival's event number follows the initial events'. */
    private readonly arrivals: { at: number; send: () => unknown; event: number }[];

    constructor(events: unknown[], now: number, private readonly options: QueueOptions, arrivals: Arrival[] = []) {
        events.forEach((event, index) => this.enqueue(event, index, now));
        this.arrivals = [...arrivals].sort((a, b) => a.at - b.at).map((a, i) => ({ at: now + a.at, send: a.send, event: events.length + i }));
    }

    private enqueue(event: unknown, index: number, now: number): void {
        const id = randomUUID();
        this.messages.set(id, { id, event: index, body: JSON.stringify(event), sentAt: Date.now(), receives: 0, visibleAt: now });
    }

    /** Sends every arrival due by `now`: the world changes, then its message is in the queue. */
    arrive(now: number): void {
        while (this.arrivals.length > 0 && this.arrivals[0].at <= now) {
            const { send, event } = this.arrivals.shift()!;
            this.enqueue(send(), event, now);
        }
    }

    /** When the next arrival is due; undefined once all are sent. */
    nextArrival(): number | undefined {
        return this.arrivals[0]?.at;
    }

    take(now: number): Delivery | undefined {
        this.arrive(now);
        const batch = [...this.messages.values()].filter(m => m.visibleAt <= now).slice(0, this.options.batchSize);
        if (batch.length === 0) return undefined;
        for (const message of batch) {
            message.receives++;
            message.visibleAt = now + this.options.visibilityTimeoutMs;
        }
        const delivery = { payload: { Records: batch.map(record) }, items: batch.map(m => ({ event: m.event, attempt: m.receives })) };
        this.received.set(delivery, batch);
        return delivery;
    }

    /**
     * ChangeMessageVisibility: the message becomes visible `seconds` from `now`. Only
     * the latest receive's handle of a message still in the queue works.
     */
    changeVisibility(receiptHandle: string, seconds: number, now: number): boolean {
        const [id, receives] = receiptHandle.split("/");
        const message = this.messages.get(id);
        if (!message || String(message.receives) !== receives) return false;
        message.visibleAt = now + seconds * 1000;
        return true;
    }

    nextDue(): number | undefined {
        const times = [...[...this.messages.values()].map(m => m.visibleAt), ...this.arrivals.slice(0, 1).map(a => a.at)];
        return times.length > 0 ? Math.min(...times) : undefined;
    }

    settle(delivery: Delivery, outcome: Outcome) {
        const batch = this.received.get(delivery)!;
        this.received.delete(delivery);
        const errors = failures(batch, outcome);
        return batch.map((message, i) => {
            const error = errors[i];
            if (error === undefined || message.receives >= this.options.maxReceives) this.messages.delete(message.id);
            return error === undefined ? { ok: true } as const : { ok: false, error } as const;
        });
    }
}

/** An SQS record as the mapping hands it to the function. */
function record(m: Message) {
    return {
        messageId: m.id,
        receiptHandle: `${m.id}/${m.receives}`,
        body: m.body,
        attributes: { ApproximateReceiveCount: String(m.receives), SentTimestamp: String(m.sentAt) },
        messageAttributes: {},
        eventSource: "aws:sqs",
        eventSourceARN: ARN,
        awsRegion: "us-east-1",
    };
}

/** Each message's error, undefined for the ones that succeeded. */
function failures(batch: Message[], outcome: Outcome): (string | undefined)[] {
    if (!outcome.ok) return batch.map(() => outcome.error);
    const reported = reportedIds(outcome.value, batch);
    if (!reported) return batch.map(() => "InvalidBatchResponse");
    return batch.map(m => (reported.has(m.id) ? "ReportedFailed" : undefined));
}

/**
 * The message ids a partial batch response names. No response, or no or an empty
 * list, fails none; an identifier that is empty, missing or not in the batch makes
 * Lambda fail the whole batch (undefined here).
 */
function reportedIds(value: unknown, batch: Message[]): Set<string> | undefined {
    const list = (value as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
    if (list === undefined || list === null) return new Set();
    if (!Array.isArray(list)) return undefined;
    const inBatch = new Set(batch.map(m => m.id));
    const ids = list.map(item => (item as { itemIdentifier?: unknown } | null)?.itemIdentifier);
    return ids.every(id => typeof id === "string" && inBatch.has(id)) ? new Set(ids as string[]) : undefined;
}
