// What a scheduler reads in a row of the servers table: the server the binder
// published, and the allocation the scheduler recorded on it. Plain data, shared
// by the client (rows it reads) and the stream reader (rows in stream records).
import { LEAVING, OFFER_INDEX, SERVER_KEY } from "../binder/schema";

/** An item as DynamoDB's JSON carries it (a read, or a stream record's image): the types the table uses. */
export type Item = Record<string, AttributeValue>;
export type AttributeValue = { S?: string; N?: string; BOOL?: boolean; M?: Item; NULL?: boolean };

/** The row attributes the client writes (every other one is the binder's). */
export const ALLOCATION = {
    allocated: "allocated",
    owner: "Owner",
    leaseUntil: "LeaseUntil",
    streams: "Streams",
    capacity: "Capacity",
    metadata: "Metadata",
    allocatedAt: "AllocatedAt",
    offer: OFFER_INDEX.partition,
} as const;

/** A bound server, as the binder published it. */
export interface Server {
    publicIp: string;
    dnsName: string;
    instanceId: string;
    /** The pool address's allocation id. */
    allocationId?: string;
    /** The run of the instance the row serves (EC2's LaunchTime); absent on rows written before runs were recorded. */
    launchedAt?: string;
    availabilityZone?: string;
    instanceType?: string;
    nodePool?: string;
    capacityType?: string;
    privateIp?: string;
}

/** A server with what the scheduler recorded on it when it allocated it. */
export interface Allocation extends Server {
    owner?: string;
    /** When the allocation lapses unless renewed (ISO 8601); none: it never lapses. */
    leaseUntil?: string;
    /** Streams placed on the server, 1 to `capacity`. */
    streams: number;
    capacity: number;
    metadata?: Record<string, string>;
    allocatedAt?: string;
}

/** Why a server is leaving, as its row says just before it goes. */
export type Leaving =
    | { reason: "stopped" }
    | { reason: "draining"; cause: string; deadline?: string };

export function toServer(item: Item): Server {
    const optional = (key: keyof Server, attribute: string) => (item[attribute]?.S !== undefined ? { [key]: item[attribute].S } : {});
    return {
        publicIp: item[SERVER_KEY.partition]?.S ?? "",
        dnsName: item[SERVER_KEY.sort]?.S ?? "",
        instanceId: item.InstanceId?.S ?? "",
        ...optional("allocationId", "AllocationId"),
        ...optional("launchedAt", "LaunchedAt"),
        ...optional("availabilityZone", "AvailabilityZone"),
        ...optional("instanceType", "InstanceType"),
        ...optional("nodePool", "NodePool"),
        ...optional("capacityType", "CapacityType"),
        ...optional("privateIp", "PrivateIp"),
    };
}

/** The allocation a row records; undefined when nothing the client allocated is on it. */
export function toAllocation(item: Item): Allocation | undefined {
    const streams = Number(item[ALLOCATION.streams]?.N ?? "0");
    if (item[ALLOCATION.allocated]?.BOOL !== true || streams < 1) return undefined;
    const metadata = item[ALLOCATION.metadata]?.M;
    return {
        ...toServer(item),
        streams,
        capacity: Number(item[ALLOCATION.capacity]?.N ?? "1"),
        ...(item[ALLOCATION.owner]?.S !== undefined && { owner: item[ALLOCATION.owner].S }),
        ...(item[ALLOCATION.leaseUntil]?.S !== undefined && { leaseUntil: item[ALLOCATION.leaseUntil].S }),
        ...(metadata !== undefined && { metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, v.S ?? ""])) }),
        ...(item[ALLOCATION.allocatedAt]?.S !== undefined && { allocatedAt: item[ALLOCATION.allocatedAt].S }),
    };
}

/** Why the row's server is leaving; undefined when it is not. */
export function leavingOf(item: Item): Leaving | undefined {
    const reason = item[LEAVING.reason]?.S;
    if (reason === "stopped") return { reason };
    if (reason !== "draining") return undefined;
    const deadline = item[LEAVING.deadline]?.S;
    return { reason, cause: item[LEAVING.cause]?.S ?? "", ...(deadline !== undefined && { deadline }) };
}
