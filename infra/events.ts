import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { MAX_EVENT_AGE } from "./failures";

/** The EC2 lifecycle states the binder acts on: bind when running, withdraw the row when stopping, release when going away. */
export const STATES = ["running", "stopping", "stopped", "shutting-down", "terminated"];

export const EVENT_PATTERN = {
    "source": ["aws.ec2"],
    "detail-type": ["EC2 Instance State-change Notification"],
    "detail": { state: STATES },
};

/** Routes every EC2 instance state change of interest in the account to the event queue. */
export function stateChangeRule(events: aws.sqs.Queue, deadLetters: aws.sqs.Queue): aws.cloudwatch.EventRule {
    // Events carry no tags, so the rule matches every instance and the binder filters by tag.
    const rule = new aws.cloudwatch.EventRule("instance-state", {
        description: "EC2 instances entering running, stopping, stopped, shutting-down or terminated, for eip-dns-binder.",
        eventPattern: JSON.stringify(EVENT_PATTERN),
    });

    // The target puts each matching event in the queue, retrying delivery and
    // dead-lettering what it cannot deliver instead of dropping it.
    new aws.cloudwatch.EventTarget("instance-state", {
        rule: rule.name,
        arn: events.arn,
        retryPolicy: { maximumEventAgeInSeconds: MAX_EVENT_AGE, maximumRetryAttempts: 10 },
        deadLetterConfig: { arn: deadLetters.arn },
    });

    // Only this rule may send to either queue: EventBridge is allowed, and everyone else refused.
    onlyRuleSends("instance-events", events, rule);
    onlyRuleSends("undelivered-events", deadLetters, rule);
    return rule;
}

function onlyRuleSends(name: string, queue: aws.sqs.Queue, rule: aws.cloudwatch.EventRule): aws.sqs.QueuePolicy {
    return new aws.sqs.QueuePolicy(name, {
        queueUrl: queue.url,
        policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [
                {
                    Sid: "EventsFromTheRule",
                    Effect: "Allow",
                    Principal: { Service: "events.amazonaws.com" },
                    Action: "sqs:SendMessage",
                    Resource: queue.arn,
                    Condition: { ArnEquals: { "aws:SourceArn": rule.arn } },
                },
                {
                    // An identity of the account with sqs:SendMessage in its own policy could
                    // otherwise put a forged event here. A request that is not the rule's
                    // carries another aws:SourceArn, or none, and a missing key does not
                    // equal the rule (IAM User Guide, condition operators).
                    Sid: "NobodyElseSends",
                    Effect: "Deny",
                    Principal: "*",
                    Action: "sqs:SendMessage",
                    Resource: queue.arn,
                    Condition: { ArnNotEquals: { "aws:SourceArn": rule.arn } },
                },
            ],
        }),
    });
}

/** Runs the reconciler on a schedule. */
export function reconcileSchedule(fn: aws.lambda.Function, schedule: string): aws.cloudwatch.EventRule {
    // The schedule heals whatever lost or failed events left behind.
    const rule = new aws.cloudwatch.EventRule("reconcile", {
        description: "Reconciles eip-dns-binder's pool, claims and rows with EC2.",
        scheduleExpression: schedule,
    });

    // EventBridge may invoke the reconciler only for this schedule.
    new aws.lambda.Permission("reconcile", {
        action: "lambda:InvokeFunction",
        function: fn.name,
        principal: "events.amazonaws.com",
        sourceArn: rule.arn,
    });

    // The schedule's target is the reconciler function.
    new aws.cloudwatch.EventTarget("reconcile", { rule: rule.name, arn: fn.arn });
    return rule;
}
