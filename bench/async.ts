// Lambda's asynchronous invocation as EventBridge uses it (the naive binder): one
// event per invocation, and a failed one run again after each of `retryDelaysMs`
// (Lambda's defaults: two more times, after one minute and then two).
import type { Delivery, Outcome, Source } from "./source";

export interface AsyncOptions {
    /** Waits before each redelivery of a failed event; its length is the number of retries. */
    retryDelaysMs: number[];
}

interface Pending {
    event: number;
    attempt: number;
    due: number;
}

export class AsyncSource implements Source {
    private readonly pending: Pending[];

    constructor(private readonly events: unknown[], now: number, private readonly options: AsyncOptions) {
        this.pending = events.map((_, event) => ({ event, attempt: 1, due: now }));
    }

    take(now: number): Delivery | undefined {
        const index = this.pending.findIndex(p => p.due <= now);
        if (index < 0) return undefined;
        const [{ event, attempt }] = this.pending.splice(index, 1);
        return { payload: this.events[event], items: [{ event, attempt }] };
    }

    nextDue(): number | undefined {
        return this.pending.length > 0 ? Math.min(...this.pending.map(p => p.due)) : undefined;
    }

    settle(delivery: Delivery, outcome: Outcome, now: number) {
        if (outcome.ok) return [{ ok: true } as const];
        const [{ event, attempt }] = delivery.items;
        const delay = this.options.retryDelaysMs[attempt - 1];
        if (delay !== undefined) this.pending.push({ event, attempt: attempt + 1, due: now + delay });
        return [{ ok: false, error: outcome.error } as const];
    }
}
