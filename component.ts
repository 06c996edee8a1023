// The package's entry point, for other Pulumi programs: one pool of Elastic IPs, DNS
// names and scheduler rows as a component. This repository's own program is index.ts.
export { EIP_DNS_BINDER_TYPE, EipDnsBinder } from "./infra/component";
export type { EipDnsBinderArgs, EipDnsBinderOptions } from "./infra/component";
export { DEFAULT_DRAIN_ON, DEFAULTS } from "./binder/config";
export type { DnsRecordsMode, Settings, Tags } from "./binder/config";
export type { DrainReason } from "./binder/events";
