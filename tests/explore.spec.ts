// The interleaving explorer, bounded: seeded runs of concurrent binder
// invocations, reconciler runs, workers, the scheduler and an operator over an
// EC2 whose reads lag, with faults at AWS calls; every invariant must hold and
// the state must be exactly right after at most two reconciler runs.
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import fc from "fast-check";
import { BinderSettings } from "../binder/config";
import { Store } from "../binder/store";
import { explorationProperty } from "./support/explorer/property";
import { Explorer } from "./support/explorer/run";

/** The bug the issue names: an address's lock taken whoever holds it. */
function unconditionalLock(client: DynamoDBClient, settings: BinderSettings): Store {
    return new (class extends Store {
        override async lock(allocationId: string, instanceId: string, now: string): Promise<boolean> {
            await client.send(new PutItemCommand({
                TableName: settings.claimsTable,
                Item: { Id: { S: allocationId }, InstanceId: { S: instanceId }, LockedAt: { S: now } },
            }));
            return true;
        }
    })(client, settings.serversTable, settings.claimsTable);
}

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

    it("finds a reintroduced bug (an unconditional address lock) within the same bounded exploration", async () => {
        const verdict = await fc.check(explorationProperty(explorer, () => {}, { store: unconditionalLock }), { seed: SEED, numRuns: RUNS, endOnFailure: true });
        expect(verdict.failed, "the explorer missed an unconditional lock").to.equal(true);
        const message = String(verdict.errorInstance);
        expect(message).to.match(/invariant violation/);
        expect(message).to.include("trace:");
    });
});
