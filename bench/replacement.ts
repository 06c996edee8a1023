// Karpenter replacing a whole fleet (drift after an AMI update, say) with a pool
// exactly the fleet's size: each new worker starts while its old one still holds
// an address, so its first bind finds the pool exhausted. What is measured is how
// long it then waits once its old worker goes: with hand-over, the release of the
// old worker's address binds it; without (baseline.ts), its own event's redelivery does.
import { stateChange, INSTANCE_TAGS } from "../tests/support/world";
import { audit } from "./audit";
import type { DisruptionTiming } from "./definitions";
import { bindFleet, measure, newLambda, ScenarioRun } from "./measure";
import { Figures, figures, percentile } from "./metrics";
import { Arrival } from "./queue";
import { RowWatch } from "./rows";

/** One replacement: the new worker, the old one, and when each event is due (ms after the phase begins). */
interface Replacement {
    fresh: string;
    old: string;
    launch: number;
    shuttingDown: number;
    terminated: number;
}

/**
 * Karpenter's waves: at most budgetShare of the fleet (rounded up, as Karpenter
 * rounds a percentage budget) is being replaced at a time. A wave's new workers
 * reach running within launchSpreadMs; each old one is terminated drainGapMs after
 * its new one runs; the next wave starts nextWaveMs after the wave's last
 * termination, when its old nodes no longer count against the budget.
 */
export function waves(fleet: string[], fresh: string[], t: DisruptionTiming): { size: number; replacements: Replacement[] } {
    const size = Math.max(1, Math.ceil(fleet.length * t.budgetShare));
    const replacements: Replacement[] = [];
    let start = t.quietMs;
    for (let first = 0; first < fleet.length; first += size) {
        const wave = fleet.slice(first, first + size).map((old, j) => {
            const launch = start + (j * t.launchSpreadMs) / size;
            const shuttingDown = launch + t.drainGapMs;
            return { fresh: fresh[first + j], old, launch, shuttingDown, terminated: shuttingDown + t.shutdownMs };
        });
        replacements.push(...wave);
        start = Math.max(...wave.map(r => r.terminated)) + t.nextWaveMs;
    }
    return { size, replacements };
}

export async function runReplacement(s: ScenarioRun): Promise<Figures> {
    const { world, run } = s;
    const rows = new RowWatch(world.settings.serversTable, world.clock);
    rows.attach(world.gateway);
    await bindFleet(s);
    const fleet = [...world.instanceIds];
    // The new workers exist, pending, until their launch: each carries the instance tags, as Karpenter's nodes do.
    const fresh = fleet.map(() => world.ec2.addInstance({ tags: INSTANCE_TAGS, state: "pending" }).instanceId);
    const { size, replacements } = waves(fleet, fresh, run.disruption);

    // Each event changes EC2 first, then is sent; the bench clock notes when.
    const sent = new Map<string, number>();
    const send = (instanceId: string, state: "running" | "shutting-down" | "terminated") => () => {
        world.ec2.setState(instanceId, state);
        sent.set(`${instanceId} ${state}`, world.clock.now());
        return stateChange(instanceId, state);
    };
    const timeline = replacements.flatMap(r => [
        { at: r.launch, send: send(r.fresh, "running"), launches: r.fresh },
        { at: r.shuttingDown, send: send(r.old, "shutting-down") },
        { at: r.terminated, send: send(r.old, "terminated") },
    ]).sort((a, b) => a.at - b.at);
    const arrivals: Arrival[] = timeline.map(({ at, send }) => ({ at, send }));
    // An arrival's event number is its place in time order: which one is each new worker's running event.
    const runningEvent = new Map(timeline.flatMap((step, event) => (step.launches ? [[step.launches, event] as const] : [])));

    const lambda = newLambda(s);
    let phaseStart = 0;
    const measured = await measure(world, () => {
        phaseStart = world.clock.now();
        return lambda.run([], arrivals);
    });

    const boundAt = new Map(fresh.flatMap(id => {
        const at = rows.publishedAt(id);
        return at === undefined ? [] : [[id, at] as const];
    }));
    const waits = replacements.flatMap(r => (boundAt.has(r.fresh) ? [(boundAt.get(r.fresh)! - sent.get(`${r.old} shutting-down`)!) / 1000] : [])).sort((a, b) => a - b);
    const fromLaunch = replacements.flatMap(r => (boundAt.has(r.fresh) ? [(boundAt.get(r.fresh)! - sent.get(`${r.fresh} running`)!) / 1000] : [])).sort((a, b) => a - b);
    const boundSince = [...boundAt.values()].map(at => (at - phaseStart) / 1000).sort((a, b) => a - b);

    // Which invocation bound each worker: its first "bound" line's request, and whether that request handed it over.
    const handedOver = new Set(measured.logs.filter(l => l.outcome === "handed-over").flatMap(l => ((l.instanceIds as string[]) ?? []).map(id => `${String(l.requestId)} ${id}`)));
    const boundBy = { handOver: 0, firstDelivery: 0, redelivery: 0, unbound: 0 };
    for (const r of replacements) {
        const line = measured.logs.find(l => l.instanceId === r.fresh && l.action === "bind" && l.outcome === "bound");
        if (!boundAt.has(r.fresh) || !line) boundBy.unbound++;
        else if (handedOver.has(`${String(line.requestId)} ${r.fresh}`)) boundBy.handOver++;
        else {
            const event = runningEvent.get(r.fresh);
            const delivered = measured.invocations.filter(i => i.event === event && i.ok).sort((a, b) => a.end - b.end)[0];
            if (delivered?.attempt === 1) boundBy.firstDelivery++;
            else boundBy.redelivery++;
        }
    }

    const base = figures({
        world, ...measured, coldStarts: lambda.coldStarts, audit: await audit(world, fresh), faults: s.scenario.faults,
        // Bind times come from the rows, not from the events' invocations: a hand-over binds in another worker's.
        eventTargets: [], workers: replacements.length,
    });
    const stats = (sorted: number[]) => ({ p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 });
    return {
        ...base,
        boundAt: boundSince,
        timeToLastBound: boundSince[boundSince.length - 1] ?? 0,
        launchToBound: { p50: percentile(fromLaunch, 50), p99: percentile(fromLaunch, 99) },
        replacement: {
            replaced: replacements.length,
            waves: Math.ceil(replacements.length / size),
            waveSize: size,
            wait: { ...stats(waits), min: waits[0] ?? 0 },
            launchToBound: stats(fromLaunch),
            boundBy,
            bindsPerWorker: measured.logs.filter(l => l.action === "bind" && l.outcome === "bound" && fresh.includes(String(l.instanceId))).length / replacements.length,
        },
    };
}
