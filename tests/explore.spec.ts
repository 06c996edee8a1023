// The interleaving explorer, bounded: seeded runs of concurrent binder
// invocations, reconciler runs, workers, the scheduler and an operator over an
// EC2 whose reads lag, with faults at AWS calls; every invariant must hold and
// the state must be exactly right after at most two reconciler runs.
import { expect } from "chai";
import fc from "fast-check";
import { explorationProperty } from "./support/explorer/property";
import { Explorer } from "./support/explorer/run";

/** Runs in `npm test`; `npm run explore` runs many more. EXPLORE_SEED replays another seed. */
const RUNS = 150;
const SEED = Number(process.env.EXPLORE_SEED ?? 20261202);

describe("interleaving explorer", function () {
    this.timeout(600_000);
    let explorer: Explorer;

    before(async () => { explorer = await Explorer.start(); });
    after(async () => { await explorer?.close(); });

    it(`keeps every invariant over ${RUNS} seeded runs, converging within two reconciler runs`, async () => {
        let actors = 0;
        await fc.assert(explorationProperty(explorer, (_plan, result) => { actors = Math.max(actors, result.actors); }), { seed: SEED, numRuns: RUNS });
        expect(actors, "the runs had fewer concurrent actors than asked").to.be.at.least(6);
    });
});
