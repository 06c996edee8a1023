// One batch of events: one read of the batch's instances, then for each the
// verdict of lifecycle.ts, carried out with the same binds, releases and
// withdrawals the reconciler uses, and the drains of workers about to go.
import { bindEach, newPoolView } from "./bind";
import { Evidence, gatherEvidence, SignalOf, toAsk, weigh } from "./confirm";
import { Context, hasTags } from "./context";
import { hasTimeToStart } from "./deadline";
import { drain, DrainNotice } from "./drain";
import { Instance } from "./aws/ec2";
import { handOver } from "./handover";
import { Announcement, decide, observedPhase } from "./lifecycle";
import { releaseAll, withdraw, withdrawEarlierRuns } from "./release";
import { drainHolds } from "./aws/store";

export interface InstanceWork {
    instanceId: string;
    announcements: Announcement[];
    /** Signals that the instance is about to go, each with its message and its deliveries. */
    drains: SignalOf[];
}

/**
 * How one instance's work ended: its outcome and which messages wait for EC2 to show
 * a state, wait for EC2 to confirm a signal, or are done; or the error that fails them all.
 */
export type Settled =
    | { instanceId: string; outcome: string; wait: string[]; confirming: string[]; done: string[] }
    | { instanceId: string; error: unknown };

/** What EC2 shows for one instance of the batch: what is to be done, or the outcome when nothing is. */
type Verdict = { instanceId: string; wait: string[]; confirming: string[]; done: string[] } & (
    | { act: "bind" | "release" | "withdraw"; instance?: Instance }
    | { act: "drain"; instance: Instance; notices: DrainNotice[] }
    | { act?: undefined; outcome: string }
);

/**
 * Settles each instance of a batch: drains first, since a worker about to go
 * must leave the list at once; then withdrawals and releases, so that an address
 * freed in the batch can go to a launch in it; then the binds, whose names go to
 * Route53 together; and what the releases freed beyond that goes to workers on
 * the waitlist. Never throws; stops starting work near the invocation's timeout,
 * and the instances it did not get to have no result.
 */
export async function settleAll(ctx: Context, work: InstanceWork[]): Promise<Settled[]> {
    if (!hasTimeToStart(ctx.timeLeft())) return [];
    let instances: Instance[];
    try {
        instances = await ctx.ec2.instances(work.map(w => w.instanceId));
    } catch (error) {
        return work.map(({ instanceId }) => ({ instanceId, error }));
    }
    const shown = (w: InstanceWork) => instances.find(i => i.instanceId === w.instanceId);
    // The signals that would drain the run EC2 shows need EC2's word: one read per kind for the batch.
    const subjects = work.flatMap(w => {
        const instance = shown(w);
        const phase = observedPhase(instance);
        return instance && w.drains.length > 0 && hasTags(instance.tags, ctx.settings.instanceTags) && phase !== "gone" && phase !== "unknown" ? [{ instance, drains: w.drains }] : [];
    });
    let evidence: Evidence = { spotStatus: new Map(), scheduledEvents: new Map() };
    const results: Settled[] = [];
    try {
        evidence = await gatherEvidence(ctx, toAsk(subjects));
    } catch (error) {
        // Without EC2's word no signal is acted on: those instances' messages come again.
        results.push(...subjects.map(({ instance }) => ({ instanceId: instance.instanceId, error })));
    }
    const judged = work.filter(w => !results.some(r => r.instanceId === w.instanceId));
    const verdicts = judged.map(w => judge(ctx, w, shown(w), evidence));
    // A stop announced while EC2 shows the instance in a run of its own (started again, or starting):
    // whatever run the stop was about, every run before the one EC2 shows is over.
    for (const w of judged) {
        const instance = shown(w);
        const verdict = verdicts.find(v => v.instanceId === w.instanceId);
        if (instance && verdict?.act !== "withdraw" && w.announcements.some(a => a.phase === "stopped") && ["pending", "running"].includes(instance.state)) {
            await withdrawEarlierRuns(ctx, instance).catch(error => ctx.log.with({ instanceId: w.instanceId }).warn("could not withdraw the rows of earlier runs; the reconciler will", { error }));
        }
    }
    results.push(...verdicts.flatMap(v => (v.act ? [] : [{ instanceId: v.instanceId, outcome: v.outcome, wait: v.wait, confirming: v.confirming, done: v.done }])));
    const settled = (acted: { instanceId: string; outcome: string } | { instanceId: string; error: unknown }) => {
        const { wait, confirming, done } = verdicts.find(v => v.instanceId === acted.instanceId)!;
        results.push("error" in acted ? acted : { ...acted, wait, confirming, done });
    };
    for (const v of verdicts) {
        if (v.act !== "drain" && v.act !== "withdraw") continue;
        if (!hasTimeToStart(ctx.timeLeft())) return results;
        const { instanceId } = v;
        const step = v.act === "drain" ? drain(ctx, v.instance, v.notices) : withdraw(ctx, instanceId, v.instance?.launchedAt);
        await step.then(outcome => settled({ instanceId, outcome }), error => settled({ instanceId, error }));
    }
    // EC2 shows these going away: their run is fenced while they are released, so that a bind of
    // it still on its way (a late event, a thawed hook) cannot publish it between the release's
    // withdrawal and its unlock; afterwards a row write needs a lock it cannot get, and the fence goes.
    const going = verdicts.flatMap(v => (v.act === "release" ? [{ instanceId: v.instanceId, launchedAt: v.instance?.launchedAt }] : []));
    const warn = (instanceId: string, what: string) => (error: unknown) => ctx.log.with({ instanceId }).warn(what, { error });
    for (const { instanceId, launchedAt } of going) {
        if (launchedAt !== undefined) await ctx.store.fenceRun(instanceId, launchedAt, ctx.now().toISOString()).catch(warn(instanceId, "could not fence the run going away; releasing it all the same"));
    }
    const released = await releaseAll(ctx, going.map(g => g.instanceId));
    // Only once a release is done (claim and lock gone, so no row can be written): a release not
    // started for want of time, or failed, keeps the fence, and so does the stop's fence it covers.
    const finished = new Set(released.flatMap(r => ("outcome" in r ? [r.instanceId] : [])));
    for (const { instanceId, launchedAt } of going) {
        if (launchedAt !== undefined && finished.has(instanceId)) {
            await ctx.store.forgetFence(instanceId, launchedAt).catch(warn(instanceId, "could not remove the release's fence; the reconciler will"));
        }
    }
    released.forEach(settled);
    (await bindEach(ctx, verdicts.flatMap(v => (v.act === "bind" ? [v.instance!] : [])), newPoolView())).forEach(settled);
    const freed = released.flatMap(r => ("outcome" in r && r.outcome === "released" ? [r.instanceId] : []));
    if (freed.length > 0 && hasTimeToStart(ctx.timeLeft())) await handOver(ctx, new Set(work.map(w => w.instanceId)), freed.length);
    return results;
}

/** One instance: what EC2 shows is to be done, and the messages that disagree with it, or that EC2 has not confirmed yet, wait. */
function judge(ctx: Context, { instanceId, announcements, drains }: InstanceWork, instance: Instance | undefined, evidence: Evidence): Verdict {
    const log = ctx.log.with({ instanceId });
    const signals = drains.map(d => d.messageId);
    if (instance && !hasTags(instance.tags, ctx.settings.instanceTags)) {
        // One read and nothing else for an instance that is not ours (a binding left on an
        // instance that lost its tags is the reconciler's).
        log.info("instance lacks the instance tags; not a target", { outcome: "not-a-target", state: instance.state });
        return { instanceId, outcome: "not-a-target", wait: [], confirming: [], done: [...announcements.map(a => a.messageId), ...signals] };
    }
    const phase = observedPhase(instance);
    const verdict = decide(phase, announcements);
    const wait = verdict.wait;
    // A signal that the instance goes: EC2 decides here too. Gone: release; stopped: its row is
    // withdrawn anyway; not shown: nothing; otherwise drain, instead of binding, once EC2 confirms it.
    const act = signals.length > 0 && phase === "gone" ? "release" : verdict.act;
    const considered = drains.length > 0 && instance && phase !== "gone" && phase !== "unknown" && act !== "withdraw";
    const { acted, confirming, dismissed } = considered ? weigh(drains, instance!, evidence) : { acted: [], confirming: [], dismissed: [] };
    const confirmingIds = confirming.map(d => d.messageId);
    const done = [...verdict.done, ...signals.filter(id => !confirmingIds.includes(id))];
    if (dismissed.length > 0) {
        log.warn("EC2 never confirmed the signal; nothing drained", {
            outcome: "unconfirmed-signal", causes: dismissed.map(d => d.notice.cause), messageIds: dismissed.map(d => d.messageId), observed: instance!.state,
            spotStatus: evidence.spotStatus.get(instanceId), scheduledEvents: evidence.scheduledEvents.get(instanceId),
        });
        ctx.metrics.failed("UnconfirmedSignal");
    }
    const notices = noticesOf(acted);
    // A signal of an earlier run still drains when there is nothing else to do: its run's row, if left, goes.
    if (notices.length > 0 && (act === undefined || notices.some(notice => drainHolds(notice, instance!.launchedAt)))) {
        return { instanceId, instance: instance!, act: "drain", notices, wait, confirming: confirmingIds, done };
    }
    const observed = instance?.state ?? "not found";
    // A bind of the run EC2 shows replaces the row of the earlier run the signal was about.
    if (notices.length > 0) log.info("the signal is of an earlier run of the instance; binding this one", { outcome: "earlier-run", causes: notices.map(n => n.cause), launchedAt: instance!.launchedAt });
    if (confirming.length > 0) log.info("EC2 does not confirm the signal yet; it will come again", { outcome: "confirming", causes: confirming.map(d => d.notice.cause), observed });
    if (act) {
        if (wait.length > 0) log.info("other events for this instance disagree with EC2; they will come again", { outcome: "waiting", observed });
        return { instanceId, instance, act, wait, confirming: confirmingIds, done };
    }
    if (wait.length > 0 || confirming.length > 0) {
        if (wait.length > 0) log.info("EC2 does not show what the event says yet; the event will come again", { outcome: "waiting", observed, announced: announcements.map(a => a.phase) });
        return { instanceId, outcome: "waiting", wait, confirming: confirmingIds, done };
    }
    if (dismissed.length > 0) return { instanceId, outcome: "unconfirmed-signal", wait, confirming: confirmingIds, done };
    log.info("EC2 never showed what the event says; nothing to do (the reconciler checks again)", { outcome: "unconfirmed", observed });
    return { instanceId, outcome: "unconfirmed", wait, confirming: confirmingIds, done };
}

/**
 * The notices a batch's signals give, one per cause (causes accumulate): of a
 * cause signalled twice, the later signal, which holds for every run the earlier does.
 */
function noticesOf(drains: { notice: DrainNotice }[]): DrainNotice[] {
    const latest = new Map<string, DrainNotice>();
    for (const { notice } of drains) {
        const seen = latest.get(notice.cause);
        if (!seen || seen.signalledAt < notice.signalledAt || (seen.signalledAt === notice.signalledAt && !seen.deadline)) latest.set(notice.cause, notice);
    }
    return [...latest.values()];
}
