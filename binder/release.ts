import { Context } from "./context";
import { hasTimeToStart } from "./deadline";
import { Claim } from "./aws/store";

export type ReleaseOutcome = "released" | "nothing-bound";
export type WithdrawOutcome = "withdrawn" | "nothing-bound";

/** How a release of one instance ended: its outcome, or the error that fails its events. */
export type ReleaseResult = { instanceId: string; outcome: ReleaseOutcome } | { instanceId: string; error: unknown };

/** A release under way: its server is off the list; whether it holds its address's lock. */
interface Releasing {
    claim: Claim;
    holdsLock: boolean;
}

/**
 * `disassociate: false` forsakes the bindings instead: for an address that has left
 * the pool (untagged, or given to another pool), which is no longer the binder's to
 * move. Row, name, lock and claim go as in a release; the association stays as the
 * operator left it.
 */
export interface ReleaseOptions {
    disassociate: boolean;
    /** By instance: the address its claim must still name (a forsaking), else nothing of it is released. */
    claimedAddress?: Map<string, string>;
}

/**
 * Undoes the bindings of instances the caller has seen in EC2 going away or no
 * longer targets. For each: row; then the names, all in one Route53 change; then
 * association, row and lock together, and claim. A drain item stays: released by
 * hand, a running worker must not be published again (the reconciler forgets the
 * items of instances that are gone). The name and the association
 * are touched only while the instance holds the address's lock: the lock names
 * the one binding they can belong to, and a claim can outlive its lock (a failure
 * between the two writes, a collision). The claim goes last, so a failure at any
 * step leaves it for the retry to find; every step checks that the instance still
 * owns what it removes. Never throws; near the invocation's timeout it stops
 * starting releases, and the instances it did not get to have no result.
 */
export async function releaseAll(ctx: Context, instanceIds: string[], options: ReleaseOptions = { disassociate: true }): Promise<ReleaseResult[]> {
    const results: ReleaseResult[] = [];
    const releasing: Releasing[] = [];
    for (const instanceId of instanceIds) {
        if (!hasTimeToStart(ctx.timeLeft())) break;
        try {
            const started = await beginRelease(ctx, instanceId, options.claimedAddress?.get(instanceId));
            if (started) releasing.push(started);
            else results.push({ instanceId, outcome: "nothing-bound" });
        } catch (error) {
            results.push({ instanceId, error });
        }
    }
    const naming = releasing.filter(r => r.holdsLock && ctx.settings.dnsRecords === "per-binding");
    let namesFailed: unknown;
    // Holding the lock, a release may also remove a name written before names carried their owner.
    await ctx.dns.removeAll(naming.map(({ claim }) => ({ name: claim.dnsName, ip: claim.publicIp, instanceId: claim.instanceId, ownerless: true }))).catch(error => {
        namesFailed = error;
    });
    for (const r of releasing) {
        const { instanceId } = r.claim;
        try {
            if (namesFailed !== undefined && naming.includes(r)) throw namesFailed;
            await finish(ctx, r, options);
            results.push({ instanceId, outcome: "released" });
        } catch (error) {
            results.push({ instanceId, error });
        }
    }
    return results;
}

/** Takes the server off the scheduler's list before anything else goes; undefined when nothing is bound. */
async function beginRelease(ctx: Context, instanceId: string, claimedAddress?: string): Promise<Releasing | undefined> {
    const claim = await ctx.store.claim(instanceId);
    if (!claim || (claimedAddress !== undefined && claim.allocationId !== claimedAddress)) {
        // A forsaking ends only the binding it found: a claim that moved on since is another binding.
        ctx.log.with({ instanceId, action: "release" }).info(claim ? "the claim moved on to another address; nothing released" : "no binding to release", { outcome: "nothing-bound" });
        return undefined;
    }
    await ctx.store.withdraw(claim.publicIp, claim.dnsName, instanceId);
    return { claim, holdsLock: (await ctx.store.lockOwner(claim.allocationId)) === instanceId };
}

/** With the name gone: the association, the row once more with the lock, then the claim. */
async function finish(ctx: Context, { claim, holdsLock }: Releasing, options: ReleaseOptions): Promise<void> {
    const { allocationId, publicIp, dnsName, instanceId } = claim;
    let disassociated = false;
    if (holdsLock) {
        const association = options.disassociate ? (await ctx.ec2.address(allocationId))?.association : undefined;
        if (association?.instanceId === instanceId) {
            await ctx.ec2.disassociate(association.associationId);
            disassociated = true;
        }
        // The row once more, with the lock: a bind of this instance that was still on its way
        // (a late event) cannot have published after this, since a row write needs the lock.
        await ctx.store.unbind(publicIp, dnsName, allocationId, instanceId);
    }
    await ctx.store.dropClaim(claim);
    ctx.metrics.released();
    ctx.log.with({ instanceId, action: "release" }).info("released", { outcome: "released", allocationId, publicIp, dnsName, disassociated });
}

/**
 * Takes a stopped instance's server off the scheduler's list; its address, name,
 * lock and claim stay, so it gets the same address back when it runs again. First
 * the run that stopped (`launchedAt`, as EC2 showed it stopped) is fenced, so a
 * bind of it still on its way (it read the instance running) can neither publish
 * nor claim; then its row is marked leaving (the stream shows the stop) and goes.
 * A row published after the instance started again is of a later run: neither the
 * fence, the mark nor the withdrawal touches it.
 */
export async function withdraw(ctx: Context, instanceId: string, launchedAt?: string): Promise<WithdrawOutcome> {
    const log = ctx.log.with({ instanceId, action: "withdraw" });
    if (launchedAt !== undefined) await ctx.store.fenceRun(instanceId, launchedAt, ctx.now().toISOString());
    const claim = await ctx.store.claim(instanceId);
    if (!claim) {
        log.info("no binding to withdraw; the run is fenced", { outcome: "nothing-bound", launchedAt });
        return "nothing-bound";
    }
    await ctx.store.warnStop(claim.publicIp, claim.dnsName, instanceId, launchedAt);
    await ctx.store.withdraw(claim.publicIp, claim.dnsName, instanceId, launchedAt);
    log.info("run fenced and row withdrawn; address and claim kept", { outcome: "withdrawn", allocationId: claim.allocationId, publicIp: claim.publicIp, launchedAt });
    return "withdrawn";
}

/**
 * Every run of an instance before the one EC2 shows is over: fences them (a bind of one still
 * on its way cannot publish it) and withdraws a row of one of them. A read never runs ahead of
 * EC2, so a lagging one only fences less.
 */
export async function withdrawEarlierRuns(ctx: Context, instance: { instanceId: string; launchedAt?: string }): Promise<void> {
    const { instanceId, launchedAt } = instance;
    if (launchedAt === undefined) return;
    await ctx.store.fenceRun(instanceId, new Date(Date.parse(launchedAt) - 1).toISOString(), ctx.now().toISOString());
    const claim = await ctx.store.claim(instanceId);
    if (claim) await ctx.store.withdrawEarlier(claim.publicIp, claim.dnsName, instanceId, launchedAt);
}
