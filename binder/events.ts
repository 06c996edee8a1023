// What the EventBridge events on the event queue say: an instance entered a state
// ("EC2 Instance State-change Notification"), or an instance is about to go away
// (a drain signal: a Spot interruption warning, a rebalance recommendation, or an
// AWS Health scheduled change for EC2 instances).
import { namedError } from "./errors";

/** The signals that can drain a worker before it goes away; `drainOn` chooses among them. */
export type DrainReason = "spot-interruption" | "rebalance-recommendation" | "scheduled-change";
export const DRAIN_REASONS: readonly DrainReason[] = ["spot-interruption", "rebalance-recommendation", "scheduled-change"];

/** An instance entered an EC2 state. */
export interface StateChange {
    kind: "state";
    instanceId: string;
    state: string;
}

/** An instance is about to go away; the message alone proves nothing (EC2 decides). */
export interface DrainSignal {
    kind: "drain";
    instanceId: string;
    reason: DrainReason;
    /** ISO 8601, when the signal was sent (the event's `time`): a run of the instance launched after it is not the one it warns of. */
    signalledAt: string;
    /** ISO 8601, when the signal says the instance goes (Spot: event time + 2 min; Health: startTime); absent when it says nothing */
    deadline?: string;
}

export type InstanceEvent = StateChange | DrainSignal;

/** An event that is not one the rules send, or not well formed: logged and dropped, never retried. */
export const MALFORMED = "MalformedEventError";
export const malformed = (reason: string) => namedError(MALFORMED, reason);

const EC2 = "aws.ec2";
const HEALTH = "aws.health";
export const DETAIL_TYPES = {
    state: "EC2 Instance State-change Notification",
    spotInterruption: "EC2 Spot Instance Interruption Warning",
    rebalanceRecommendation: "EC2 Instance Rebalance Recommendation",
    health: "AWS Health Event",
} as const;
const EC2_DETAIL_TYPES: string[] = [DETAIL_TYPES.state, DETAIL_TYPES.spotInterruption, DETAIL_TYPES.rebalanceRecommendation];

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
/** An instance's ARN, with or without the account: Spot warnings name `arn:aws:ec2:<zone>:instance/<id>`. */
const INSTANCE_ARN = /^arn:aws[a-z-]*:ec2:[^:]*(?::[^:]*)?:instance\/(i-[0-9a-f]{8,17})$/;

/** EC2 interrupts a Spot Instance two minutes after its warning (EC2 User Guide, Spot Instance interruption notices). */
export const SPOT_WARNING_MS = 2 * 60 * 1000;

/** The Health statuses of a scheduled change: upcoming (not started), open (under way), closed (over: nothing to drain). */
export const HEALTH_STATUSES = ["upcoming", "open", "closed"] as const;

/**
 * Reads an event into one entry per instance it names (a Health event can name several);
 * [] for an event that needs nothing (a closed Health event). Throws a MalformedEventError
 * naming the field for anything else.
 */
export function readEvent(event: unknown): InstanceEvent[] {
    if (typeof event !== "object" || event === null || Array.isArray(event)) throw malformed("the event is not an object");
    const envelope = event as Record<string, unknown>;
    const { source, "detail-type": detailType } = envelope;
    if (source === EC2) {
        if (!EC2_DETAIL_TYPES.includes(detailType as string)) {
            throw malformed(`detail-type is ${show(detailType)}, expected one of ${EC2_DETAIL_TYPES.map(t => `"${t}"`).join(", ")} from "${EC2}"`);
        }
        const detail = detailOf(envelope);
        const instanceId = instanceIdOf(detail["instance-id"]);
        if (detailType === DETAIL_TYPES.state) {
            const state = detail.state;
            if (typeof state !== "string" || state === "") throw malformed(`detail.state is ${show(state)}, not an instance state`);
            return [{ kind: "state", instanceId, state }];
        }
        const sent = timeOf(envelope.time, "time");
        const signalledAt = new Date(sent).toISOString();
        if (detailType === DETAIL_TYPES.spotInterruption) {
            // Hibernation gets its notice without the two minutes: it begins at once. Any
            // other or missing instance-action (stop, terminate) leaves the two minutes; an
            // action AWS adds later still drains, which is the safe side.
            const deadline = detail["instance-action"] === "hibernate" ? sent : sent + SPOT_WARNING_MS;
            return [{ kind: "drain", instanceId, reason: "spot-interruption", signalledAt, deadline: new Date(deadline).toISOString() }];
        }
        // A rebalance recommendation says the risk is elevated, not when (or whether) the instance goes.
        return [{ kind: "drain", instanceId, reason: "rebalance-recommendation", signalledAt }];
    }
    if (source === HEALTH) {
        if (detailType !== DETAIL_TYPES.health) throw malformed(`detail-type is ${show(detailType)}, expected "${DETAIL_TYPES.health}" from "${HEALTH}"`);
        return readScheduledChange(envelope);
    }
    throw malformed(`source is ${show(source)}, expected "${EC2}" or "${HEALTH}"`);
}

/** An AWS Health scheduled change for EC2 instances (AWS Health User Guide, EventBridge schema). */
function readScheduledChange(envelope: Record<string, unknown>): InstanceEvent[] {
    const detail = detailOf(envelope);
    if (detail.service !== "EC2") throw malformed(`detail.service is ${show(detail.service)}, expected "EC2"`);
    if (detail.eventTypeCategory !== "scheduledChange") {
        throw malformed(`detail.eventTypeCategory is ${show(detail.eventTypeCategory)}, expected "scheduledChange"`);
    }
    const status = detail.statusCode;
    if (!(HEALTH_STATUSES as readonly unknown[]).includes(status)) {
        throw malformed(`detail.statusCode is ${show(status)}, expected one of ${HEALTH_STATUSES.join(", ")}`);
    }
    if (status === "closed") return [];
    const instances = healthInstances(envelope.resources, detail.affectedEntities);
    const signalledAt = new Date(timeOf(envelope.time, "time")).toISOString();
    const deadline = new Date(timeOf(detail.startTime, "detail.startTime")).toISOString();
    return instances.map(instanceId => ({ kind: "drain", instanceId, reason: "scheduled-change", signalledAt, deadline }));
}

/**
 * The instances a Health event names, in order, each once: its affected entities and its
 * `resources`, each an instance id or an instance ARN (AWS's own samples use both). An
 * entity whose status is RESOLVED is done with and needs nothing, so it is left out (and
 * so is the same instance in `resources`). A value that is no instance (a Health event may
 * name other resources beside instances) is skipped; only an event that names no instance
 * at all is malformed, and the reason lists what it named instead.
 */
function healthInstances(resources: unknown, entities: unknown): string[] {
    if (resources !== undefined && !Array.isArray(resources)) throw malformed(`resources is ${show(resources)}, not a list`);
    if (entities !== undefined && !Array.isArray(entities)) throw malformed(`detail.affectedEntities is ${show(entities)}, not a list`);
    const named: string[] = [];
    const resolved = new Set<string>();
    const others: unknown[] = [];
    for (const entity of (entities ?? []) as unknown[]) {
        const { entityValue, status } = (typeof entity === "object" && entity !== null ? entity : {}) as Record<string, unknown>;
        const id = instanceIn(entityValue);
        if (id === undefined) others.push(entityValue ?? entity);
        else if (status === "RESOLVED") resolved.add(id);
        else named.push(id);
    }
    for (const value of (resources ?? []) as unknown[]) {
        const id = instanceIn(value);
        if (id === undefined) others.push(value);
        else if (!resolved.has(id)) named.push(id);
    }
    if (named.length === 0 && resolved.size === 0) {
        const what = others.length === 0 ? "nothing" : others.slice(0, 5).map(show).join(", ") + (others.length > 5 ? ", ..." : "");
        throw malformed(`detail.affectedEntities and resources name no instance id (they name ${what})`);
    }
    return [...new Set(named)];
}

function detailOf(envelope: Record<string, unknown>): Record<string, unknown> {
    const detail = envelope.detail;
    if (typeof detail !== "object" || detail === null || Array.isArray(detail)) throw malformed("the event has no detail");
    return detail as Record<string, unknown>;
}

function instanceIdOf(value: unknown): string {
    if (typeof value !== "string" || !INSTANCE_ID.test(value)) throw malformed(`detail.instance-id is ${show(value)}, not an instance id`);
    return value;
}

/** The instance id a value names, as an id or an instance ARN; undefined when it names none. */
function instanceIn(value: unknown): string | undefined {
    if (typeof value !== "string") return undefined;
    if (INSTANCE_ID.test(value)) return value;
    return INSTANCE_ARN.exec(value)?.[1];
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** EventBridge's own `time`: `yyyy-mm-ddThh:mm:ssZ` (an ISO 8601 UTC time, fraction and offset allowed). */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/**
 * Health's times: `DoW, DD MMM YYYY HH:MM:SS TZ`, e.g. `Fri, 3 Jun 2022 05:01:10 GMT`. The
 * day of the week is not checked: AWS's own samples carry wrong ones (`Thu, 27 Jan 2026`).
 */
const HEALTH_TIME = new RegExp(`^(?:[A-Z][a-z]{2}, )?(\\d{1,2}) (${MONTHS.join("|")}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) (GMT|UTC)$`);

/** Milliseconds since the epoch of a time in either documented form; malformed, naming `field`, otherwise. */
function timeOf(value: unknown, field: string): number {
    const millis = typeof value === "string" ? parseTime(value) : undefined;
    if (millis === undefined) throw malformed(`${field} is ${show(value)}, not a time`);
    return millis;
}

function parseTime(text: string): number | undefined {
    const iso = ISO_TIME.exec(text);
    if (iso) {
        const [, y, mo, d, h, mi, s, zone] = iso;
        const offset = zone === "Z" ? 0 : (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
        const local = utc(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s));
        return local === undefined ? undefined : local - offset * 60_000 + fraction(text);
    }
    const health = HEALTH_TIME.exec(text);
    if (health) {
        const [, d, mon, y, h, mi, s] = health;
        return utc(Number(y), MONTHS.indexOf(mon) + 1, Number(d), Number(h), Number(mi), Number(s));
    }
    return undefined;
}

/** Date.UTC, refusing what it would quietly roll over (30 February, 25 o'clock). */
function utc(year: number, month: number, day: number, hour: number, minute: number, second: number): number | undefined {
    const millis = Date.UTC(year, month - 1, day, hour, minute, second);
    const back = new Date(millis);
    const same = back.getUTCFullYear() === year && back.getUTCMonth() === month - 1 && back.getUTCDate() === day
        && back.getUTCHours() === hour && back.getUTCMinutes() === minute && back.getUTCSeconds() === second;
    return same ? millis : undefined;
}

function fraction(text: string): number {
    const digits = /\.(\d+)/.exec(text)?.[1];
    return digits === undefined ? 0 : Math.floor(Number(`0.${digits}`) * 1000);
}

function show(value: unknown): string {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
