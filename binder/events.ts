// What an EventBridge "EC2 Instance State-change Notification" says: an instance and the state it entered.
import { namedError } from "./errors";

export interface StateChange {
    instanceId: string;
    state: string;
}

/** An event that is not a well-formed EC2 state change: logged and dropped, never retried. */
export const MALFORMED = "MalformedEventError";
export const malformed = (reason: string) => namedError(MALFORMED, reason);

const SOURCE = "aws.ec2";
const DETAIL_TYPE = "EC2 Instance State-change Notification";
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
/** Reads an event; throws a MalformedEventError with the reason when it is not a state change. */
export function readEvent(event: unknown): StateChange {
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
    return { instanceId, state };
}
