// The interleaving explorer, bounded: seeded runs of concurrent binder
// invocations, reconciler runs, workers, the scheduler and an operator over an
// EC2 whose reads lag, with faults at AWS calls; every invariant must hold and
// the state must be exactly right after at most two reconciler runs.
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { AssociateAddressCommand, EC2Client } from "@aws-sdk/client-ec2";
import { expect } from "chai";
import fc from "fast-check";
import { BinderSettings } from "../../binder/config";
import { Attachment, Ec2 } from "../../binder/aws/ec2";
import { Claim, ServerRow, Store } from "../../binder/aws/store";
import { explorationProperty } from "../support/explorer/property";
import { Explorer, RunOptions } from "../support/explorer/run";

// Planted bugs, to show that the bounded exploration finds what it must.

/** An address's lock taken whoever holds it, and whatever the claim names. */
function unconditionalLock(client: DynamoDBClient, settings: BinderSettings): Store {
    const take = (allocationId: string, instanceId: string, now: string) => client.send(new PutItemCommand({
        TableName: settings.claimsTable,
        Item: { Id: { S: allocationId }, InstanceId: { S: instanceId }, LockedAt: { S: now } },
    }));
    return new (class extends Store {
        override async lock(allocationId: string, instanceId: string, now: string): Promise<boolean> {
            await take(allocationId, instanceId, now);
            return true;
        }

        override async lockClaimed(claim: Claim, now: string): Promise<"locked"> {
            await take(claim.allocationId, claim.instanceId, now);
            return "locked";
        }
    })(client, settings.serversTable, settings.claimsTable);
}

/** AssociateAddress allowed to move an address off another instance (the original sample's way). */
function reassociating(client: EC2Client): Ec2 {
    return new (class extends Ec2 {
        override async associate(allocationId: string, target: Attachment): Promise<string> {
            const out = await client.send(new AssociateAddressCommand({
                AllocationId: allocationId, NetworkInterfaceId: target.networkInterfaceId, PrivateIpAddress: target.privateIpAddress, AllowReassociation: true,
            }));
            return out.AssociationId ?? "";
        }
    })(client);
}

/** A row written whole every time, as if new: a duplicate resets the scheduler's `allocated`. */
function overwritingRows(client: DynamoDBClient, settings: BinderSettings): Store {
    return new (class extends Store {
        override async publish(row: ServerRow, now: string): Promise<void> {
            await client.send(new PutItemCommand({
                TableName: settings.serversTable,
                Item: {
                    EIP: { S: row.publicIp }, DNS_Record: { S: row.dnsName }, AssociationId: { S: row.associationId }, InstanceId: { S: row.instanceId },
                    AllocationId: { S: row.allocationId }, LaunchedAt: { S: row.launchedAt ?? "" }, allocated: { BOOL: false }, BoundAt: { S: now },
                },
            }));
        }
    })(client, settings.serversTable, settings.claimsTable);
}

/** A row published whether or not its worker is draining: the drain's mark is not checked. */
function publishingWhileDraining(client: DynamoDBClient, settings: BinderSettings): Store {
    return new (class extends Store {
        override async markDrain(): Promise<boolean> {
            return true;
        }
    })(client, settings.serversTable, settings.claimsTable);
}

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

    const plants: [string, RunOptions, string][] = [
        ["the address lock taken unconditionally, and AllowReassociation: false dropped", { store: unconditionalLock, ec2: reassociating }, "double-booked"],
        ["a row written whole on every bind", { store: overwritingRows }, "allocated-reset"],
        ["a drain that leaves no mark, so a bind on its way publishes the row again", { store: publishingWhileDraining }, "row-mismatch"],
    ];
    for (const [bug, plant, invariant] of plants) {
        it(`finds a planted bug within the same bounded exploration: ${bug}`, async () => {
            const verdict = await fc.check(explorationProperty(explorer, () => {}, plant), { seed: SEED, numRuns: RUNS, endOnFailure: true });
            expect(verdict.failed, `the explorer missed: ${bug}`).to.equal(true);
            const message = String(verdict.errorInstance);
            expect(message).to.include(invariant);
            expect(message).to.include("trace:");
        });
    }
});
