import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Settings } from "../binder/config";
import { renderName } from "../binder/naming";
import { OWNER_TAG, poolOwner, STACK_TAG } from "../binder/schema";
import { Owner } from "./owner";

/** A pool address as the stack knows it: a resource-name key and its public IP. */
export interface PoolAddress {
    key: string;
    publicIp: pulumi.Input<string>;
}

/** Allocates `poolSize` Elastic IPs carrying the pool tags; `poolId` names the pool in its tags. */
export function allocateAddresses(owner: Owner, settings: Settings, poolId: string): aws.ec2.Eip[] {
    const protect = settings.protectAddresses;
    return Array.from({ length: settings.poolSize }, (_, i) =>
        // Each pool address is allocated up front so partners can whitelist it before
        // any worker exists; protected stacks keep it through `pulumi destroy`. The owner
        // tag keeps another pool's binder off it (a tag change updates in place).
        new aws.ec2.Eip(owner.name(`pool-${i}`), {
            domain: "vpc",
            tags: {
                ...settings.addressTags,
                Name: `eip-dns-binder-${poolId.replace("/", "-")}-${i}`,
                [STACK_TAG]: poolId,
                [OWNER_TAG]: poolOwner(poolId, settings.addressTags),
            },
        }, { parent: owner.parent, protect, retainOnDelete: protect }),
    );
}

/** Addresses carrying the pool tags that this pool did not allocate (BYOIP, made by hand). */
export function findExternalAddresses(owner: Owner, settings: Settings, poolId: string): pulumi.Output<PoolAddress[]> {
    const tagged = aws.ec2.getEipsOutput({ tags: settings.addressTags }, { parent: owner.parent });
    const own = aws.ec2.getEipsOutput({ tags: { ...settings.addressTags, [STACK_TAG]: poolId } }, { parent: owner.parent });
    return pulumi.all([tagged, own]).apply(([all, allocated]) => {
        const ownIds = new Set(allocated.allocationIds);
        return all.allocationIds
            .map((allocationId, i) => ({ key: allocationId, publicIp: all.publicIps[i] }))
            .filter(address => !ownIds.has(address.key));
    });
}

/** The DNS name of a pool address, with `{instance-id}` left in when names are per binding. */
export function addressName(settings: Settings, publicIp: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.output(publicIp).apply(ip => renderName(settings.dnsName, { ip, suffix: settings.suffix }));
}

/** In per-address mode, one A record per pool address, so binding never calls Route53. */
export function addressRecords(owner: Owner, settings: Settings, zoneId: pulumi.Input<string>, addresses: PoolAddress[]): aws.route53.Record[] {
    if (settings.dnsRecords !== "per-address") return [];
    return addresses.map(address =>
        // The record exists before any worker boots, so a bound server's name resolves at once.
        new aws.route53.Record(owner.name(`name-${address.key}`), {
            zoneId,
            name: addressName(settings, address.publicIp),
            type: "A",
            ttl: settings.dnsTtl,
            records: [address.publicIp],
        }, { parent: owner.parent }),
    );
}
