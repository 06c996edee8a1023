// Names shared by the stack that creates the tables and the Lambda that writes them.

/** Key attributes of the servers table. The scheduler reads these, so they never change. */
export const SERVER_KEY = { partition: "EIP", sort: "DNS_Record" } as const;

/** Key attribute of the claims table: one claim per instance keeps an instance to one address. */
export const CLAIM_KEY = "InstanceId";

/** Tag the stack puts on the addresses it allocates, so it can tell them from BYOIP addresses. */
export const STACK_TAG = "eip-dns-binder:stack";
