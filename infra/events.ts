import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DRAIN_REASONS, DrainReason } from "../binder/events";
import { MAX_EVENT_AGE } from "./failures";
import { Owner } from "./owner";

/** The EC2 lifecycle states the binder acts on: bind when running, withdraw the row when stopping, release when going away. */
export const STATES = ["running", "stopping", "stopped", "shutting-down", "terminated"];

export const EVENT_PATTERN = {
    "source": ["aws.ec2"],
    "detail-type": ["EC2 Instance State-change Notification"],
    "detail": { state: STATES },
};

/** An early drain signal's rule: what it matches, as AWS documents the event, and what it says in the console. */
export interface DrainRule {
    pattern: Record<string, unknown>;
    description: string;
}

/** The rule of each drain signal `drainOn` can choose; tests/fixtures/events/README.md cites the documents. */
export const DRAIN_RULES: Record<DrainReason, DrainRule> = {
    // EC2 warns two minutes before it stops or terminates a Spot Instance (at once for
    // hibernation), and names the instance in detail.instance-id.
    "spot-interruption": {
        pattern: { "source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"] },
        description: "EC2 Spot Instance interruption warnings, two minutes before the instance goes, for eip-dns-binder.",
    },
    // EC2 recommends a rebalance when a Spot Instance is at elevated risk of interruption;
    // many are never followed by one, so drainOn leaves this rule out unless asked.
    "rebalance-recommendation": {
        pattern: { "source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"] },
        description: "EC2 Spot Instance rebalance recommendations, for eip-dns-binder.",
    },
    // AWS Health announces scheduled reboots, stops and retirements of EC2 instances, each
    // naming its instances among its affected entities; other services' events stay out.
    "scheduled-change": {
        pattern: {
            "source": ["aws.health"],
            "detail-type": ["AWS Health Event"],
            "detail": { service: ["EC2"], eventTypeCategory: ["scheduledChange"] },
        },
        description: "AWS Health scheduled changes (reboot, stop, retirement, maintenance) of EC2 instances, for eip-dns-binder.",
    },
};

/** Routes every EC2 instance state change of interest in the account to the event queue. */
export function stateChangeRule(owner: Owner, events: aws.sqs.Queue, deadLetters: aws.sqs.Queue): aws.cloudwatch.EventRule {
    // Events carry no tags, so the rule matches every instance and the binder filters by tag.
    // Stopping and stopped are always sent, whatever drainOn says: a stopped server cannot serve.
    const rule = new aws.cloudwatch.EventRule(owner.name("instance-state"), {
        description: "EC2 instances entering running, stopping, stopped, shutting-down or terminated, for eip-dns-binder.",
        eventPattern: JSON.stringify(EVENT_PATTERN),
    }, { parent: owner.parent });
    toQueue(owner, "instance-state", rule, events, deadLetters);
    return rule;
}

/** Routes the drain signals `drainOn` chooses to the event queue, one rule each, in the order of DRAIN_REASONS. */
export function drainSignalRules(owner: Owner, events: aws.sqs.Queue, deadLetters: aws.sqs.Queue, drainOn: readonly DrainReason[]): aws.cloudwatch.EventRule[] {
    // Like state changes, the signals name instances of every kind: the binder filters by tag.
    return DRAIN_REASONS.filter(reason => drainOn.includes(reason)).map(reason => {
        const rule = new aws.cloudwatch.EventRule(owner.name(`drain-${reason}`), {
            description: DRAIN_RULES[reason].description,
            eventPattern: JSON.stringify(DRAIN_RULES[reason].pattern),
        }, { parent: owner.parent });
        toQueue(owner, `drain-${reason}`, rule, events, deadLetters);
        return rule;
    });
}

/** Lets only `rules` send to the event queue and to its dead-letter queue: EventBridge is allowed for them, and everyone else refused. */
export function onlyRulesSend(owner: Owner, events: aws.sqs.Queue, deadLetters: aws.sqs.Queue, rules: aws.cloudwatch.EventRule[]): void {
    onlyRulesSendTo(owner, "instance-events", events, rules);
    onlyRulesSendTo(owner, "undelivered-events", deadLetters, rules);
}

function toQueue(owner: Owner, name: string, rule: aws.cloudwatch.EventRule, events: aws.sqs.Queue, deadLetters: aws.sqs.Queue): aws.cloudwatch.EventTarget {
    // The target puts each matching event in the queue, retrying delivery and
    // dead-lettering what it cannot deliver instead of dropping it.
    return new aws.cloudwatch.EventTarget(owner.name(name), {
        rule: rule.name,
        arn: events.arn,
        retryPolicy: { maximumEventAgeInSeconds: MAX_EVENT_AGE, maximumRetryAttempts: 10 },
        deadLetterConfig: { arn: deadLetters.arn },
    }, { parent: owner.parent });
}

function onlyRulesSendTo(owner: Owner, name: string, queue: aws.sqs.Queue, rules: aws.cloudwatch.EventRule[]): aws.sqs.QueuePolicy {
    const senders = rules.map(rule => rule.arn);
    return new aws.sqs.QueuePolicy(owner.name(name), {
        queueUrl: queue.url,
        policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [
                {
                    Sid: "EventsFromTheRules",
                    Effect: "Allow",
                    Principal: { Service: "events.amazonaws.com" },
                    Action: "sqs:SendMessage",
                    Resource: queue.arn,
                    Condition: { ArnEquals: { "aws:SourceArn": senders } },
                },
                {
                    // An identity of the account with sqs:SendMessage in its own policy could
                    // otherwise put a forged event here. A request that is not a rule's
                    // carries another aws:SourceArn, or none, and a missing key equals none of
                    // the rules; a negated operator with several values holds only when the
                    // key matches none of them (IAM User Guide, condition operators).
                    Sid: "NobodyElseSends",
                    Effect: "Deny",
                    Principal: "*",
                    Action: "sqs:SendMessage",
                    Resource: queue.arn,
                    Condition: { ArnNotEquals: { "aws:SourceArn": senders } },
                },
            ],
        }),
    }, { parent: owner.parent });
}

/** Runs the reconciler on a schedule. */
export function reconcileSchedule(owner: Owner, fn: aws.lambda.Function, schedule: string): aws.cloudwatch.EventRule {
    // The schedule heals whatever lost or failed events left behind.
    const rule = new aws.cloudwatch.EventRule(owner.name("reconcile"), {
        description: "Reconciles eip-dns-binder's pool, claims and rows with EC2.",
        scheduleExpression: schedule,
    }, { parent: owner.parent });

    // EventBridge may invoke the reconciler only for this schedule.
    new aws.lambda.Permission(owner.name("reconcile"), {
        action: "lambda:InvokeFunction",
        function: fn.name,
        principal: "events.amazonaws.com",
        sourceArn: rule.arn,
    }, { parent: owner.parent });

    // The schedule's target is the reconciler function.
    new aws.cloudwatch.EventTarget(owner.name("reconcile"), { rule: rule.name, arn: fn.arn }, { parent: owner.parent });
    return rule;
}
