import * as pulumi from "@pulumi/pulumi";

/**
 * The pool a resource belongs to: every resource of a pool is a child of its
 * component, and named after it, so that pools of one stack never collide.
 */
export class Owner {
    constructor(private readonly pool: string, readonly parent: pulumi.Resource) {}

    /** A child's resource name: the pool's name, a dash, then what the child is. */
    name(child: string): string {
        return `${this.pool}-${child}`;
    }
}
