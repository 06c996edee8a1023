import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { METRIC, NAMESPACE } from "../binder/metrics";
import { FailureQueues } from "./failures";

export interface AlarmArgs {
    stack: string;
    minFreeAddresses: number;
    alarmEmail?: string;
    queues: FailureQueues;
}

/** Alarms on a pool running dry, on failing binds and on events that ended up in a queue. */
export function alarms(args: AlarmArgs): { topic?: aws.sns.Topic; alarms: aws.cloudwatch.MetricAlarm[] } {
    let topic: aws.sns.Topic | undefined;
    if (args.alarmEmail) {
        // One topic carries every alarm to the people who look after the pool.
        topic = new aws.sns.Topic("alarms");
        // The address must confirm the subscription from the email AWS sends.
        new aws.sns.TopicSubscription("alarms", { topic: topic.arn, protocol: "email", endpoint: args.alarmEmail });
    }
    const actions = topic ? [topic.arn] : [];
    const binderMetric = { namespace: NAMESPACE, dimensions: { Stack: args.stack }, period: 300, evaluationPeriods: 1 };

    const made = [
        // The pool is nearly dry: the next workers will come up without an address.
        new aws.cloudwatch.MetricAlarm("free-addresses", {
            ...binderMetric,
            alarmDescription: `Fewer than ${args.minFreeAddresses} pool address(es) are free: grow the pool (poolSize) or tag more addresses.`,
            metricName: METRIC.freeAddresses,
            statistic: "Minimum",
            comparisonOperator: "LessThanThreshold",
            threshold: args.minFreeAddresses,
            treatMissingData: "notBreaching",
            alarmActions: actions,
            okActions: actions,
        }),
        // Binds or releases are failing (pool exhausted, AWS errors, malformed events).
        new aws.cloudwatch.MetricAlarm("failures", {
            ...binderMetric,
            alarmDescription: "eip-dns-binder failed to handle events; see the function's logs and the failed-events queue.",
            metricName: METRIC.failures,
            statistic: "Sum",
            comparisonOperator: "GreaterThanThreshold",
            threshold: 0,
            treatMissingData: "notBreaching",
            alarmActions: actions,
        }),
        ...Object.entries(args.queues).map(([kind, queue]) =>
            // An event is waiting in a failure queue: someone has to look at it.
            new aws.cloudwatch.MetricAlarm(`${kind}-queue`, {
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
            })),
    ];
    return { topic, alarms: made };
}
