import { BinderSettings, Tags } from "./config";
import { Dns } from "./aws/dns";
import { Ec2 } from "./aws/ec2";
import { Logger } from "./log";
import { Metrics } from "./metrics";
import { renderName } from "./naming";
import { Claim, Store } from "./aws/store";

/** What bind and release work with: settings, the AWS layer, a logger and clocks. */
export interface Context {
    settings: BinderSettings;
    ec2: Ec2;
    store: Store;
    dns: Dns;
    log: Logger;
    metrics: Metrics;
    now: () => Date;
    /** Milliseconds until the invocation times out (Infinity outside Lambda). */
    timeLeft: () => number;
}

/** Whether `tags` carries every one of `required`, with the same value. */
export function hasTags(tags: Tags, required: Tags): boolean {
    return Object.entries(required).every(([key, value]) => tags[key] === value);
}

/** The claim `instanceId` makes on an address, with the DNS name the binding will carry. */
export function claimFor(ctx: Context, instanceId: string, address: { allocationId: string; publicIp: string }): Claim {
    const { dnsName, suffix } = ctx.settings;
    return {
        instanceId,
        allocationId: address.allocationId,
        publicIp: address.publicIp,
        dnsName: renderName(dnsName, { ip: address.publicIp, suffix, instanceId }),
        claimedAt: ctx.now().toISOString(),
    };
}

/** "team=live, pool=media": how tags read in a log line or an error. */
export function describeTags(tags: Tags): string {
    return Object.entries(tags).map(([key, value]) => `${key}=${value}`).join(", ");
}
