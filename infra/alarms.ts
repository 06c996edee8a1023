import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { METRIC, NAMESPACE } from "../binder/metrics";
import { FailureQueues } from "./failures";
import { quotaAlarmThreshold } from "./guardrails";
import { Owner } from "./owner";

export interface AlarmArgs {
    /** The pool's name in the binder's metrics (their Stack dimension). */
    stack: string;
    minFreeAddresses: number;
    /** The account's Elastic IP quota in the Region; without it, no alarm watches the pool's size. */
    addressQuota?: number;
    alarmEmail?: string;
    /** The customer managed key the topic is encrypted with; unset, SNS keeps it unencrypted as before. */
    kmsKeyArn?: pulumi.Input<string>;
    queues: FailureQueues;
    /** The queue the binder reads; its oldest message's age shows a stalled binder. */
    events: aws.sqs.Queue;
}

/** Longer than a failed message's wait for redelivery (the queue's visibility timeout, 12 minutes). */
const STALLED_AFTER = 900;

/** Alarms on a pool running dry or near the Elastic IP quota, on failing binds, on a stalled event queue and on events set aside in a failure queue. */
export function alarms(owner: Owner, args: AlarmArgs): { topic?: aws.sns.Topic; alarms: aws.cloudwatch.MetricAlarm[] } {
    let topic: aws.sns.Topic | undefined;
    if (args.alarmEmail) {
        // One topic carries every alarm to the people who look after the pool.
        topic = new aws.sns.Topic(owner.name("alarms"), { ...(args.kmsKeyArn && { kmsMasterKeyId: args.kmsKeyArn }) }, { parent: owner.parent });
        // The address must confirm the subscription from the email AWS sends.
        new aws.sns.TopicSubscription(owner.name("alarms"), { topic: topic.arn, protocol: "email", endpoint: args.alarmEmail }, { parent: owner.parent });
    }
    const actions = topic ? [topic.arn] : [];
    const binderMetric = { namespace: NAMESPACE, dimensions: { Stack: args.stack }, period: 300, evaluationPeriods: 1 };

    const made = [
        // The pool is nearly dry: the next workers will come up without an address.
        new aws.cloudwatch.MetricAlarm(owner.name("free-addresses"), {
            ...binderMetric,
            alarmDescription: `Fewer than ${args.minFreeAddresses} pool address(es) are free: grow the pool (poolSize) or tag more addresses.`,
            metricName: METRIC.freeAddresses,
            statistic: "Minimum",
            comparisonOperator: "LessThanThreshold",
            threshold: args.minFreeAddresses,
            treatMissingData: "notBreaching",
            alarmActions: actions,
            okActions: actions,
        }, { parent: owner.parent }),
        // Binds or releases are failing (pool exhausted, AWS errors, malformed events).
        new aws.cloudwatch.MetricAlarm(owner.name("failures"), {
            ...binderMetric,
            alarmDescription: "eip-dns-binder failed to handle events; see the function's logs and the failed-events queue.",
            metricName: METRIC.failures,
            statistic: "Sum",
            comparisonOperator: "GreaterThanThreshold",
            threshold: 0,
            treatMissingData: "notBreaching",
            alarmActions: actions,
        }, { parent: owner.parent }),
        // Events are waiting too long to be handled: the binder is failing, throttled or disabled.
        new aws.cloudwatch.MetricAlarm(owner.name("event-backlog"), {
            alarmDescription: pulumi.interpolate`Events in ${args.events.name} have waited over ${STALLED_AFTER / 60} minutes: check the binder's logs and its event source mapping.`,
            namespace: "AWS/SQS",
            metricName: "ApproximateAgeOfOldestMessage",
            dimensions: { QueueName: args.events.name },
            statistic: "Maximum",
            period: 300,
            evaluationPeriods: 1,
            comparisonOperator: "GreaterThanThreshold",
            threshold: STALLED_AFTER,
            treatMissingData: "notBreaching",
            alarmActions: actions,
        }, { parent: owner.parent }),
        ...Object.entries(args.queues).map(([kind, queue]) =>
            // An event is waiting in a failure queue: someone has to look at it.
            new aws.cloudwatch.MetricAlarm(owner.name(`${kind}-queue`), {
                alarmDescription: pulumi.interpolate`Events are waiting in ${queue.name}; inspect, fix and redrive them.`,
                namespace: "AWS/SQS",
                metricName: "ApproximateNumberOfMessagesVisible",
                dimensions: { QueueName: queue.name },
                statistic: "Maximum",
                period: 300,
                evaluationPeriods: 1,
                comparisonOperator: "GreaterThanThreshold",
                threshold: 0,
                treatMissingData: "notBreaching",
                alarmActions: actions,
            }, { parent: owner.parent })),
    ];
    const quota = args.addressQuota;
    if (quota !== undefined) {
        // The pool is close to the account's Elastic IP quota: growing it further will fail.
        made.push(new aws.cloudwatch.MetricAlarm(owner.name("address-quota"), {
            ...binderMetric,
            alarmDescription: `The pool holds ${quotaAlarmThreshold(quota)} or more addresses, near the Elastic IP quota of ${quota} (addressQuota): raise the quota before growing the pool.`,
            metricName: METRIC.poolSize,
            statistic: "Maximum",
            comparisonOperator: "GreaterThanOrEqualToThreshold",
            threshold: quotaAlarmThreshold(quota),
            treatMissingData: "notBreaching",
            alarmActions: actions,
        }, { parent: owner.parent }));
    }
    return { topic, alarms: made };
}
