// What an EventBridge "EC2 Instance State-change Notification" asks the binder to do.

export type Intent =
    | { action: "bind" | "release"; instanceId: string; state: string }
    | { action: "ignore"; instanceId: string; state: string };

import { namedError } from "./errors";

/** An event that is not a well-formed EC2 state change: logged and dropped, never retried. */
export const MALFORMED = "MalformedEventError";
export const malformed = (reason: string) => namedError(MALFORMED, reason);

const SOURCE = "aws.ec2";
const DETAIL_TYPE = "EC2 Instance State-change Notification";
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const RELEASE_STATES = ["shutting-down", "terminated"];

/** Reads an event into an intent; throws a MalformedEventError with the reason when it cannot. */
export function readEvent(event: unknown): Intent {
    if (typeof event !== "object" || event === null) throw malformed("the event is not an object");
    const { source, "detail-type": detailType, detail } = event as Record<string, unknown>;
    if (source !== SOURCE) throw malformed(`source is ${JSON.stringify(source)}, expected "${SOURCE}"`);
    if (detailType !== DETAIL_TYPE) {
        throw malformed(`detail-type is ${JSON.stringify(detailType)}, expected "${DETAIL_TYPE}"`);
    }
    if (typeof detail !== "object" || detail === null) throw malformed("the event has no detail");
    const { "instance-id": instanceId, state } = detail as Record<string, unknown>;
    if (typeof instanceId !== "string" || !INSTANCE_ID.test(instanceId)) {
        throw malformed(`detail.instance-id is ${JSON.stringify(instanceId)}, not an instance id`);
    }
    if (typeof state !== "string" || state === "") {
        throw malformed(`detail.state is ${JSON.stringify(state)}, not an instance state`);
    }
    if (state === "running") return { action: "bind", instanceId, state };
    if (RELEASE_STATES.includes(state)) return { action: "release", instanceId, state };
    return { action: "ignore", instanceId, state };
}
