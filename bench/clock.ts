// The bench's clock: real time, plus whatever idle time was skipped. When no
// invocation is running and the only work left is a redelivery due a minute
// from now, waiting for it in real time would measure nothing, so the clock
// jumps ahead instead; the API buckets refill by this clock, so a jump refills them.
import { performance } from "node:perf_hooks";

export class Clock {
    private readonly origin = performance.now();
    private skipped = 0;

    /** Milliseconds since the clock was made, skips included. */
    now(): number {
        return performance.now() - this.origin + this.skipped;
    }

    /** Moves the clock forward to `at` (never back). */
    skipTo(at: number): void {
        this.skipped += Math.max(0, at - this.now());
    }

    /** Milliseconds the clock jumped in total. */
    get skippedMs(): number {
        return this.skipped;
    }
}
