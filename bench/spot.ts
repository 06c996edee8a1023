// EC2 reclaiming Spot capacity from a bound fleet: every worker gets an
// interruption warning, and two minutes later EC2 interrupts it (shutting-down,
// then terminated). What is measured is how soon each warned worker's row leaves
// the servers table, that none comes back, and that the addresses are released.
import { SPOT_WARNING_MS } from "../binder/events";
import { awsSignal, stateChange } from "../tests/support/world";
import { audit } from "./audit";
import { bindFleet, measure, newLambda, ScenarioRun } from "./measure";
import { Figures, figures, percentile } from "./metrics";
import { Arrival } from "./queue";
import { RowWatch } from "./rows";

export async function runSpotReclaim(s: ScenarioRun): Promise<Figures> {
    const { world, scenario, run } = s;
    const timing = run.disruption;
    const rows = new RowWatch(world.settings.serversTable, world.clock);
    rows.attach(world.gateway);
    await bindFleet(s);
    const fleet = [...world.instanceIds];
    const spread = scenario.warningSpreadMs ?? 0;

    // Warnings evenly over the spread; each worker is interrupted two minutes after its own warning.
    const warnedAt = new Map<string, number>();
    const arrivals: Arrival[] = fleet.flatMap((id, i) => {
        const warning = timing.quietMs + (i * spread) / fleet.length;
        const interrupted = warning + SPOT_WARNING_MS;
        return [
            { at: warning, send: () => {
                warnedAt.set(id, world.clock.now());
                // EC2 marks the Spot request as it warns; the binder confirms the warning with it.
                return awsSignal(world.ec2, "spot-interruption", [id], new Date());
            } },
            { at: interrupted, send: () => {
                world.ec2.setState(id, "shutting-down");
                return stateChange(id, "shutting-down");
            } },
            { at: interrupted + timing.shutdownMs, send: () => {
                world.ec2.setState(id, "terminated");
                return stateChange(id, "terminated");
            } },
        ];
    });

    const lambda = newLambda(s);
    const measured = await measure(world, () => lambda.run([], arrivals));

    const withdrawn: number[] = [];
    let notWithdrawn = 0;
    let violations = 0;
    for (const id of fleet) {
        const warned = warnedAt.get(id)!;
        // The interruption's release removes the row too: only a removal before it is the drain's.
        const removed = rows.removedAt(id, warned);
        const drainRemoved = removed !== undefined && removed < warned + SPOT_WARNING_MS ? removed : undefined;
        if (drainRemoved === undefined) notWithdrawn++;
        else withdrawn.push((drainRemoved - warned) / 1000);
        if (drainRemoved === undefined || rows.publishedAt(id, warned) !== undefined) violations++;
    }
    withdrawn.sort((a, b) => a - b);
    const released = new Set(measured.logs.filter(l => l.action === "release" && l.outcome === "released" && l.disassociated === true).map(l => String(l.instanceId)));
    const addresses = world.ec2.addresses();

    const base = figures({
        world, ...measured, coldStarts: lambda.coldStarts, audit: await audit(world, []), faults: scenario.faults,
        eventTargets: [], workers: fleet.length,
    });
    return {
        ...base,
        drain: {
            warned: fleet.length,
            warningSpreadSeconds: spread / 1000,
            withdrawn: { p50: percentile(withdrawn, 50), p99: percentile(withdrawn, 99), max: withdrawn[withdrawn.length - 1] ?? 0 },
            notWithdrawn,
            violations,
            drained: new Set(measured.logs.filter(l => l.outcome === "drained").map(l => String(l.instanceId))).size,
            released: fleet.filter(id => released.has(id)).length,
            addressesFree: addresses.filter(a => !a.association).length,
            pool: addresses.length,
        },
    };
}
