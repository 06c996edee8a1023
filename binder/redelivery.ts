// When a failed message comes back. Left alone, SQS delivers it again only when
// the queue's visibility timeout (six function timeouts, 12 minutes) ends; the
// binder hands it back sooner, backing off as its deliveries add up.

/** The first redelivery's delay ceiling; each later delivery doubles it. */
export const FIRST_REDELIVERY_SECONDS = 30;
/** No failed message waits longer than this for its next delivery. */
export const MAX_REDELIVERY_SECONDS = 900;

/**
 * Seconds until a message that failed on its `receiveCount`th delivery is
 * delivered again: between half and all of 30 s, 60 s, 120 s, … (capped). The
 * jitter keeps a burst's failures from all coming back in the same second.
 */
export function redeliveryDelay(receiveCount: number, random: () => number = Math.random): number {
    const ceiling = Math.min(FIRST_REDELIVERY_SECONDS * 2 ** (Math.max(receiveCount, 1) - 1), MAX_REDELIVERY_SECONDS);
    return Math.ceil(ceiling / 2 + (random() * ceiling) / 2);
}

/** How soon a drain signal EC2 has not confirmed yet comes again, after each delivery: a Spot warning gives two minutes. */
export const CONFIRM_REDELIVERY_SECONDS = [5, 10] as const;

/** Seconds until a signal that EC2 did not confirm on its `receiveCount`th delivery is delivered again. */
export function confirmationDelay(receiveCount: number): number {
    return CONFIRM_REDELIVERY_SECONDS[Math.min(Math.max(receiveCount, 1), CONFIRM_REDELIVERY_SECONDS.length) - 1];
}
