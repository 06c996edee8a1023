// One pool as a Pulumi component: its tables, addresses, records, queues, functions,
// rules and alarms, each a child of the component and named after the pool.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createEventHandler, createHookHandler, createReconcileHandler } from "../binder";
import { binderEnvironment, ConfigError, DRAIN_ON_ENV, EVENT_QUEUE_URL_ENV, KeyLabel, NODE_ROLE_ARNS_ENV, parseSettings, rawValue, RECONCILE_CONCURRENCY_ENV, Settings } from "../binder/config";
import { isNamedError } from "../binder/errors";
import { nodeRole } from "../binder/identity";
import { renderName } from "../binder/naming";
import { alarms } from "./alarms";
import { drainSignalRules, onlyRulesSend, reconcileSchedule, stateChangeRule } from "./events";
import { failureQueues } from "./failures";
import { previewWarnings } from "./guardrails";
import { binderInvokePolicy, checkNodeRoles, checkNodeRoleTrust, HOOK_TIMEOUT, hookEndpoint, invokePolicy } from "./hooks";
import { binderFunction } from "./lambda";
import { Owner } from "./owner";
import { addressRecords, allocateAddresses, findExternalAddresses, PoolAddress } from "./pool";
import { eventQueue, feedFromQueue } from "./queue";
import { tables } from "./tables";
import { schedulerPolicy } from "../scheduler/policy";

/** The component's type token. */
export const EIP_DNS_BINDER_TYPE = "eip-dns-binder:index:EipDnsBinder";

/** Settings without a default. */
type Required = "instanceTags" | "addressTags" | "hostedZone";

/**
 * A pool's settings: the stack's config keys, with the same rules and defaults
 * (binder/config.ts). They are plain values, not Inputs: they decide how many
 * resources the pool has and what its functions may do, and the preview checks them.
 */
export type EipDnsBinderArgs = Pick<Settings, Required> & Partial<Omit<Settings, Required>> & {
    /** The pool's name in its addresses' tags and in the binder's metrics; by default `<stack>/<component name>`. */
    poolId?: string;
};

/** Options only this component takes. */
export interface EipDnsBinderOptions extends pulumi.ComponentResourceOptions {
    /** How a bad setting is named in the error; by default `EipDnsBinder <name>: <key>`. */
    settingName?: KeyLabel;
}

/** Returns the key when it is of the stack's Region: SQS, DynamoDB, CloudWatch Logs and SNS use keys of their own Region only. */
function keyOfRegion(kmsKeyArn: string, region: string, key: string): string {
    const keyRegion = kmsKeyArn.split(":")[3];
    if (keyRegion !== region) {
        throw new pulumi.RunError(`${key} '${kmsKeyArn}' is a key of ${keyRegion}, not of ${region}, where the stack deploys: the tables, queues, log groups and topic can use only a key of their own Region`);
    }
    return kmsKeyArn;
}

/** Checks the arguments as `pulumi config` is checked; a bad one fails the preview naming it. */
function validated(args: EipDnsBinderArgs, key: KeyLabel): Settings {
    const values: Record<string, unknown> = { ...args };
    try {
        return parseSettings(name => rawValue(values[name]), key);
    } catch (err) {
        throw isNamedError(err, "ConfigError") ? new pulumi.RunError((err as ConfigError).message) : err;
    }
}

/**
 * Gives every worker that carries `instanceTags` an Elastic IP from the pool of
 * addresses tagged `addressTags`, a DNS name and a row in the servers table, and
 * takes all three back when the worker goes away.
 */
export class EipDnsBinder extends pulumi.ComponentResource {
    /** The scheduler's table: one row per bound server. */
    readonly serversTable: pulumi.Output<string>;
    /** The servers table's stream, for a scheduler that reacts as servers come and go. */
    readonly serversStream: pulumi.Output<string>;
    /** The binder's claims, locks, drain marks and waitlist. */
    readonly claimsTable: pulumi.Output<string>;
    /** The binder function, fed by the event queue. */
    readonly functionName: pulumi.Output<string>;
    /** The reconciler function, run on a schedule. */
    readonly reconcilerName: pulumi.Output<string>;
    /** The public hosted zone the names are in. */
    readonly zoneId: pulumi.Output<string>;
    readonly eventQueue: pulumi.Output<string>;
    readonly failedEventsQueue: pulumi.Output<string>;
    readonly undeliveredEventsQueue: pulumi.Output<string>;
    /** The alarms' topic, with alarmEmail. */
    readonly alarmTopic: pulumi.Output<string | undefined>;
    /** The node hooks' URL, with nodeRoleArns. */
    readonly hookUrl: pulumi.Output<string | undefined>;
    /** Every pool address and its DNS name (`{instance-id}` left in when names are per binding). */
    readonly pool: pulumi.Output<Record<string, string>>;
    /** The functions' run-time settings, which the operator CLI reads. */
    readonly binderSettings: pulumi.Output<Record<string, string>>;
    /** The IAM policy (JSON) a scheduler's role needs for the scheduler client on this pool's servers table and stream. */
    readonly schedulerPolicy: pulumi.Output<string>;

    constructor(name: string, args: EipDnsBinderArgs, opts: EipDnsBinderOptions = {}) {
        const { settingName, ...options } = opts;
        // Bad arguments fail before anything is declared, naming the argument.
        const key = settingName ?? (setting => `EipDnsBinder ${name}: ${setting}`);
        const settings = validated(args, key);
        super(EIP_DNS_BINDER_TYPE, name, {}, options);
        const poolId = args.poolId ?? `${pulumi.getStack()}/${name}`;
        const owner = new Owner(name, this);
        // The customer managed key, once it is known to be of the stack's Region; unset, AWS's own encryption everywhere.
        const configuredKey = settings.kmsKeyArn;
        const kmsKeyArn = configuredKey === undefined ? undefined
            : aws.getRegionOutput({}, { parent: this }).region.apply(region => keyOfRegion(configuredKey, region, key("kmsKeyArn")));

        // The servers table is what the scheduler reads; the claims table is the binder's lock.
        const { servers, claims } = tables(owner, settings.deletionProtection, kmsKeyArn);

        // The public zone is looked up by name, so a pool needs no zone id.
        const zone = aws.route53.getZoneOutput({ name: settings.hostedZone, privateZone: false }, { parent: this });

        // The pool: addresses this pool allocates, plus tagged ones made elsewhere (BYOIP).
        // In per-address mode each gets its A record now, before any worker boots.
        const allocated: PoolAddress[] = allocateAddresses(owner, settings, poolId).map((eip, i) => ({ key: `pool-${i}`, publicIp: eip.publicIp }));
        addressRecords(owner, settings, zone.zoneId, allocated);
        const external = findExternalAddresses(owner, settings, poolId).apply(found => {
            // A pool past the Elastic IP quota, or interfaces left unscoped, show in the preview.
            for (const warning of previewWarnings(settings, found.length, key)) pulumi.log.warn(warning, this);
            addressRecords(owner, settings, zone.zoneId, found);
            return found;
        });

        // What the functions are told and allowed: this pool's tables, zone and addresses.
        const runtime = {
            stack: poolId,
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
            kmsKeyArn,
        };

        // Events that fail every delivery, or cannot be delivered, are kept in queues.
        const queues = failureQueues(owner, kmsKeyArn);

        // EC2 state changes wait in a queue, so a burst is handled at the pace EC2 allows.
        const binderTimeout = 120;
        const events = eventQueue(owner, queues.handling, binderTimeout, kmsKeyArn);

        // The binder Lambda handles EC2 state changes, serialized from binder/.
        const binder = binderFunction(owner, "binder", {
            description: "Binds pool Elastic IPs, DNS names and scheduler rows to EC2 instances as they start and stop.",
            factory: createEventHandler,
            timeout: binderTimeout,
            // As many as the mapping may run at once, kept for it whatever else the account runs.
            reservedConcurrency: settings.binderConcurrency,
            settings: runtime,
            // It hands failed messages back to its queue to come again soon, and acts only on the drain signals it has rules for.
            environment: { [EVENT_QUEUE_URL_ENV]: events.url, [DRAIN_ON_ENV]: JSON.stringify(settings.drainOn) },
            policy: { ...scope, role: "binder", eventQueueArn: events.arn },
            kmsKeyArn,
        });
        feedFromQueue(owner, binder, events, settings.binderConcurrency);
        // Only the mapping invokes the binder: a batch handed to it directly would be made up.
        invokePolicy(owner, "binder-invokers", binder, binderInvokePolicy);

        // EC2 state changes (running, stopping, stopped, shutting-down, terminated) go to the queue.
        const stateRule = stateChangeRule(owner, events, queues.delivery);

        // The early drain signals drainOn chooses (Spot interruptions, rebalances, scheduled changes) go to the same queue.
        const drainRules = drainSignalRules(owner, events, queues.delivery, settings.drainOn);

        // Only those rules may send to the event queue and to its dead-letter queue.
        onlyRulesSend(owner, events, queues.delivery, [stateRule, ...drainRules]);

        // The reconciler heals what lost or failed events left behind, on a schedule.
        const reconciler = binderFunction(owner, "reconciler", {
            description: "Reconciles eip-dns-binder's pool, claims and rows with EC2.",
            factory: createReconcileHandler,
            timeout: 300,
            settings: runtime,
            // It binds as many at once as the binder's invocations run.
            environment: { [RECONCILE_CONCURRENCY_ENV]: String(settings.binderConcurrency) },
            policy: { ...scope, role: "reconciler" },
            kmsKeyArn,
        });
        reconcileSchedule(owner, reconciler, settings.reconcileSchedule);

        // With nodeRoleArns, the node hooks: a worker binds itself at boot and drains itself on its way out.
        let hookUrl: aws.lambda.FunctionUrl | undefined;
        const nodeRoleArns = settings.nodeRoleArns;
        if (nodeRoleArns) {
            // The hooks serve workers of the deploying account only, and only instances EC2 made sessions for:
            // a role of another account, or one whose trust policy (read at deploy time) admits anyone but EC2, fails the preview.
            const accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
            const trustPolicies = nodeRoleArns.map(arn => aws.iam.getRoleOutput({ name: nodeRole(arn)?.name ?? arn }, { parent: this }).assumeRolePolicy);
            const roles = pulumi.all([accountId, ...trustPolicies]).apply(([account, ...trusts]) => {
                checkNodeRoles(nodeRoleArns, account, key("nodeRoleArns"));
                nodeRoleArns.forEach((arn, i) => checkNodeRoleTrust(arn, trusts[i], key("nodeRoleArns")));
                return JSON.stringify(nodeRoleArns);
            });
            // The hook function acts only on the instance that calls, as the binder would on its events.
            const hook = binderFunction(owner, "hook", {
                description: "Binds or drains the worker that calls, for eip-dns-binder's node hooks.",
                factory: createHookHandler,
                timeout: HOOK_TIMEOUT,
                // A ceiling on what callers can make it run (one DescribeInstances each), so they cannot use up the account's concurrency.
                reservedConcurrency: settings.hookConcurrency,
                settings: runtime,
                environment: { [NODE_ROLE_ARNS_ENV]: roles },
                policy: { ...scope, role: "hook" },
                kmsKeyArn,
            });
            hookUrl = hookEndpoint(owner, hook, nodeRoleArns);
        }

        // Alarms: pool running dry or near the quota, failing binds, a stalled event queue, events in a failure queue.
        const { topic } = alarms(owner, {
            stack: poolId, minFreeAddresses: settings.minFreeAddresses, addressQuota: settings.addressQuota, alarmEmail: settings.alarmEmail, kmsKeyArn, queues, events,
        });

        this.serversTable = servers.name;
        this.serversStream = servers.streamArn;
        this.claimsTable = claims.name;
        this.functionName = binder.name;
        this.reconcilerName = reconciler.name;
        this.zoneId = zone.zoneId;
        this.eventQueue = events.url;
        this.failedEventsQueue = queues.handling.url;
        this.undeliveredEventsQueue = queues.delivery.url;
        this.alarmTopic = pulumi.output(topic?.arn);
        this.hookUrl = pulumi.output(hookUrl?.functionUrl);
        this.pool = pulumi.all([pulumi.all(allocated.map(address => address.publicIp)), external]).apply(([ips, found]) =>
            Object.fromEntries([...ips, ...found.map(address => address.publicIp as string)]
                .map(ip => [ip, renderName(settings.dnsName, { ip, suffix: settings.suffix })])));
        // The environment the functions get, so `pulumi stack output --json | npx eip-dns-binder status` needs nothing else.
        this.binderSettings = pulumi.output(binderEnvironment<pulumi.Input<string>>(runtime));
        this.schedulerPolicy = pulumi.all([servers.arn, servers.streamArn]).apply(([table, stream]) => JSON.stringify(schedulerPolicy(table, stream)));
        this.registerOutputs(this.outputs());
    }

    /** The component's outputs by the names the stack has always exported them under. */
    outputs(): Record<string, pulumi.Output<unknown>> {
        return {
            serversTable: this.serversTable,
            serversStream: this.serversStream,
            claimsTable: this.claimsTable,
            functionName: this.functionName,
            reconcilerName: this.reconcilerName,
            zoneId: this.zoneId,
            eventQueue: this.eventQueue,
            failedEventsQueue: this.failedEventsQueue,
            undeliveredEventsQueue: this.undeliveredEventsQueue,
            alarmTopic: this.alarmTopic,
            hookUrl: this.hookUrl,
            pool: this.pool,
            binderSettings: this.binderSettings,
            schedulerPolicy: this.schedulerPolicy,
        };
    }
}
