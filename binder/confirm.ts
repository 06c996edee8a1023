// A drain signal is a message: anyone who can send to the event queue or invoke
// the binder can write one. So a signal is acted on for the run EC2 shows only once
// EC2 itself says the same, where AWS exposes it: a Spot interruption by the Spot
// request's status, a scheduled change by the instance's scheduled events. A
// rebalance recommendation has no such fact; it is trusted for Spot Instances only.
import { Context } from "./context";
import { DrainNotice } from "./drain";
import { Instance } from "./aws/ec2";
import { drainHolds } from "./aws/store";

/**
 * The Spot request status codes of an instance EC2 is interrupting or has interrupted
 * (EC2 User Guide, Spot request status): marked while it still runs its two minutes,
 * or already stopped or terminated for price or capacity (`capacity-oversubscribed`
 * is the older name of capacity). EC2 may set `instance-terminated-no-capacity` at
 * once instead of `marked-for-termination`. `marked-for-stop` is also a user's stop,
 * which takes the worker off the list anyway.
 */
export const SPOT_INTERRUPTION_CODES: readonly string[] = [
    "marked-for-stop",
    "marked-for-termination",
    "instance-stopped-by-price",
    "instance-stopped-no-capacity",
    "instance-stopped-capacity-oversubscribed",
    "instance-terminated-by-price",
    "instance-terminated-no-capacity",
    "instance-terminated-capacity-oversubscribed",
];

/**
 * Deliveries an unconfirmed signal gets before it is dismissed: EC2's reads lag its
 * writes by seconds, and with the short delays of `confirmationDelay` the third
 * comes about 15 s after the first, well inside a Spot warning's two minutes.
 */
export const CONFIRM_DELIVERIES = 3;

/** What EC2 says about the instances a batch's signals name (see DrainWitness). */
export interface Evidence {
    spotStatus: Map<string, string>;
    scheduledEvents: Map<string, string[]>;
}

/** A signal of the batch, with its message and how often that has been delivered. */
export interface SignalOf {
    messageId: string;
    notice: DrainNotice;
    receiveCount: number;
}

/** The instances whose signals need EC2's word, by what is to be asked. */
export function toAsk(subjects: { instance: Instance; drains: SignalOf[] }[]): { spot: string[]; scheduled: string[] } {
    const asking = (cause: DrainNotice["cause"]) => subjects
        .filter(({ instance, drains }) => drains.some(d => d.notice.cause === cause && drainHolds(d.notice, instance.launchedAt)))
        .map(({ instance }) => instance.instanceId);
    return { spot: asking("spot-interruption"), scheduled: asking("scheduled-change") };
}

/**
 * One read per kind for the whole batch (none when no signal of that kind needs it):
 * the Spot requests of the instances warned of an interruption, the scheduled events
 * of those named by a scheduled change.
 */
export async function gatherEvidence(ctx: Context, ask: { spot: string[]; scheduled: string[] }): Promise<Evidence> {
    const [spotStatus, scheduledEvents] = await Promise.all([
        ask.spot.length > 0 ? ctx.ec2.spotRequestStatus(ask.spot) : new Map<string, string>(),
        ask.scheduled.length > 0 ? ctx.ec2.scheduledEvents(ask.scheduled) : new Map<string, string[]>(),
    ]);
    return { spotStatus, scheduledEvents };
}

/** Whether EC2 says what the signal says about the run it shows. */
export function confirms(notice: DrainNotice, instance: Instance, evidence: Evidence): boolean {
    switch (notice.cause) {
        case "spot-interruption":
            return SPOT_INTERRUPTION_CODES.includes(evidence.spotStatus.get(instance.instanceId) ?? "");
        case "scheduled-change":
            return (evidence.scheduledEvents.get(instance.instanceId) ?? []).length > 0;
        case "rebalance-recommendation":
            // No API shows a recommendation; EC2 sends them for Spot Instances only.
            return instance.spot === true;
        default:
            // The operator's and the worker's own causes never come through the queue.
            return false;
    }
}

/**
 * Splits an instance's signals: those to act on (confirmed, or about an earlier run,
 * which cannot drain the run EC2 shows), those to ask again about on a later
 * delivery, and those dismissed after their deliveries (EC2 never said so).
 */
export function weigh(signals: SignalOf[], instance: Instance, evidence: Evidence): { acted: SignalOf[]; confirming: SignalOf[]; dismissed: SignalOf[] } {
    const acted: SignalOf[] = [];
    const confirming: SignalOf[] = [];
    const dismissed: SignalOf[] = [];
    for (const signal of signals) {
        if (!drainHolds(signal.notice, instance.launchedAt) || confirms(signal.notice, instance, evidence)) acted.push(signal);
        else if (signal.receiveCount < CONFIRM_DELIVERIES) confirming.push(signal);
        else dismissed.push(signal);
    }
    return { acted, confirming, dismissed };
}
