// A typed reading of the servers table's stream (stack output `serversStream`,
// NEW_AND_OLD_IMAGES): what each record means to a scheduler. Feed it the records
// of a Lambda event source mapping on the stream, or of any stream reader.
import { ALLOCATION, Allocation, Item, Leaving, leavingOf, Server, toAllocation, toServer } from "./rows";

/** A record of the stream, as a Lambda event source mapping delivers it (the fields read here). */
export interface StreamRecord {
    eventName?: "INSERT" | "MODIFY" | "REMOVE" | string;
    dynamodb?: { NewImage?: Item; OldImage?: Item };
}

/**
 * What changed for the scheduler:
 * - `online`: a server's row appeared (bound, or running again after a stop);
 * - `leaving`: the warning before its row goes: `stopped`, or `draining` with the
 *   drain's cause and, when the signal gives one, its deadline. Place nothing new
 *   on it; move its streams off before the deadline;
 * - `offline`: the row went; `reason` says why (`gone` when no warning came first:
 *   a release, the worker terminated, or a repair), with the warning's cause and deadline;
 * - `allocation`: a scheduler allocated, shared, renewed or released it (`allocation`
 *   undefined: free again);
 * - `updated`: anything else (a new association after a remap).
 */
export type ServerEvent =
    | { type: "online"; server: Server }
    | { type: "leaving"; server: Server; leaving: Leaving; allocation?: Allocation }
    | { type: "offline"; server: Server; reason: Leaving | { reason: "gone" }; allocation?: Allocation }
    | { type: "allocation"; server: Server; allocation?: Allocation; previous?: Allocation }
    | { type: "updated"; server: Server };

/** The run a row serves: a change of it is one server going and another coming. */
const runOf = (item: Item) => `${item.InstanceId?.S}@${item.LaunchedAt?.S}`;

const ALLOCATION_ATTRIBUTES = Object.values(ALLOCATION).filter(name => name !== ALLOCATION.offer);
const same = (a: Item, b: Item, attribute: string) => JSON.stringify(a[attribute] ?? null) === JSON.stringify(b[attribute] ?? null);

/** The events of a batch of stream records, in order. */
export function serverEvents(records: StreamRecord[]): ServerEvent[] {
    return records.flatMap(({ eventName, dynamodb }): ServerEvent[] => {
        const before = dynamodb?.OldImage;
        const after = dynamodb?.NewImage;
        if (eventName === "INSERT" && after) return [{ type: "online", server: toServer(after) }];
        if (eventName === "REMOVE" && before) return [offline(before)];
        if (eventName !== "MODIFY" || !before || !after) return [];
        // A row of an earlier run replaced by the next one's: the first server went, without warning.
        if (runOf(before) !== runOf(after)) return [offline(before), { type: "online", server: toServer(after) }];
        const leaving = leavingOf(after);
        if (leaving && !leavingOf(before)) return [{ type: "leaving", server: toServer(after), leaving, ...withAllocation(before) }];
        if (!ALLOCATION_ATTRIBUTES.every(attribute => same(before, after, attribute))) {
            const allocation = toAllocation(after);
            const previous = toAllocation(before);
            return [{ type: "allocation", server: toServer(after), ...(allocation && { allocation }), ...(previous && { previous }) }];
        }
        return [{ type: "updated", server: toServer(after) }];
    });
}

function offline(before: Item): ServerEvent {
    return { type: "offline", server: toServer(before), reason: leavingOf(before) ?? { reason: "gone" }, ...withAllocation(before) };
}

/** The allocation the row recorded, if any: the streams to move. A leaving row keeps its owner and count, not `allocated`. */
function withAllocation(item: Item): { allocation?: Allocation } {
    const allocation = toAllocation({ ...item, [ALLOCATION.allocated]: { BOOL: true } });
    return allocation ? { allocation } : {};
}
