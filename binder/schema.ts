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
