// DNS names for bound servers: the dnsName template, its placeholders, and the
// rules a rendered name must follow. Pure functions, shared by the stack (to
// validate config at preview) and the Lambda (to name a binding).

/** The placeholders a dnsName template may use. */
export const PLACEHOLDERS = ["ip", "ip-dashed", "suffix", "instance-id"] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** What a binding knows about itself when its name is rendered. */
export interface NameValues {
    ip: string;
    suffix: string;
    instanceId?: string;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** The placeholder names a template mentions, in order, known or not. */
export function placeholdersIn(template: string): string[] {
    return [...template.matchAll(PLACEHOLDER)].map(match => match[1]);
}

/** Whether a template names the instance, so that it can only be rendered once an instance is bound. */
export function usesInstance(template: string): boolean {
    return placeholdersIn(template).includes("instance-id");
}

/**
 * Renders a template into a lower-case DNS name without a trailing dot.
 * `{instance-id}` is left as it is when no instance is given, so a stack can
 * show the shape of a per-binding name before any instance exists.
 */
export function renderName(template: string, values: NameValues): string {
    const replacements: Record<string, string | undefined> = {
        "ip": values.ip,
        "ip-dashed": values.ip.replace(/\./g, "-"),
        "suffix": normalizeDomain(values.suffix),
        "instance-id": values.instanceId,
    };
    return template
        .replace(PLACEHOLDER, (whole, name: string) => replacements[name] ?? whole)
        .toLowerCase();
}

/**
 * Whether `name` is a name the template gives to a binding of the address `ip`,
 * for any instance: what tells the binder's own records from others in the zone.
 */
export function isNameFor(template: string, values: Omit<NameValues, "instanceId">, name: string): boolean {
    const shape = renderName(template, values).replace(/[.*+?^$()|[\]\\]/g, "\\$&");
    return new RegExp(`^${shape.replace(/\{instance-id\}/g, "i-[0-9a-f]{8,17}")}$`).test(normalizeDomain(name));
}

/** Lower-cases a domain name and drops its trailing dot. */
export function normalizeDomain(name: string): string {
    return name.trim().toLowerCase().replace(/\.$/, "");
}

/** Whether `name` is `zone` itself or lies below it. */
export function isWithin(name: string, zone: string): boolean {
    const n = normalizeDomain(name);
    const z = normalizeDomain(zone);
    return n === z || n.endsWith(`.${z}`);
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why `name` is not a valid host name (RFC 1123 labels, 253 characters), or undefined if it is. */
export function hostNameProblem(name: string): string | undefined {
    const n = normalizeDomain(name);
    if (n.length === 0) return "it is empty";
    if (n.length > 253) return `it is ${n.length} characters long (at most 253)`;
    const bad = n.split(".").find(label => !LABEL.test(label));
    if (bad !== undefined) {
        return bad === ""
            ? "it has an empty label"
            : `label '${bad}' must be 1-63 letters, digits or inner hyphens`;
    }
    return undefined;
}
