// eip-dns-binder: gives every Karpenter-launched worker that carries the instance
// tags an Elastic IP from a tagged pool, a DNS name and a row in the servers table,
// and takes all three back when the worker goes away. One stack per environment.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { parseSettings, PROJECT, Settings } from "./binder/config";
import { isNamedError } from "./binder/errors";
import { stateChangeRule } from "./infra/events";
import { binderFunction } from "./infra/lambda";
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
    const pool: PoolAddress[] = [
        ...allocated.map((eip, i) => ({ key: `pool-${i}`, publicIp: eip.publicIp })),
        ...(await findExternalAddresses(settings, stack)),
    ];

    // In per-address mode every pool address gets its A record now, before any worker boots.
    addressRecords(settings, zone.zoneId, pool);

    // The binder Lambda, serialized from binder/, with a least-privilege role.
    const binder = binderFunction({
        settings: {
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
        },
        policy: {
            tableArns: pulumi.all([servers.arn, claims.arn]),
            hostedZoneId: zone.zoneId,
            addressTags: settings.addressTags,
            instanceTags: settings.instanceTags,
            dnsRecords: settings.dnsRecords,
            dnsName: settings.dnsName,
            suffix: settings.suffix,
        },
    });

    // EC2 state changes (running, shutting-down, terminated) drive the binder.
    stateChangeRule(binder);

    return {
        serversTable: servers.name,
        claimsTable: claims.name,
        functionName: binder.name,
        zoneId: zone.zoneId,
        pool: pulumi
            .all(pool.map(address => pulumi.all([address.publicIp, addressName(settings, address.publicIp)])))
            .apply(entries => Object.fromEntries(entries)),
    };
};
