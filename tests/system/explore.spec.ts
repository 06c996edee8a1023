// The interleaving explorer, bounded: seeded runs of concurrent binder
// invocations, reconciler runs, workers, the scheduler and an operator over an
// EC2 whose reads lag, with faults at AWS calls; every invariant must hold and
// the state must be exactly right after at most two reconciler runs.
import { expect } from "chai";
import fc from "fast-check";
import { offeringWhileLeaving, overwritingRows, publishingWhileDraining, reassociating, trustingSignals, unconditionalLock } from "../support/explorer/plants";
import { explorationProperty } from "../support/explorer/property";
import { Explorer, RunOptions } from "../support/explorer/run";

/** Runs in `npm test`; `npm run explore` runs many more. EXPLORE_SEED replays another seed. */
const RUNS = 150;
const SEED = Number(process.env.EXPLORE_SEED ?? 20261203);

describe("interleaving explorer", function () {
    this.timeout(600_000);
    let explorer: Explorer;

    before(async () => { explorer = await Explorer.start(); });
    after(async () => { await explorer?.close(); });

    it(`keeps every invariant over ${RUNS} seeded runs, converging within two reconciler runs`, async () => {
        let fewest = Infinity;
        await fc.assert(explorationProperty(explorer, (_plan, result) => { fewest = Math.min(fewest, result.actors); }), { seed: SEED, numRuns: RUNS });
        expect(fewest, "a run had fewer than six concurrent actors").to.be.at.least(6);
    });

    // Each plant breaks what its guard keeps; which of those invariants the first failing run shows depends on the run.
    const plants: [string, RunOptions, string[]][] = [
        ["the address lock taken unconditionally, and AllowReassociation: false dropped", { store: unconditionalLock, ec2: reassociating }, ["double-booked", "taken-from-holder"]],
        ["a row written whole on every bind", { store: overwritingRows }, ["allocated-reset", "listed-not-running", "listed-while-draining", "listed-without-address"]],
        ["a drain that leaves no mark, so a bind on its way publishes the row again", { store: publishingWhileDraining }, ["listed-while-draining", "allocated-while-draining", "row-mismatch"]],
        ["a stop's or a drain's warning that leaves the server on offer until its row goes", { store: offeringWhileLeaving }, ["placed-on-leaving"]],
        ["drain signals taken at their word, without EC2's", { ec2: trustingSignals }, ["taken-from-holder", "allocated-lost", "unbound-target", "row-mismatch", "drain-mismatch"]],
    ];
    for (const [bug, plant, invariants] of plants) {
        it(`finds a planted bug within the same bounded exploration: ${bug}`, async () => {
            const verdict = await fc.check(explorationProperty(explorer, () => {}, plant), { seed: SEED, numRuns: RUNS, endOnFailure: true });
            expect(verdict.failed, `the explorer missed: ${bug}`).to.equal(true);
            const message = String(verdict.errorInstance);
            const found = [...message.matchAll(/^ {2}([a-z-]+) \((?:after step \d+|at the end)\)/gm)].map(m => m[1]);
            expect(found.some(invariant => invariants.includes(invariant)), `found ${found.join(", ")}`).to.equal(true);
            expect(message).to.include("trace:");
        });
    }
});
