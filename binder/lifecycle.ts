// What to do about an instance: a message says what state it entered, but a
// message can be late, duplicated, reordered or forged, and EC2's own reads can
// lag by seconds. EC2 decides; a message only says when to look. When the two
// disagree, EC2 is given time to catch up: the message comes back a few times
// before EC2's word is taken as final.
import { Instance } from "./aws/ec2";

/** Where an instance is in its life, as far as binding goes. */
export type Phase =
    | "running"   // serve it: bind and publish
    | "stopped"   // stopping or stopped: withdraw its row, keep its address and claim
    | "gone"      // shutting-down or terminated: release everything
    | "starting"  // pending: nothing yet
    | "unknown";  // EC2 does not show it (too new for a lagging read, or terminated long ago)

/** The phase a message announces, for the states the event rule sends. */
export function announcedPhase(state: string): Phase | undefined {
    if (state === "running") return "running";
    if (state === "stopping" || state === "stopped") return "stopped";
    if (state === "shutting-down" || state === "terminated") return "gone";
    return undefined;
}

/** The phase EC2 shows. */
export function observedPhase(instance: Instance | undefined): Phase {
    if (!instance) return "unknown";
    return announcedPhase(instance.state) ?? (instance.state === "pending" ? "starting" : "unknown");
}

/**
 * Deliveries a message gets before EC2's word is final when they disagree: with
 * the binder's backoff the third comes 45 s or more after the first, while EC2's
 * reads catch up within seconds.
 */
export const CATCH_UP_DELIVERIES = 3;

/** A message about the instance: the phase it announces and how often it has been delivered. */
export interface Announcement {
    messageId: string;
    phase: Phase;
    receiveCount: number;
}

export interface Verdict {
    /** What to do now, by what EC2 shows; undefined: nothing yet. */
    act?: "bind" | "withdraw" | "release";
    /** Messages to hand back so EC2 can catch up. */
    wait: string[];
    /** Messages settled by this verdict (once `act`, if any, succeeds). */
    done: string[];
}

const ACTION = { running: "bind", stopped: "withdraw", gone: "release" } as const;

/**
 * Decides from what EC2 shows. A read lags the truth but never runs ahead of it,
 * so "gone" is always acted on; any other phase is acted on when a message agrees
 * with it or has waited long enough. A message that disagrees waits, unless it has
 * had its deliveries: then EC2's view is final and the message is settled.
 */
export function decide(observed: Phase, messages: Announcement[]): Verdict {
    const agrees = (m: Announcement) => m.phase === observed;
    const patient = (m: Announcement) => m.receiveCount < CATCH_UP_DELIVERIES;
    const wait = observed === "gone" ? [] : messages.filter(m => !agrees(m) && patient(m));
    const done = messages.filter(m => !wait.includes(m));
    const action = observed === "running" || observed === "stopped" || observed === "gone" ? ACTION[observed] : undefined;
    return { act: done.length > 0 ? action : undefined, wait: wait.map(m => m.messageId), done: done.map(m => m.messageId) };
}
