// Stacks made before pools declared one pool's resources at the stack's top level,
// named without the pool's name. The default pool's resources keep those resources
// through aliases, so an upgrade replaces nothing: above all no pool address.
import * as pulumi from "@pulumi/pulumi";
import { EIP_DNS_BINDER_TYPE } from "./component";

/** The URN a resource had at the top level of this stack, under `name`. */
export function topLevelUrn(type: string, name: string): string {
    return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${type}::${name}`;
}

/**
 * Aliases each resource of the pool named `pool` to the top-level URN it had
 * before it was a child of the pool's component (`default-servers` was `servers`).
 */
export function keepTopLevelUrns(pool: string): pulumi.ResourceTransformation {
    const prefix = `${pool}-`;
    return ({ type, name, props, opts }) => {
        if (type === EIP_DNS_BINDER_TYPE || !name.startsWith(prefix)) return undefined;
        const alias = topLevelUrn(type, name.slice(prefix.length));
        return { props, opts: pulumi.mergeOptions(opts, { aliases: [alias] }) };
    };
}
