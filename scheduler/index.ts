// eip-dns-binder's scheduler client: allocate servers from the servers table by
// placement, release them, renew leases, and read the table's stream (docs/scheduler.md).
// The AWS SDK's DynamoDB client only; no Pulumi.
export { SchedulerClient } from "./client";
export type { AllocateOptions, ReleaseOutcome, SchedulerClientOptions } from "./client";
export type { Calls } from "./dynamodb";
export * as requests from "./requests";
export type { Selector } from "./requests";
export type { Allocation, Item, Leaving, Server } from "./rows";
export { serverEvents } from "./watch";
export type { ServerEvent, StreamRecord } from "./watch";
export { schedulerPolicy } from "./policy";
export type { PolicyDocument } from "./policy";
