// Names shared by the stack that creates the tables and the Lambda that writes them.

/** Key attributes of the servers table. The scheduler reads these, so they never change. */
export const SERVER_KEY = { partition: "EIP", sort: "DNS_Record" } as const;

/**
 * Key attribute of the claims table, which holds two kinds of item: an instance's
 * claim (key: the instance id, `i-…`), which keeps the instance to one address, and
 * an address's lock (key: the allocation id, `eipalloc-…`), which keeps the address
 * to one instance before EC2 is asked.
 */
export const CLAIM_KEY = "Id";

/** Tag the stack puts on the addresses it allocates, so it can tell them from BYOIP addresses. */
export const STACK_TAG = "eip-dns-binder:stack";
