// Draining: a worker that is about to go (a Spot interruption, a scheduled
// change, an operator's word) leaves the scheduler's list at once, but keeps its
// address, name and claim for the streams already on it, until EC2 shows it
// going away. The cause is recorded first, then the row is marked leaving (the
// scheduler's warning on the stream) and goes after it: a bind still
// on its way cannot publish once the cause is there (a row write checks it), and
// a row published before it is the one taken away. Causes accumulate: a worker
// drains while any of them holds.
import { bindAll, BindResult } from "./bind";
import { Context } from "./context";
import { Instance } from "./aws/ec2";
import { DrainCause, drainHolds, DrainMark } from "./aws/store";

export type DrainOutcome = "drained" | "already-draining" | "earlier-run";

/** What says the worker goes: its cause, when it was sent, and when it says the worker goes. */
export interface DrainNotice {
    cause: DrainCause;
    signalledAt: string;
    deadline?: string;
}

/**
 * Drains the run of `instance` that EC2 showed: records each cause beside any
 * other (a duplicate signal of a cause finds it there and changes nothing), then
 * withdraws the row of every run the signals concern. A signal sent before the
 * run EC2 shows began (a stop and start since) drains only that earlier run: its
 * row, which the stop's own withdrawal may not have taken yet, goes, and a late
 * bind of it cannot publish it again; the run EC2 shows is served. Repeating it
 * after a failure finishes the same drain.
 */
export async function drain(ctx: Context, instance: Instance, notices: DrainNotice[]): Promise<DrainOutcome> {
    const { instanceId, launchedAt } = instance;
    const log = ctx.log.with({ instanceId, action: "drain" });
    const holding = notices.filter(notice => drainHolds(notice, launchedAt));
    const recordedAt = ctx.now().toISOString();
    // Recorded even for an earlier run: a bind of that run still on its way must not publish it.
    const fresh: DrainNotice[] = [];
    for (const notice of notices) if (await ctx.store.markDrain(instanceId, { ...notice, recordedAt }, launchedAt)) fresh.push(notice);
    const claim = await ctx.store.claim(instanceId);
    const latest = notices.map(notice => notice.signalledAt).sort().pop()!;
    if (claim) {
        // The warning first: the stream shows why and until when before the row goes.
        await ctx.store.warnDrain(claim.publicIp, claim.dnsName, instanceId, latest, soonest(holding.length > 0 ? holding : notices));
        await ctx.store.withdrawSignalled(claim.publicIp, claim.dnsName, instanceId, latest);
    }
    // A worker about to go has no use for an address a release frees.
    else if (holding.length > 0) await ctx.store.stopWaiting([instanceId]);
    if (holding.length === 0) {
        log.info("the signal is of an earlier run of the instance; nothing to drain", { outcome: "earlier-run", causes: causesOf(notices), signalledAt: latest, launchedAt });
        return "earlier-run";
    }
    const added = fresh.filter(notice => holding.includes(notice));
    added.forEach(notice => ctx.metrics.drained(notice.cause));
    const outcome = added.length > 0 ? "drained" : "already-draining";
    log.info(added.length > 0 ? "draining: row withdrawn; address, name and claim kept until it goes" : "already draining for this cause; row withdrawn", {
        outcome, causes: causesOf(holding), added: causesOf(added), deadline: holding.find(notice => notice.deadline)?.deadline, publicIp: claim?.publicIp,
    });
    return outcome;
}

const causesOf = (signals: { cause: DrainCause }[]) => signals.map(signal => signal.cause);

/** The notice a scheduler must act on first: the earliest deadline, else the first signalled. */
function soonest(notices: DrainNotice[]): DrainNotice {
    const order = (n: DrainNotice) => `${n.deadline ?? "~"}${n.signalledAt}`;
    return [...notices].sort((a, b) => order(a).localeCompare(order(b)))[0];
}

/** `draining`: a signal came in since the drain was read, and the drain stands. */
export type UndrainOutcome = "undrained" | "not-draining" | "draining";

/**
 * Ends a drain an operator started (or signals that proved false): ends every
 * cause it reads, on the condition that none changed and none came since, then
 * binds the instance again, which publishes its row if it still runs and holds
 * its address. A newer signal keeps the drain (the bind then finds it draining).
 * The fence of a stopped run is not a drain, and stays.
 */
export async function undrain(ctx: Context, instanceId: string): Promise<{ outcome: UndrainOutcome; mark?: DrainMark; bind?: BindResult }> {
    const log = ctx.log.with({ instanceId, action: "undrain" });
    const mark = await ctx.store.drainOf(instanceId);
    if (!mark || mark.signals.length === 0) {
        log.info("not draining", { outcome: "not-draining" });
        return { outcome: "not-draining" };
    }
    const ended = await ctx.store.endDrain(mark, mark.signals, true);
    log.info(ended ? "drain ended; publishing the server again" : "a drain signal came in since it was read; the drain stands", {
        outcome: ended ? "undrained" : "draining", causes: causesOf(mark.signals),
    });
    if (!ended) return { outcome: "draining", mark };
    const [bind] = await bindAll(ctx, [instanceId]);
    return { outcome: "undrained", mark, bind };
}
