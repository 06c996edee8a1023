// Working within the invocation's timeout. Work cut off by the timeout would wait
// out the queue's 12-minute visibility timeout; work not started is handed back at once.

/** A bind or release is not started with less time left than this: under throttling one can take half a minute. */
export const TIME_TO_START_MS = 40_000;

/** Kept back after a wait for the steps that follow it (the row write). */
const AFTER_WAIT_MS = 10_000;

export function hasTimeToStart(timeLeftMs: number): boolean {
    return timeLeftMs >= TIME_TO_START_MS;
}

/**
 * Seconds a wait may take without running past the invocation: at most `limit`,
 * at least 2 (a waiter needs more than its 1 s first delay). A wait cut short
 * fails the bind, which is handed back like any failure.
 */
export function waitBudgetSeconds(timeLeftMs: number, limit: number): number {
    return Math.max(2, Math.min(limit, Math.floor((timeLeftMs - AFTER_WAIT_MS) / 1000)));
}

/**
 * An association is asked of EC2 at most this long after its address's lock was
 * written (every attempt is checked, the SDK's retries included). Longer than any
 * of the binder's invocations lives (5 minutes at most), so only a bind frozen with
 * its Lambda environment and thawed later, or a stalled CLI, meets it.
 */
export const ASSOCIATE_WITHIN_MS = 5 * 60 * 1000;

/**
 * A lock written longer ago than this can have no association still to follow it:
 * ASSOCIATE_WITHIN_MS, and a wide margin for clocks and a request in flight.
 */
export const LOCK_SETTLED_MS = 15 * 60 * 1000;
