import { Context } from "./context";

export type ReleaseOutcome = "released" | "nothing-bound";
export type WithdrawOutcome = "withdrawn" | "nothing-bound";

/**
 * Undoes an instance's binding; the caller has seen in EC2 that the instance is
 * going away or is no longer a target. Row, then name, association, and row and lock
 * together, then claim. The name and the association are touched only while the instance holds
 * the address's lock: the lock names the one binding they can belong to, and a
 * claim can outlive its lock (a failure between the two writes, a collision).
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

    // The scheduler must stop handing out the server before anything else goes.
    await ctx.store.withdraw(publicIp, dnsName, instanceId);

    let disassociated = false;
    if ((await ctx.store.lockOwner(allocationId)) === instanceId) {
        if (ctx.settings.dnsRecords === "per-binding") await ctx.dns.remove(dnsName, publicIp);
        const association = (await ctx.ec2.address(allocationId))?.association;
        if (association?.instanceId === instanceId) {
            await ctx.ec2.disassociate(association.associationId);
            disassociated = true;
        }
        // The row once more, with the lock: a bind of this instance that was still on its way
        // (a late event) cannot have published after this, since a row write needs the lock.
        await ctx.store.unbind(publicIp, dnsName, allocationId, instanceId);
    }
    await ctx.store.dropClaim(instanceId, allocationId);
    ctx.metrics.released();
    log.info("released", { outcome: "released", allocationId, publicIp, dnsName, disassociated });
    return "released";
}

/**
 * Takes a stopped instance's server off the scheduler's list; its address, name,
 * lock and claim stay, so it gets the same address back when it runs again. Only
 * the row of the run that stopped (`launchedAt`, as EC2 showed it stopped) goes: a
 * row published after the instance started again is left alone.
 */
export async function withdraw(ctx: Context, instanceId: string, launchedAt?: string): Promise<WithdrawOutcome> {
    const log = ctx.log.with({ instanceId, action: "withdraw" });
    const claim = await ctx.store.claim(instanceId);
    if (!claim) {
        log.info("no binding to withdraw", { outcome: "nothing-bound" });
        return "nothing-bound";
    }
    await ctx.store.withdraw(claim.publicIp, claim.dnsName, instanceId, launchedAt);
    log.info("row withdrawn; address and claim kept", { outcome: "withdrawn", allocationId: claim.allocationId, publicIp: claim.publicIp });
    return "withdrawn";
}
