// eip-dns-binder: gives every Karpenter-launched worker that carries a pool's instance
// tags an Elastic IP from that pool's tagged addresses, a DNS name and a row in the
// servers table, and takes all three back when the worker goes away. One stack per
// environment; one EipDnsBinder component per pool.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "./binder/config";
import { isNamedError } from "./binder/errors";
import { EipDnsBinder } from "./infra/component";
import { sharedQuotaWarnings } from "./infra/guardrails";
import { checkNodeRoles } from "./infra/hooks";
import { DEFAULT_POOL, parsePools, Pool } from "./infra/pools";
import { keepTopLevelUrns } from "./infra/upgrade";

/** Reads `pulumi config` into pools; a bad value, or two pools that could overlap, fail the preview naming the keys. */
function loadPools(): Pool[] {
    const config = new pulumi.Config(PROJECT);
    try {
        return parsePools(key => config.get(key));
    } catch (err) {
        throw isNamedError(err, "ConfigError") ? new pulumi.RunError(err.message) : err;
    }
}

export = async () => {
    const pools = loadPools();
    const stack = pulumi.getStack();
    // Pools that together outgrow the account's Elastic IP quota show in the preview.
    for (const warning of sharedQuotaWarnings(pools)) pulumi.log.warn(warning);

    // The node hooks serve workers of the stack's own account only: checked before anything is
    // declared, so the preview fails at once (each component checks again, for other programs).
    if (pools.some(pool => pool.settings.nodeRoleArns)) {
        const { accountId } = await aws.getCallerIdentity();
        for (const pool of pools) if (pool.settings.nodeRoleArns) checkNodeRoles(pool.settings.nodeRoleArns, accountId, pool.key("nodeRoleArns"));
    }

    // One component per pool. The top-level pool keeps the stack's name in its tags and metrics,
    // and each of its resources the URN it had before pools, so an upgrade replaces nothing.
    const binders = pools.map(pool => pool.name === DEFAULT_POOL
        ? new EipDnsBinder(pool.name, { ...pool.settings, poolId: stack }, { settingName: pool.key, transformations: [keepTopLevelUrns(pool.name)] })
        : new EipDnsBinder(pool.name, pool.settings, { settingName: pool.key }));

    // The top-level pool's outputs under the names stacks have always had; every pool's under `pools`.
    const top = binders.find((_, i) => pools[i].name === DEFAULT_POOL);
    return {
        ...top?.outputs(),
        pools: Object.fromEntries(binders.map((binder, i) => [pools[i].name, binder.outputs()])),
    };
};
