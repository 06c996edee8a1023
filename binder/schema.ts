// Names shared by the stack that creates the tables and the Lambda that writes them.
import type { Tags } from "./config";

/** Key attributes of the servers table. The scheduler reads these, so they never change. */
export const SERVER_KEY = { partition: "EIP", sort: "DNS_Record" } as const;

/**
 * Key attribute of the claims table, which holds four kinds of item: an instance's
 * claim (key: the instance id, `i-…`), which keeps the instance to one address; an
 * address's lock (key: the allocation id, `eipalloc-…`), which keeps the address
 * to one instance before EC2 is asked; an instance's drain item (key: `drain/i-…`),
 * its drain causes and the fence of its last stopped run, which keep its server off
 * the list while it goes away or after it stopped; and a worker's place on the
 * waitlist (key: `wait/i-…`), a running worker that found the pool exhausted.
 */
export const CLAIM_KEY = "Id";

/** The key of an instance's drain item (drain causes, stop fence) in the claims table. */
export const drainKey = (instanceId: string) => `drain/${instanceId}`;

/** The key of a worker's place on the waitlist: one item per waiting worker, so that no item or write grows with the line. */
export const waitKey = (instanceId: string) => `wait/${instanceId}`;

/**
 * The claims table's index of the waitlist, longest waiting first: sparse (only a
 * worker's place carries its keys), one partition, sorted by `<since>#<instance id>`.
 */
export const WAITLIST_INDEX = { name: "waitlist", partition: "WaitList", sort: "WaitPlace" } as const;

/** The one value of the waitlist index's partition key. */
export const WAITLIST_PARTITION = "waiting";

/** The key of the one waitlist item of versions before one item per worker: never read, and skipped (see docs/claim-protocol.md). */
export const LEGACY_WAITLIST_KEY = "waitlist";

/** Tag the stack puts on the addresses it allocates, so it can tell them from BYOIP addresses. */
export const STACK_TAG = "eip-dns-binder:stack";

/** Tag naming the stack and pool an address belongs to, so that a binder leaves another stack's addresses alone. */
export const OWNER_TAG = "eip-dns-binder:owner";

/** EC2's longest tag value. */
const TAG_VALUE_LIMIT = 256;

/** The owner tag's value for a stack's pool: `<stack>/<tag>=<value>,…`, tags in key order, cut to EC2's limit. */
export function poolOwner(stack: string, addressTags: Tags): string {
    const pool = Object.keys(addressTags).sort().map(key => `${key}=${addressTags[key]}`).join(",");
    return `${stack}/${pool}`.slice(0, TAG_VALUE_LIMIT);
}

/**
 * The servers table's index of what a scheduler may allocate, by placement: a row
 * carries `Offer` (`free`, `open`: shared and with room, `full`) while it is offered,
 * and none while its server is leaving (stopping or draining), so the index is sparse;
 * `OfferKey` is its placement (see offerKey), so a selector is a key prefix.
 */
export const OFFER_INDEX = { name: "offers", partition: "Offer", sort: "OfferKey" } as const;

/** The values of a row's `Offer`: no streams; some streams, room for more; no room. */
export const OFFER = { free: "free", open: "open", full: "full" } as const;

/** Where a server runs, as the offers index sorts it. */
export interface OfferPlacement {
    availabilityZone?: string;
    capacityType?: string;
    nodePool?: string;
    instanceType?: string;
}

/** The placement parts in key order: the broadest first, so a selector's leading parts are a key prefix. */
export const OFFER_KEY_PARTS = ["availabilityZone", "capacityType", "nodePool", "instanceType"] as const;

/** The `OfferKey` of a placement: `<zone>#<capacity type>#<node pool>#<instance type>#`, `-` for a part not known. */
export function offerKey(placement: OfferPlacement): string {
    return OFFER_KEY_PARTS.map(part => `${placement[part] || "-"}#`).join("");
}

/**
 * Attributes of a row whose server is leaving, written just before the row goes so the
 * stream shows why and until when: `Leaving` (`stopped` or `draining`), and for a drain
 * `DrainCause` and, when the signal gives one, `DrainDeadline`.
 */
export const LEAVING = { reason: "Leaving", cause: "DrainCause", deadline: "DrainDeadline" } as const;
