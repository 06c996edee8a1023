import { Context } from "./context";

export type ReleaseOutcome = "released" | "nothing-bound";

/**
 * Undoes an instance's binding: row, then name, then association, then lock, then claim.
 * The claim goes last, so a failure at any step leaves it for the retry to find;
 * every step checks that the instance still owns what it removes.
 */
export async function release(ctx: Context, instanceId: string): Promise<ReleaseOutcome> {
    const log = ctx.log.with({ instanceId, action: "release" });
    const claim = await ctx.store.claim(instanceId);
    if (!claim) {
        log.info("no binding to release", { outcome: "nothing-bound" });
        return "nothing-bound";
    }
    const { allocationId, publicIp, dnsName } = claim;
    const address = await ctx.ec2.address(allocationId);
    const association = address?.association?.instanceId === instanceId ? address.association : undefined;

    // The scheduler must stop handing out the server before anything else goes.
    await ctx.store.withdraw(publicIp, dnsName, instanceId);

    // The address stays locked to this instance until the end of the release, so no
    // other binding can be using its name yet.
    if (ctx.settings.dnsRecords === "per-binding") await ctx.dns.remove(dnsName, publicIp);

    if (association) await ctx.ec2.disassociate(association.associationId);
    await ctx.store.unlock(allocationId, instanceId);
    await ctx.store.dropClaim(instanceId, allocationId);
    ctx.metrics.released();
    log.info("released", { outcome: "released", allocationId, publicIp, dnsName, disassociated: association !== undefined });
    return "released";
}
