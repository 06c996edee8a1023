// Lambda running a binder, fed one of two ways: "async", EventBridge invoking the
// function once per event with Lambda's retries (async.ts, the naive binder), or
// "queue", an SQS queue's event source mapping handing it batches (queue.ts, ours).
// Lambda's own part is the same for both: at most so many invocations at once,
// one handler per container (made at its cold start, reused while warm), and a
// function timeout (the timed-out invocation is frozen, see freeze.ts).
import { randomUUID } from "node:crypto";
import { AsyncOptions, AsyncSource } from "./async";
import { Clock } from "./clock";
import { Freezer } from "./freeze";
import { Arrival, QueueOptions, QueueSource } from "./queue";
import type { Delivery, Outcome, Source } from "./source";

/** Any handler: the event (or batch) in, what it returns is the source's business. */
export type Handler = (payload: unknown, context: { awsRequestId: string; getRemainingTimeInMillis(): number }) => Promise<unknown>;

export type LambdaOptions = { timeoutMs: number } & (
    | ({ mode: "async"; concurrency: number } & AsyncOptions)
    | ({ mode: "queue"; maxConcurrency: number } & QueueOptions)
);

/** One event's part in one invocation: a batch of ten events makes ten, sharing start and end. */
export interface Invocation {
    event: number;
    attempt: number;
    container: number;
    /** Milliseconds since the burst, by the clock. */
    start: number;
    end: number;
    ok: boolean;
    error?: string;
    timedOut?: boolean;
}

interface Container {
    id: number;
    handler: Handler;
}

export class LambdaSim {
    readonly invocations: Invocation[] = [];
    private readonly warm: Container[] = [];
    private readonly concurrency: number;
    private source?: Source;
    private containers = 0;
    private running = 0;
    private started = 0;
    private timer?: NodeJS.Timeout;
    private finish = () => {};

    constructor(
        private readonly clock: Clock,
        private readonly coldStart: () => Handler,
        private readonly options: LambdaOptions,
        private readonly freezer: Freezer,
    ) {
        this.concurrency = options.mode === "queue" ? options.maxConcurrency : options.concurrency;
        // CreateEventSourceMapping refuses a queue whose visibility timeout is shorter than the function's.
        if (options.mode === "queue" && options.visibilityTimeoutMs < options.timeoutMs) {
            throw new Error(`visibility timeout ${options.visibilityTimeoutMs} ms is shorter than the function timeout ${options.timeoutMs} ms`);
        }
    }

    /** Containers started (cold starts) so far. */
    get coldStarts(): number {
        return this.containers;
    }

    /** The SQS stand-in's hook for ChangeMessageVisibility, which only the queue-fed binder calls. */
    changeVisibility(receiptHandle: string, seconds: number): boolean {
        return this.source instanceof QueueSource && this.source.changeVisibility(receiptHandle, seconds, this.clock.now());
    }

    /**
     * Delivers every event at once, and (queue only) each arrival at its time, and
     * resolves when all are sent and each has succeeded or run out of attempts. An
     * arrival's event number is its place after `events`, in the order of their times.
     */
    run(events: unknown[], arrivals: Arrival[] = []): Promise<Invocation[]> {
        if (arrivals.length > 0 && this.options.mode !== "queue") throw new Error("only the queue feed takes arrivals");
        return new Promise(resolve => {
            this.finish = () => resolve(this.invocations);
            this.started = this.clock.now();
            this.source = this.options.mode === "queue"
                ? new QueueSource(events, this.started, this.options, arrivals)
                : new AsyncSource(events, this.started, this.options);
            this.pump();
        });
    }

    private pump(): void {
        const source = this.source!;
        clearTimeout(this.timer);
        let now = this.clock.now();
        const due = source.nextDue();
        if (this.running === 0 && due !== undefined && due > now) {
            // Nothing runs and nothing is ready: skip the idle wait.
            this.clock.skipTo(due);
            now = this.clock.now();
        }
        source.arrive?.(now);
        while (this.running < this.concurrency) {
            const delivery = source.take(now);
            if (!delivery) break;
            void this.invoke(delivery);
        }
        const next = source.nextDue();
        if (this.running === 0 && next === undefined) return this.finish();
        // An arrival is sent on time even while every slot is busy: the world changes when it says.
        const wake = this.running < this.concurrency ? next : source.nextArrival?.();
        if (wake !== undefined) {
            this.timer = setTimeout(() => this.pump(), Math.max(0, wake - now));
        }
    }

    /** A cold start; a handler that cannot even be made fails every invocation it gets, as in Lambda. */
    private coldContainer(): Container {
        const id = ++this.containers;
        try {
            return { id, handler: this.coldStart() };
        } catch (err) {
            return { id, handler: () => Promise.reject(err) };
        }
    }

    private async invoke(delivery: Delivery): Promise<void> {
        this.running++;
        const container = this.warm.pop() ?? this.coldContainer();
        const start = this.clock.now();
        let timeout: NodeJS.Timeout | undefined;
        const context = { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => start + this.options.timeoutMs - this.clock.now() };
        const run = this.freezer.run(async () => container.handler(delivery.payload, context));
        const outcome = await Promise.race<Outcome>([
            run.done.then(value => ({ ok: true, value }), (err: unknown) => ({ ok: false, error: errorName(err ?? new Error("rejected")), timedOut: false })),
            new Promise(resolve => { timeout = setTimeout(() => resolve({ ok: false, error: "Timeout", timedOut: true }), this.options.timeoutMs); }),
        ]);
        clearTimeout(timeout);
        const timedOut = !outcome.ok && outcome.timedOut;
        if (timedOut) run.freeze();
        const end = this.clock.now();
        const results = this.source!.settle(delivery, outcome, end);
        delivery.items.forEach(({ event, attempt }, i) => {
            const result = results[i];
            this.invocations.push({
                event,
                attempt,
                container: container.id,
                start: start - this.started,
                end: end - this.started,
                ok: result.ok,
                ...(!result.ok && { error: result.error }),
                ...(timedOut && { timedOut: true }),
            });
        });
        // Lambda replaces the runtime of an invocation that timed out.
        if (!timedOut) this.warm.push(container);
        this.running--;
        this.pump();
    }
}

/** The error's name; for an AWS error the SDK gave up on, with how many attempts it made. */
function errorName(err: unknown): string {
    if (!(err instanceof Error)) return String(err);
    const attempts = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts;
    return attempts && attempts > 1 ? `${err.name} after ${attempts} attempts` : err.name;
}
