// eip-dns-binder: gives every Karpenter-launched worker that carries the instance
// tags an Elastic IP from a tagged pool, a DNS name and a row in the servers table,
// and takes all three back when the worker goes away. One stack per environment.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createEventHandler, createHookHandler, createReconcileHandler } from "./binder";
import { binderEnvironment, EVENT_QUEUE_URL_ENV, NODE_ROLE_ARNS_ENV, parseSettings, PROJECT, Settings } from "./binder/config";
import { isNamedError } from "./binder/errors";
import { alarms } from "./infra/alarms";
import { failureQueues } from "./infra/failures";
import { previewWarnings } from "./infra/guardrails";
import { drainSignalRules, onlyRulesSend, reconcileSchedule, stateChangeRule } from "./infra/events";
import { checkNodeRoles, HOOK_TIMEOUT, hookEndpoint } from "./infra/hooks";
import { binderFunction } from "./infra/lambda";
import { eventQueue, feedFromQueue } from "./infra/queue";
import { addressName, addressRecords, allocateAddresses, findExternalAddresses, PoolAddress } from "./infra/pool";
import { tables } from "./infra/tables";

/** Reads `pulumi config`; a bad value fails the preview with a message naming its key. */
function loadSettings(): Settings {
    const config = new pulumi.Config(PROJECT);
    try {
        return parseSettings(key => config.get(key));
    } catch (err) {
        throw isNamedError(err, "ConfigError") ? new pulumi.RunError(err.message) : err;
    }
}

export = async () => {
    const settings = loadSettings();
    const stack = pulumi.getStack();

    // The servers table is what the scheduler reads; the claims table is the binder's lock.
    const { servers, claims } = tables(settings.deletionProtection);

    // The public zone is looked up by name, so stacks need no zone id in their config.
    const zone = await aws.route53.getZone({ name: settings.hostedZone, privateZone: false });

    // The pool: addresses this stack allocates, plus tagged ones made elsewhere (BYOIP).
    const allocated = allocateAddresses(settings, stack);
    const external = await findExternalAddresses(settings, stack);
    const pool: PoolAddress[] = [
        ...allocated.map((eip, i) => ({ key: `pool-${i}`, publicIp: eip.publicIp })),
        ...external,
    ];
    // A pool past the Elastic IP quota, or interfaces left unscoped, show in the preview.
    for (const warning of previewWarnings(settings, external.length)) pulumi.log.warn(warning);

    // In per-address mode every pool address gets its A record now, before any worker boots.
    addressRecords(settings, zone.zoneId, pool);

    // What both functions are told and allowed: this stack's tables, zone and pool.
    const binderSettings = {
        stack,
        instanceTags: JSON.stringify(settings.instanceTags),
        addressTags: JSON.stringify(settings.addressTags),
        hostedZone: settings.hostedZone,
        hostedZoneId: zone.zoneId,
        suffix: settings.suffix,
        dnsName: settings.dnsName,
        dnsTtl: String(settings.dnsTtl),
        dnsRecords: settings.dnsRecords,
        serversTable: servers.name,
        claimsTable: claims.name,
    };
    const scope = {
        tables: pulumi.output({ servers: servers.arn, claims: claims.arn }),
        hostedZoneId: zone.zoneId,
        addressTags: settings.addressTags,
        instanceTags: settings.instanceTags,
        dnsRecords: settings.dnsRecords,
        dnsName: settings.dnsName,
        suffix: settings.suffix,
        vpcIds: settings.vpcIds,
    };

    // Events that fail every delivery, or cannot be delivered, are kept in queues.
    const queues = failureQueues();

    // EC2 state changes wait in a queue, so a burst is handled at the pace EC2 allows.
    const binderTimeout = 120;
    const events = eventQueue(queues.handling, binderTimeout);

    // The binder Lambda handles EC2 state changes, serialized from binder/.
    const binder = binderFunction("binder", {
        description: "Binds pool Elastic IPs, DNS names and scheduler rows to EC2 instances as they start and stop.",
        factory: createEventHandler,
        timeout: binderTimeout,
        settings: binderSettings,
        // It hands failed messages back to its queue to come again soon.
        environment: { [EVENT_QUEUE_URL_ENV]: events.url },
        policy: { ...scope, role: "binder", eventQueueArn: events.arn },
    });
    feedFromQueue(binder, events, settings.binderConcurrency);

    // EC2 state changes (running, stopping, stopped, shutting-down, terminated) go to the queue.
    const stateRule = stateChangeRule(events, queues.delivery);

    // The early drain signals drainOn chooses (Spot interruptions, rebalances, scheduled changes) go to the same queue.
    const drainRules = drainSignalRules(events, queues.delivery, settings.drainOn);

    // Only those rules may send to the event queue and to its dead-letter queue.
    onlyRulesSend(events, queues.delivery, [stateRule, ...drainRules]);

    // The reconciler heals what lost or failed events left behind, on a schedule.
    const reconciler = binderFunction("reconciler", {
        description: "Reconciles eip-dns-binder's pool, claims and rows with EC2.",
        factory: createReconcileHandler,
        timeout: 300,
        settings: binderSettings,
        policy: { ...scope, role: "reconciler" },
    });
    reconcileSchedule(reconciler, settings.reconcileSchedule);

    // With nodeRoleArns, the node hooks: a worker binds itself at boot and drains itself on its way out.
    let hookUrl: aws.lambda.FunctionUrl | undefined;
    if (settings.nodeRoleArns) {
        checkNodeRoles(settings.nodeRoleArns, (await aws.getCallerIdentity()).accountId);
        // The hook function acts only on the instance that calls, as the binder would on its events.
        const hook = binderFunction("hook", {
            description: "Binds or drains the worker that calls, for eip-dns-binder's node hooks.",
            factory: createHookHandler,
            timeout: HOOK_TIMEOUT,
            settings: binderSettings,
            environment: { [NODE_ROLE_ARNS_ENV]: JSON.stringify(settings.nodeRoleArns) },
            policy: { ...scope, role: "hook" },
        });
        hookUrl = hookEndpoint(hook, settings.nodeRoleArns);
    }

    // Alarms: pool running dry or near the quota, failing binds, a stalled event queue, events in a failure queue.
    const { topic } = alarms({
        stack, minFreeAddresses: settings.minFreeAddresses, addressQuota: settings.addressQuota, alarmEmail: settings.alarmEmail, queues, events,
    });

    return {
        serversTable: servers.name,
        serversStream: servers.streamArn,
        claimsTable: claims.name,
        functionName: binder.name,
        reconcilerName: reconciler.name,
        zoneId: zone.zoneId,
        eventQueue: events.url,
        failedEventsQueue: queues.handling.url,
        undeliveredEventsQueue: queues.delivery.url,
        alarmTopic: topic?.arn,
        hookUrl: hookUrl?.functionUrl,
        pool: pulumi
            .all(pool.map(address => pulumi.all([address.publicIp, addressName(settings, address.publicIp)])))
            .apply(entries => Object.fromEntries(entries)),
        // The functions' settings, so `pulumi stack output --json | npx eip-dns-binder status` needs nothing else.
        binderSettings: pulumi.output(binderEnvironment<pulumi.Input<string>>(binderSettings)),
    };
};
