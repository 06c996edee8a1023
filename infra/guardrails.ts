// What `pulumi preview` warns about without failing: settings that are valid but
// leave a risk the operator should know of.
import { configKey, KeyLabel, Settings } from "../binder/config";
import type { Pool } from "./pools";

/** The pool size at which the address-quota alarm fires: 90% of the quota, at least 1. */
export function quotaAlarmThreshold(quota: number): number {
    return Math.max(1, Math.floor(quota * 0.9));
}

/** AWS's default Elastic IP quota per Region, assumed while addressQuota is not set. */
export const AWS_DEFAULT_ADDRESS_QUOTA = 5;

/** Warnings for a pool with `external` tagged addresses it did not allocate; `key` names a setting as its user wrote it. */
export function previewWarnings(settings: Settings, external: number, key: KeyLabel = configKey): string[] {
    const warnings: string[] = [];
    const pool = settings.poolSize + external;
    if (settings.addressQuota === undefined && pool > AWS_DEFAULT_ADDRESS_QUOTA) {
        warnings.push(`${key("addressQuota")} is not set, and the pool would hold ${pool} addresses (poolSize ${settings.poolSize} plus ${external} tagged elsewhere), `
            + `more than AWS's default Elastic IP quota of ${AWS_DEFAULT_ADDRESS_QUOTA}. If the account's quota was raised, set addressQuota to it `
            + "(Service Quotas, Amazon EC2, EC2-VPC Elastic IPs); that also turns on the address-quota alarm.");
    } else if (settings.addressQuota !== undefined && pool > settings.addressQuota) {
        warnings.push(`${key("addressQuota")}: the pool would hold ${pool} addresses (poolSize ${settings.poolSize} plus ${external} tagged elsewhere), `
            + `more than the quota of ${settings.addressQuota}: allocation fails past the account's Elastic IP quota. `
            + "Raise the quota in Service Quotas (Amazon EC2, EC2-VPC Elastic IPs) and set addressQuota to it, or lower poolSize.");
    }
    if (settings.vpcIds === undefined) {
        warnings.push(`${key("vpcIds")} is not set: the functions may put a pool address on a network interface in any VPC of the account. `
            + "Set it to the cluster's VPC ids.");
    }
    return warnings;
}

/**
 * A warning when a stack's pools together allocate more addresses than the account's
 * Elastic IP quota, which every pool in the Region shares: each pool's own warning
 * counts only its addresses.
 */
export function sharedQuotaWarnings(pools: Pool[]): string[] {
    if (pools.length < 2) return [];
    const total = pools.reduce((sum, pool) => sum + pool.settings.poolSize, 0);
    const set = pools.filter(pool => pool.settings.addressQuota !== undefined);
    const lowest = set.sort((a, b) => a.settings.addressQuota! - b.settings.addressQuota!)[0];
    const quota = lowest?.settings.addressQuota ?? AWS_DEFAULT_ADDRESS_QUOTA;
    if (total <= quota) return [];
    const sizes = pools.map(pool => `${pool.name} ${pool.settings.poolSize}`).join(", ");
    const limit = lowest ? `${lowest.key("addressQuota")}, ${quota}` : `AWS's default Elastic IP quota of ${quota}`;
    return [`the pools together allocate ${total} addresses (poolSize: ${sizes}), more than ${limit}: the account's quota in the Region is shared by all `
        + "of them, and allocation fails past it. Raise the quota in Service Quotas (Amazon EC2, EC2-VPC Elastic IPs), or lower poolSize."];
}
