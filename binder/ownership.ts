// Two stacks that share addressTags would otherwise fight over one pool: each
// binder would take the other's addresses. An address whose owner tag names
// another stack's pool is that stack's; addresses without one (BYOIP) are shared.
import { Context, hasTags } from "./context";
import { Address } from "./aws/ec2";
import { poolOwner } from "./schema";

/** The pool addresses this stack may use, logging every one owned by another stack. */
export async function ownPool(ctx: Context): Promise<Address[]> {
    const { stack, addressTags } = ctx.settings;
    const owner = poolOwner(stack, addressTags);
    const pool = await ctx.ec2.pool(addressTags);
    const foreign = pool.filter(address => address.owner !== undefined && address.owner !== owner);
    for (const { allocationId, publicIp, owner: other } of foreign) {
        ctx.log.warn(`pool address ${publicIp} is owned by '${other}', not by this stack's pool '${owner}': refused. Give each stack addressTags of its own.`,
            { action: "pool", outcome: "foreign-owner", allocationId, publicIp, owner: other });
    }
    return foreign.length === 0 ? pool : pool.filter(address => !foreign.includes(address));
}

/** Whether an address, as read by itself, is still one of this stack's pool: it carries the address tags, and no other pool's owner tag. */
export function inOwnPool(ctx: Context, address: Address): boolean {
    const { stack, addressTags } = ctx.settings;
    return hasTags(address.tags ?? {}, addressTags) && (address.owner === undefined || address.owner === poolOwner(stack, addressTags));
}
