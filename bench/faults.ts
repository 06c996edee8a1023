// Random faults on a share of AWS calls. "transient": the 500/503 answers the SDK
// retries by itself. "failing": an error it does not retry, so the handler throws
// and Lambda delivers the event again. Half strike before the call takes effect,
// half after (applied, but the answer is lost), since both happen in AWS.
import { AwsGateway, Service } from "../tests/support/aws/gateway";

export type FaultKind = "none" | "transient" | "failing";

const ACTIONS: Record<Service, string[]> = {
    ec2: ["DescribeInstances", "DescribeAddresses", "AssociateAddress", "DisassociateAddress"],
    route53: ["ChangeResourceRecordSets", "GetChange", "ListResourceRecordSets"],
    dynamodb: ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"],
    sqs: ["ChangeMessageVisibilityBatch"],
};

// Each service's own words for "try again".
const TRANSIENT: Record<Service, { code: string; status: number }[]> = {
    ec2: [{ code: "InternalError", status: 500 }, { code: "Unavailable", status: 503 }],
    route53: [{ code: "InternalFailure", status: 500 }, { code: "ServiceUnavailable", status: 503 }],
    dynamodb: [{ code: "InternalServerError", status: 500 }, { code: "ServiceUnavailable", status: 503 }],
    sqs: [{ code: "InternalError", status: 500 }, { code: "ServiceUnavailable", status: 503 }],
};

export const FAILING_CODE = "InjectedFault";

/** The error codes a kind of fault answers with. */
export function faultCodes(kind: FaultKind): string[] {
    if (kind === "none") return [];
    if (kind === "failing") return [FAILING_CODE];
    return [...new Set(Object.values(TRANSIENT).flat().map(f => f.code))];
}

/** Fails about `rate` of the calls to every action the binders use. */
export function injectFaults(gateway: AwsGateway, kind: FaultKind, rate: number, random: () => number): void {
    if (kind === "none") return;
    for (const [service, actions] of Object.entries(ACTIONS) as [Service, string[]][]) {
        const variants = kind === "transient" ? TRANSIENT[service] : [{ code: FAILING_CODE, status: 400 }];
        for (const action of actions) {
            // One draw per call decides whether and how it fails.
            let draw = 0;
            const shares = variants.flatMap(v => (["before", "after"] as const).map(when => ({ ...v, when })));
            shares.forEach((share, index) => gateway.inject({
                service,
                action,
                code: share.code,
                status: share.status,
                when: share.when,
                times: Number.MAX_SAFE_INTEGER,
                match: () => {
                    if (index === 0) draw = random();
                    return draw < rate && Math.floor((draw / rate) * shares.length) === index;
                },
            }));
        }
    }
}
