// AWS's request throttling as token buckets, answering the gateway's throttle hook.
// EC2 evaluates each API action on its own bucket, sized by the action's category
// ("Request throttling for the Amazon EC2 API", "Request token bucket sizes and
// refill rates"); Route53 has one bucket for every request of the account (Route53
// quotas, "Quotas on API requests"); DynamoDB (on-demand, far below its limits here) none.
import { Service } from "../tests/support/aws/gateway";
import { Clock } from "./clock";

export interface Limit {
    /** Tokens per second. */
    rate: number;
    burst: number;
}

/** The categories' buckets, as the EC2 and Route53 docs give them. */
export const LIMITS = {
    /** Describe*, List*, Get*, Search* not in another category. */
    ec2NonMutating: { rate: 20, burst: 100 },
    /** DescribeInstances and six more, called without a filter or pagination. */
    ec2Unfiltered: { rate: 10, burst: 50 },
    /** Every mutating action not resource-intensive or uncategorized: AssociateAddress, DisassociateAddress. */
    ec2Mutating: { rate: 5, burst: 50 },
    /** Five requests a second for the account, all actions together. */
    route53: { rate: 5, burst: 5 },
} as const satisfies Record<string, Limit>;

/** The actions of the "unfiltered and unpaginated non-mutating" category. */
const UNFILTERED = new Set(["DescribeInstances", "DescribeInstanceStatus", "DescribeNetworkInterfaces", "DescribeSecurityGroups", "DescribeSnapshots", "DescribeSpotInstanceRequests", "DescribeVolumes"]);
const NON_MUTATING = /^(Describe|List|Get|Search)/;

/** Other clients in the account, as a steady draw on the buckets they share with the binder (requests a second). */
export interface BackgroundLoad {
    /** Karpenter's own DescribeInstances (filtered), on the bucket the binder's reads use. */
    ec2DescribeInstances: number;
    /** Another tool's Route53 requests (external-dns, say), on the account's one bucket. */
    route53: number;
}

export const NO_BACKGROUND: BackgroundLoad = { ec2DescribeInstances: 0, route53: 0 };

/** Which bucket a call draws from, or undefined when it is not throttled. EC2 inputs are the query's flat form. */
function bucketOf(service: Service, action: string, input: unknown): { key: string; limit: Limit } | undefined {
    if (service === "route53") return { key: "route53", limit: LIMITS.route53 };
    if (service !== "ec2") return undefined;
    const params = Object.keys((input ?? {}) as Record<string, unknown>);
    const narrowed = params.some(key => key.startsWith("Filter.") || key === "MaxResults" || key === "NextToken");
    if (UNFILTERED.has(action) && !narrowed) return { key: `ec2:${action}:unfiltered`, limit: LIMITS.ec2Unfiltered };
    return { key: `ec2:${action}`, limit: NON_MUTATING.test(action) ? LIMITS.ec2NonMutating : LIMITS.ec2Mutating };
}

class Bucket {
    private tokens: number;
    private last: number;

    /** `taken`: tokens a second other clients draw, so the binder's share of the refill is what is left. */
    constructor(private readonly limit: Limit, private readonly taken: number, now: number) {
        this.tokens = limit.burst;
        this.last = now;
    }

    take(now: number): boolean {
        const refill = Math.max(0, this.limit.rate - this.taken);
        this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.last) / 1000) * refill);
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
    private readonly taken: Record<string, number>;

    constructor(private readonly clock: Clock, background: BackgroundLoad = NO_BACKGROUND) {
        this.taken = { "ec2:DescribeInstances": background.ec2DescribeInstances, "route53": background.route53 };
    }

    /** The gateway's hook: true answers the call with the service's throttling error. */
    readonly throttle = (service: Service, action: string, input: unknown): boolean => {
        const which = bucketOf(service, action, input);
        if (!which) return false;
        let bucket = this.buckets.get(which.key);
        if (!bucket) this.buckets.set(which.key, bucket = new Bucket(which.limit, this.taken[which.key] ?? 0, this.clock.now()));
        if (bucket.take(this.clock.now())) return false;
        const name = `${service}:${action}`;
        this.throttled.set(name, (this.throttled.get(name) ?? 0) + 1);
        return true;
    };
}
