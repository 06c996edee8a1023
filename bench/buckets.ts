// AWS's request throttling as token buckets, answering the gateway's throttle hook.
// EC2 keeps one bucket per API and account; Route53 one for the whole account;
// DynamoDB (on-demand, far below its limits here) none.
import { Service } from "../tests/support/aws/gateway";
import { Clock } from "./clock";

export interface Limit {
    /** Tokens per second. */
    rate: number;
    burst: number;
}

export const LIMITS = {
    ec2Mutating: { rate: 5, burst: 50 },
    ec2Describe: { rate: 20, burst: 100 },
    route53: { rate: 5, burst: 5 },
} as const satisfies Record<string, Limit>;

const EC2_MUTATING = new Set(["AssociateAddress", "DisassociateAddress"]);

/** Which bucket a call draws from, or undefined when it is not throttled. */
function bucketOf(service: Service, action: string): { key: string; limit: Limit } | undefined {
    if (service === "ec2") return { key: `ec2:${action}`, limit: EC2_MUTATING.has(action) ? LIMITS.ec2Mutating : LIMITS.ec2Describe };
    if (service === "route53") return { key: "route53", limit: LIMITS.route53 };
    return undefined;
}

class Bucket {
    private tokens: number;
    private last: number;

    constructor(private readonly limit: Limit, now: number) {
        this.tokens = limit.burst;
        this.last = now;
    }

    take(now: number): boolean {
        this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.last) / 1000) * this.limit.rate);
        this.last = now;
        if (this.tokens < 1) return false;
        this.tokens -= 1;
        return true;
    }
}

export class Throttler {
    private readonly buckets = new Map<string, Bucket>();
    /** Throttled calls by "service:action". */
    readonly throttled = new Map<string, number>();

    constructor(private readonly clock: Clock) {}

    /** The gateway's hook: true answers the call with the service's throttling error. */
    readonly throttle = (service: Service, action: string): boolean => {
        const which = bucketOf(service, action);
        if (!which) return false;
        let bucket = this.buckets.get(which.key);
        if (!bucket) this.buckets.set(which.key, bucket = new Bucket(which.limit, this.clock.now()));
        if (bucket.take(this.clock.now())) return false;
        const name = `${service}:${action}`;
        this.throttled.set(name, (this.throttled.get(name) ?? 0) + 1);
        return true;
    };
}
