import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Settings } from "../binder/config";
import { renderName } from "../binder/naming";
import { OWNER_TAG, poolOwner, STACK_TAG } from "../binder/schema";

/** A pool address as the stack knows it: a resource-name key and its public IP. */
export interface PoolAddress {
    key: string;
    publicIp: pulumi.Input<string>;
}

/** Allocates `poolSize` Elastic IPs carrying the pool tags. */
export function allocateAddresses(settings: Settings, stack: string): aws.ec2.Eip[] {
    const protect = settings.protectAddresses;
    return Array.from({ length: settings.poolSize }, (_, i) =>
        // Each pool address is allocated up front so partners can whitelist it before
        // any worker exists; protected stacks keep it through `pulumi destroy`. The owner
        // tag keeps another stack's binder off it (a tag change updates in place).
        new aws.ec2.Eip(`pool-${i}`, {
            domain: "vpc",
            tags: { ...settings.addressTags, Name: `eip-dns-binder-${stack}-${i}`, [STACK_TAG]: stack, [OWNER_TAG]: poolOwner(stack, settings.addressTags) },
        }, { protect, retainOnDelete: protect }),
    );
}

/** Addresses carrying the pool tags that this stack did not allocate (BYOIP, made by hand). */
export async function findExternalAddresses(settings: Settings, stack: string): Promise<PoolAddress[]> {
    const [tagged, own] = await Promise.all([
        aws.ec2.getEips({ tags: settings.addressTags }),
        aws.ec2.getEips({ tags: { ...settings.addressTags, [STACK_TAG]: stack } }),
    ]);
    const ownIds = new Set(own.allocationIds);
    return tagged.allocationIds
        .map((allocationId, i) => ({ key: allocationId, publicIp: tagged.publicIps[i] }))
        .filter(address => !ownIds.has(address.key));
}

/** The DNS name of a pool address, with `{instance-id}` left in when names are per binding. */
export function addressName(settings: Settings, publicIp: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.output(publicIp).apply(ip => renderName(settings.dnsName, { ip, suffix: settings.suffix }));
}

/** In per-address mode, one A record per pool address, so binding never calls Route53. */
export function addressRecords(settings: Settings, zoneId: pulumi.Input<string>, addresses: PoolAddress[]): aws.route53.Record[] {
    if (settings.dnsRecords !== "per-address") return [];
    return addresses.map(address =>
        // The record exists before any worker boots, so a bound server's name resolves at once.
        new aws.route53.Record(`name-${address.key}`, {
            zoneId,
            name: addressName(settings, address.publicIp),
            type: "A",
            ttl: settings.dnsTtl,
            records: [address.publicIp],
        }),
    );
}
