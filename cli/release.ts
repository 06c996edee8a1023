// `release <instance-id>`: takes back an instance's address, name and row. Meant for an
// instance that is gone; a live or allocated worker is released only with --force.
import { Context } from "../binder/context";
import { releaseAll } from "../binder/release";
import { Claim } from "../binder/aws/store";
import { usageError } from "./errors";

/** EC2 states in which an instance is on its way out: releasing it is what the binder would do. */
const GOING = ["shutting-down", "terminated"];

/** Why releasing the bound instance needs --force, or undefined when it is gone. */
async function reasonsToRefuse(ctx: Context, claim: Claim): Promise<string[]> {
    const [instances, row] = await Promise.all([ctx.ec2.instances([claim.instanceId]), ctx.store.server(claim.publicIp, claim.dnsName)]);
    const instance = instances.find(shown => shown.instanceId === claim.instanceId);
    return [
        ...(instance && !GOING.includes(instance.state) ? [`EC2 shows it ${instance.state}`] : []),
        ...(row?.instanceId === claim.instanceId && row.allocated ? ["its row is allocated to a stream"] : []),
    ];
}

/** What --force would take from the worker, in so many words. */
function whatForceDoes(ctx: Context, claim: Claim): string {
    const name = ctx.settings.dnsRecords === "per-binding" ? `, delete its name ${claim.dnsName}` : ` (its name ${claim.dnsName} stays with the address)`;
    return `take ${claim.publicIp} off it${name}, and delete its row (${claim.publicIp}, ${claim.dnsName}) from ${ctx.settings.serversTable} and its claim`;
}

export async function releaseCommand(ctx: Context, command: { instanceId: string; force: boolean }, out: (text: string) => void): Promise<number> {
    const { instanceId } = command;
    // A release reports only whether it did anything; the claim says what it released.
    const claim = await ctx.store.claim(instanceId);
    if (claim && !command.force) {
        const reasons = await reasonsToRefuse(ctx, claim);
        if (reasons.length > 0) {
            throw usageError(`not released: ${instanceId} is a live worker (${reasons.join("; ")}); nothing written. `
                + `With --force, release would ${whatForceDoes(ctx, claim)}, while the worker runs on; to stop new streams on it instead: eip-dns-binder drain ${instanceId}`);
        }
    }
    const [result] = claim ? await releaseAll(ctx, [instanceId]) : [];
    if (result && "error" in result) throw result.error;
    if (!claim || result?.outcome === "nothing-bound") out(`nothing bound to ${instanceId}\n`);
    else out(`released ${claim.publicIp} (${claim.dnsName}) from ${instanceId}\n`);
    return 0;
}
