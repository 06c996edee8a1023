// `release <instance-id>`: takes back an instance's address, name and row.
import { Context } from "../binder/context";
import { releaseAll } from "../binder/release";

export async function releaseCommand(ctx: Context, instanceId: string, out: (text: string) => void): Promise<number> {
    // A release reports only whether it did anything; the claim says what it released.
    const claim = await ctx.store.claim(instanceId);
    const [result] = claim ? await releaseAll(ctx, [instanceId]) : [];
    if (result && "error" in result) throw result.error;
    if (!claim || result?.outcome === "nothing-bound") out(`nothing bound to ${instanceId}\n`);
    else out(`released ${claim.publicIp} (${claim.dnsName}) from ${instanceId}\n`);
    return 0;
}
