// What the simulated Lambda (lambda.ts) is fed by and tells its feeder: an
// invocation's input, how it ended, and the source the inputs come from, async.ts's
// or queue.ts's. Its own module, so that the sources and the Lambda need not import
// each other.

/** One invocation's input: what the handler gets, and the events in it with their attempt numbers. */
export interface Delivery {
    payload: unknown;
    items: { event: number; attempt: number }[];
}

/** How an invocation ended: it returned a value, or it threw or timed out. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: string; timedOut: boolean };

/** Where invocations come from, and what their outcome means for each event in them. */
export interface Source {
    /** The next invocation's input, if one is ready at `now`. */
    take(now: number): Delivery | undefined;
    /** When the next input is (or becomes) ready; undefined once nothing is left. */
    nextDue(): number | undefined;
    /** Each of the delivery's events' result, in order; the failed ones are scheduled again or given up. */
    settle(delivery: Delivery, outcome: Outcome, now: number): ({ ok: true } | { ok: false; error: string })[];
    /** Sends the events due to arrive by `now` (a source whose events all come at once has none). */
    arrive?(now: number): void;
    /** When the next event arrives; nextDue counts it too. */
    nextArrival?(): number | undefined;
}
