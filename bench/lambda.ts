// Lambda's asynchronous invocation as EventBridge uses it: a queue of events, at
// most `concurrency` running at once, one handler per container (made at its cold
// start, reused while warm), a function timeout (the timed-out invocation is
// frozen, see freeze.ts), and a failed event run up to two more times after one
// and then two minutes (Lambda's defaults for async invokes).
import { randomUUID } from "node:crypto";
import { EventHandler } from "../binder";
import { Clock } from "./clock";
import { Freezer } from "./freeze";

export interface LambdaOptions {
    concurrency: number;
    /** Waits before each redelivery of a failed event; its length is the number of retries. */
    retryDelaysMs: number[];
    timeoutMs: number;
}

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

interface Pending {
    event: number;
    attempt: number;
    due: number;
}

interface Container {
    id: number;
    handler: EventHandler;
}

const TIMED_OUT = Symbol("timed out");

export class LambdaSim {
    readonly invocations: Invocation[] = [];
    private readonly queue: Pending[] = [];
    private readonly warm: Container[] = [];
    private containers = 0;
    private running = 0;
    private started = 0;
    private timer?: NodeJS.Timeout;
    private finish = () => {};

    constructor(
        private readonly clock: Clock,
        private readonly coldStart: () => EventHandler,
        private readonly options: LambdaOptions,
        private readonly freezer: Freezer,
    ) {}

    /** Containers started (cold starts) so far. */
    get coldStarts(): number {
        return this.containers;
    }

    /** Delivers every event at once and resolves when each has succeeded or run out of attempts. */
    run(events: unknown[]): Promise<Invocation[]> {
        return new Promise(resolve => {
            this.finish = () => resolve(this.invocations);
            this.started = this.clock.now();
            events.forEach((_, event) => this.queue.push({ event, attempt: 1, due: this.started }));
            this.pump(events);
        });
    }

    private pump(events: unknown[]): void {
        clearTimeout(this.timer);
        let now = this.clock.now();
        if (this.running === 0 && this.queue.length > 0 && this.queue.every(p => p.due > now)) {
            // Nothing runs and nothing is due: skip the idle wait.
            this.clock.skipTo(Math.min(...this.queue.map(p => p.due)));
            now = this.clock.now();
        }
        while (this.running < this.options.concurrency) {
            const index = this.queue.findIndex(p => p.due <= now);
            if (index < 0) break;
            const [pending] = this.queue.splice(index, 1);
            void this.invoke(pending, events);
        }
        if (this.running === 0 && this.queue.length === 0) return this.finish();
        if (this.queue.length > 0 && this.running < this.options.concurrency) {
            const next = Math.min(...this.queue.map(p => p.due));
            this.timer = setTimeout(() => this.pump(events), Math.max(0, next - now));
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

    private async invoke(pending: Pending, events: unknown[]): Promise<void> {
        this.running++;
        const container = this.warm.pop() ?? this.coldContainer();
        const start = this.clock.now();
        let timeout: NodeJS.Timeout | undefined;
        const run = this.freezer.run(async () => container.handler(events[pending.event], { awsRequestId: randomUUID() }));
        const outcome = await Promise.race([
            run.done.then(() => undefined, (err: unknown) => err ?? new Error("rejected")),
            new Promise<typeof TIMED_OUT>(resolve => { timeout = setTimeout(() => resolve(TIMED_OUT), this.options.timeoutMs); }),
        ]);
        clearTimeout(timeout);
        if (outcome === TIMED_OUT) run.freeze();
        const ok = outcome === undefined;
        this.invocations.push({
            event: pending.event,
            attempt: pending.attempt,
            container: container.id,
            start: start - this.started,
            end: this.clock.now() - this.started,
            ok,
            ...(!ok && { error: outcome === TIMED_OUT ? "Timeout" : errorName(outcome) }),
            ...(outcome === TIMED_OUT && { timedOut: true }),
        });
        // Lambda replaces the runtime of an invocation that timed out.
        if (outcome !== TIMED_OUT) this.warm.push(container);
        const delay = this.options.retryDelaysMs[pending.attempt - 1];
        if (!ok && delay !== undefined) this.queue.push({ event: pending.event, attempt: pending.attempt + 1, due: this.clock.now() + delay });
        this.running--;
        this.pump(events);
    }
}

/** The error's name; for an AWS error the SDK gave up on, with how many attempts it made. */
function errorName(err: unknown): string {
    if (!(err instanceof Error)) return String(err);
    const attempts = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts;
    return attempts && attempts > 1 ? `${err.name} after ${attempts} attempts` : err.name;
}
