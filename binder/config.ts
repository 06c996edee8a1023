// Stack settings: every config key, its default and its rules, in one place.
// The stack validates `pulumi config` with it at preview; the Lambda reads the
// subset it needs back from its environment with the same rules.
import { namedError } from "./errors";
import { DRAIN_REASONS, DrainReason } from "./events";
import { nodeRole, NodeRole, ROLE_ARN } from "./identity";
import { PLACEHOLDERS, hostNameProblem, isWithin, normalizeDomain, placeholdersIn, renderName, usesInstance } from "./naming";

export const PROJECT = "eip-dns-binder";

export type Tags = Record<string, string>;
export type DnsRecordsMode = "per-address" | "per-binding";
export const DNS_RECORDS_MODES: readonly DnsRecordsMode[] = ["per-address", "per-binding"];

/** Validated stack configuration. */
export interface Settings {
    instanceTags: Tags;
    addressTags: Tags;
    poolSize: number;
    hostedZone: string;
    suffix: string;
    dnsName: string;
    dnsTtl: number;
    dnsRecords: DnsRecordsMode;
    protectAddresses: boolean;
    deletionProtection: boolean;
    reconcileSchedule: string;
    minFreeAddresses: number;
    binderConcurrency: number;
    /** The hook function's reserved concurrency: its most invocations at once, whatever the callers do. */
    hookConcurrency: number;
    alarmEmail?: string;
    /** The cluster's VPCs: the only ones whose network interfaces the functions may put a pool address on. */
    vpcIds?: string[];
    /** The account's Elastic IP quota in the stack's Region, which the pool must stay under; unset, no alarm watches it. */
    addressQuota?: number;
    /**
     * The signals that drain a worker before it goes away, each an EventBridge rule to the
     * event queue; [] for none. Stopping and stopped are not among them: the state rule
     * always sends those, since a stopped server cannot serve.
     */
    drainOn: DrainReason[];
    /**
     * The node IAM roles whose instances may call the node hooks (bind at boot, drain on
     * exit); unset, the stack makes no hook endpoint.
     */
    nodeRoleArns?: string[];
    /**
     * A customer managed KMS key (its key ARN) for the tables, the queues, the log groups and the
     * alarms' topic; unset, each keeps AWS's own encryption.
     */
    kmsKeyArn?: string;
}

/** Every setting's key, for refusing keys that are none. */
const KEYS: Record<keyof Settings, true> = {
    instanceTags: true, addressTags: true, poolSize: true, hostedZone: true, suffix: true, dnsName: true, dnsTtl: true,
    dnsRecords: true, protectAddresses: true, deletionProtection: true, reconcileSchedule: true, minFreeAddresses: true,
    binderConcurrency: true, hookConcurrency: true, alarmEmail: true, vpcIds: true, addressQuota: true, drainOn: true, nodeRoleArns: true,
    kmsKeyArn: true,
};
export const SETTING_KEYS = Object.keys(KEYS) as (keyof Settings)[];

export const DEFAULTS = {
    poolSize: 0,
    dnsName: "{ip-dashed}.{suffix}",
    dnsTtl: 60,
    dnsRecords: "per-address" as DnsRecordsMode,
    protectAddresses: false,
    deletionProtection: false,
    reconcileSchedule: "rate(5 minutes)",
    minFreeAddresses: 1,
    binderConcurrency: 10,
    hookConcurrency: 10,
};

/**
 * drainOn when it is not set: Spot interruption warnings and scheduled changes. Rebalance
 * recommendations are opt-in, since many are never followed by an interruption. (A list,
 * so not in DEFAULTS, which Pulumi.yaml declares key by key.)
 */
export const DEFAULT_DRAIN_ON: readonly DrainReason[] = ["spot-interruption", "scheduled-change"];

// Lambda's SQS event source mapping takes a maximum concurrency of 2 to 1000; a reserved concurrency of 0 would stop the hooks.
export const LIMITS = { poolSize: 1000, dnsTtlMin: 1, dnsTtlMax: 86400, concurrencyMin: 2, concurrencyMax: 1000, hookConcurrencyMin: 1, addressQuota: 100000 };

const SCHEDULE = /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
/** EC2's VPC ids: `vpc-` and 8 or 17 hexadecimal digits. */
const VPC_ID = /^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/;
/**
 * A KMS key by its key ARN, of a single-Region key (a UUID) or a multi-Region one (`mrk-`).
 * Not a key id, which DynamoDB's kmsKeyArn refuses, nor an alias: the functions' roles are
 * granted the key by its ARN, and KMS authorizes a use on the key, never on an alias.
 */
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const KMS_KEY_EXAMPLE = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/** How a node role's ARN reads in a message (ROLE_ARN says what one may be). */
const NODE_ROLE_EXAMPLE = "arn:aws:iam::123456789012:role/KarpenterNodeRole-media";

/** Bad configuration: every problem found, each naming its key. */
export type ConfigError = Error & { problems: string[] };

export function configError(problems: string[]): ConfigError {
    return namedError("ConfigError", `Invalid configuration:\n${problems.map(p => `  - ${p}`).join("\n")}`, { problems });
}

/** Reads a raw value by key: `pulumi config` values and environment variables are both strings. */
export type RawLookup = (key: string) => string | undefined;

/** A value from a map (a pool of `pools`, a component's arguments) as config would give it: a string, JSON for the rest. */
export const rawValue = (value: unknown): string | undefined =>
    (value === undefined || value === null ? undefined : typeof value === "string" ? value : JSON.stringify(value));

/** How a problem names a setting, the way its user wrote it. */
export type KeyLabel = (key: string) => string;

/** A top-level `pulumi config` key: `eip-dns-binder:<key>`. */
export const configKey: KeyLabel = key => `${PROJECT}:${key}`;

/** Collects problems while values are read, so one run reports all of them. */
class Reader {
    readonly problems: string[] = [];

    constructor(private readonly lookup: RawLookup, private readonly label: KeyLabel) {}

    fail(key: string, problem: string): void {
        this.problems.push(`${this.label(key)} ${problem}`);
    }

    raw(key: string): string | undefined {
        const value = this.lookup(key);
        return value === undefined || value.trim() === "" ? undefined : value;
    }

    string(key: string, fallback?: string): string {
        const value = this.raw(key) ?? fallback;
        if (value === undefined) this.fail(key, "is required");
        return value ?? "";
    }

    integer(key: string, fallback: number, min: number, max: number): number {
        const raw = this.raw(key);
        if (raw === undefined) return fallback;
        const value = Number(raw);
        if (!Number.isInteger(value) || value < min || value > max) {
            this.fail(key, `must be a whole number from ${min} to ${max}, not '${raw}'`);
            return fallback;
        }
        return value;
    }

    /** An optional whole number; undefined when the key is not set. */
    optionalInteger(key: string, min: number, max: number): number | undefined {
        return this.raw(key) === undefined ? undefined : this.integer(key, min, min, max);
    }

    boolean(key: string, fallback: boolean): boolean {
        const raw = this.raw(key);
        if (raw === undefined) return fallback;
        if (raw === "true" || raw === "false") return raw === "true";
        this.fail(key, `must be true or false, not '${raw}'`);
        return fallback;
    }

    oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
        const raw = this.raw(key);
        if (raw === undefined) return fallback;
        if ((allowed as readonly string[]).includes(raw)) return raw as T;
        this.fail(key, `must be one of ${allowed.join(", ")}, not '${raw}'`);
        return fallback;
    }

    /** An optional list of ids (or ARNs: `noun`), each matching `pattern`; undefined when the key is not set. */
    ids(key: string, pattern: RegExp, example: string, noun = "id"): string[] | undefined {
        const raw = this.raw(key);
        if (raw === undefined) return undefined;
        let value: unknown;
        try {
            value = JSON.parse(raw);
        } catch {
            value = raw;
        }
        if (!Array.isArray(value) || value.length === 0) {
            this.fail(key, `must be a non-empty list of ${noun}s such as ["${example}"], not '${raw}'`);
            return undefined;
        }
        const bad = value.filter(id => typeof id !== "string" || !pattern.test(id));
        if (bad.length > 0) {
            this.fail(key, `has ${bad.map(id => `'${String(id)}'`).join(", ")}, not an ${noun} such as '${example}'`);
            return undefined;
        }
        return [...new Set(value as string[])];
    }

    /** A list of values from `allowed`, duplicates collapsed, in the order of `allowed`; `fallback` when the key is not set. */
    listOf<T extends string>(key: string, allowed: readonly T[], fallback: readonly T[]): T[] {
        const raw = this.raw(key);
        if (raw === undefined) return [...fallback];
        let value: unknown;
        try {
            value = JSON.parse(raw);
        } catch {
            value = raw;
        }
        const expected = `a list of ${allowed.join(", ")} (or [] for none)`;
        if (!Array.isArray(value)) {
            this.fail(key, `must be ${expected}, such as ["${allowed[0]}"], not '${raw}'`);
            return [...fallback];
        }
        const bad = value.filter(item => !(allowed as readonly unknown[]).includes(item));
        if (bad.length > 0) {
            this.fail(key, `has ${bad.map(item => `'${String(item)}'`).join(", ")}: it must be ${expected}`);
            return [...fallback];
        }
        return allowed.filter(item => value.includes(item));
    }

    tags(key: string, why: string): Tags {
        const raw = this.raw(key);
        let value: unknown;
        try {
            value = raw === undefined ? undefined : JSON.parse(raw);
        } catch {
            value = raw;
        }
        if (typeof value !== "object" || value === null || Array.isArray(value) || Object.keys(value).length === 0) {
            this.fail(key, `must be a non-empty map of tag names to values: ${why}`);
            return {};
        }
        const tags: Tags = {};
        for (const [name, tagValue] of Object.entries(value)) {
            if (name.trim() === "" || name.length > 128 || name.toLowerCase().startsWith("aws:")) {
                this.fail(key, `has tag name '${name}': it must be 1-128 characters and not start with 'aws:'`);
            } else if (!["string", "number", "boolean"].includes(typeof tagValue) || String(tagValue).length > 256) {
                this.fail(key, `has a value for tag '${name}' that is not a string of at most 256 characters`);
            } else {
                tags[name] = String(tagValue);
            }
        }
        return tags;
    }
}

/** Checks a dnsName template against the zone and the DNS mode, reporting every problem. */
function checkTemplate(reader: Reader, key: string, template: string, suffix: string, zone: string, mode: DnsRecordsMode): void {
    if (/[{}]/.test(template.replace(/\{[^{}]*\}/g, ""))) {
        reader.fail(key, `has an unmatched '{' or '}' in '${template}'`);
        return;
    }
    const known = new Set<string>(PLACEHOLDERS);
    const unknown = placeholdersIn(template).filter(name => !known.has(name));
    if (unknown.length > 0) {
        const list = PLACEHOLDERS.map(p => `{${p}}`).join(", ");
        reader.fail(key, `uses unknown placeholder ${unknown.map(u => `{${u}}`).join(", ")}; known placeholders are ${list}`);
        return;
    }
    const names = placeholdersIn(template);
    if (!names.some(name => name === "ip" || name === "ip-dashed" || name === "instance-id")) {
        reader.fail(key, `must contain {ip}, {ip-dashed} or {instance-id} so that every server gets a name of its own`);
        return;
    }
    if (mode === "per-address" && usesInstance(template)) {
        reader.fail(key, `uses {instance-id}, which per-address records cannot know at deploy time: set dnsRecords to per-binding or drop the placeholder`);
        return;
    }
    const sample = renderName(template, { ip: "255.255.255.255", suffix, instanceId: "i-0123456789abcdef0" });
    const problem = hostNameProblem(sample);
    if (problem !== undefined) {
        reader.fail(key, `'${template}' cannot yield a valid DNS name: for example '${sample}', ${problem}`);
    } else if (!isWithin(sample, zone) || normalizeDomain(sample) === normalizeDomain(zone)) {
        reader.fail(key, `'${template}' yields names such as '${sample}' that are not inside the hosted zone '${zone}'`);
    }
}

/**
 * Reads and validates one pool's settings (the stack's `pulumi config`, a pool of its
 * `pools` map, or a component's arguments); throws ConfigError naming every bad key.
 */
export function parseSettings(lookup: RawLookup, label: KeyLabel = configKey): Settings {
    const r = new Reader(lookup, label);
    const instanceTags = r.tags("instanceTags", "an empty map would match every instance in the account");
    const addressTags = r.tags("addressTags", "they mark the addresses that form the pool");
    const poolSize = r.integer("poolSize", DEFAULTS.poolSize, 0, LIMITS.poolSize);
    const hostedZone = normalizeDomain(r.string("hostedZone"));
    const zoneProblem = hostedZone === "" ? undefined : hostNameProblem(hostedZone);
    if (zoneProblem !== undefined) r.fail("hostedZone", `'${hostedZone}' is not a valid domain name: ${zoneProblem}`);
    const zoneOk = hostedZone !== "" && zoneProblem === undefined;
    const suffix = normalizeDomain(r.raw("suffix") ?? hostedZone);
    const suffixOk = zoneOk && isWithin(suffix, hostedZone);
    if (zoneOk && !suffixOk) r.fail("suffix", `'${suffix}' must be the hosted zone '${hostedZone}' or a name inside it`);
    const dnsRecords = r.oneOf("dnsRecords", DNS_RECORDS_MODES, DEFAULTS.dnsRecords);
    const dnsName = r.raw("dnsName") ?? DEFAULTS.dnsName;
    // The template is judged against the zone, so only once the zone and suffix are sound.
    if (suffixOk) checkTemplate(r, "dnsName", dnsName, suffix, hostedZone, dnsRecords);
    const settings: Settings = {
        instanceTags,
        addressTags,
        poolSize,
        hostedZone,
        suffix,
        dnsName,
        dnsTtl: r.integer("dnsTtl", DEFAULTS.dnsTtl, LIMITS.dnsTtlMin, LIMITS.dnsTtlMax),
        dnsRecords,
        protectAddresses: r.boolean("protectAddresses", DEFAULTS.protectAddresses),
        deletionProtection: r.boolean("deletionProtection", DEFAULTS.deletionProtection),
        reconcileSchedule: r.raw("reconcileSchedule")?.trim() ?? DEFAULTS.reconcileSchedule,
        minFreeAddresses: r.integer("minFreeAddresses", DEFAULTS.minFreeAddresses, 0, LIMITS.poolSize),
        binderConcurrency: r.integer("binderConcurrency", DEFAULTS.binderConcurrency, LIMITS.concurrencyMin, LIMITS.concurrencyMax),
        hookConcurrency: r.integer("hookConcurrency", DEFAULTS.hookConcurrency, LIMITS.hookConcurrencyMin, LIMITS.concurrencyMax),
        alarmEmail: r.raw("alarmEmail")?.trim(),
        vpcIds: r.ids("vpcIds", VPC_ID, "vpc-0123456789abcdef0"),
        addressQuota: r.optionalInteger("addressQuota", 1, LIMITS.addressQuota),
        drainOn: r.listOf("drainOn", DRAIN_REASONS, DEFAULT_DRAIN_ON),
        nodeRoleArns: r.ids("nodeRoleArns", ROLE_ARN, NODE_ROLE_EXAMPLE, "IAM role ARN"),
        kmsKeyArn: r.raw("kmsKeyArn")?.trim(),
    };
    if (settings.kmsKeyArn !== undefined && !KMS_KEY_ARN.test(settings.kmsKeyArn)) {
        r.fail("kmsKeyArn", `must be a KMS key ARN such as '${KMS_KEY_EXAMPLE}' (not a key id or an alias), not '${settings.kmsKeyArn}'`);
    }
    if (!SCHEDULE.test(settings.reconcileSchedule)) {
        r.fail("reconcileSchedule", `must be an EventBridge schedule such as 'rate(5 minutes)' or 'cron(0/5 * * * ? *)', not '${settings.reconcileSchedule}'`);
    }
    if (settings.alarmEmail !== undefined && !EMAIL.test(settings.alarmEmail)) {
        r.fail("alarmEmail", `must be an email address, not '${settings.alarmEmail}'`);
    }
    if (r.problems.length > 0) throw configError(r.problems);
    return settings;
}

/** What the Lambda needs at run time; the stack passes it as environment variables. */
export interface BinderSettings {
    /** The stack's name, the dimension of every metric. */
    stack: string;
    instanceTags: Tags;
    addressTags: Tags;
    hostedZone: string;
    hostedZoneId: string;
    suffix: string;
    dnsName: string;
    dnsTtl: number;
    dnsRecords: DnsRecordsMode;
    serversTable: string;
    claimsTable: string;
}

/** The environment variable that carries each run-time setting. */
export const ENV = {
    stack: "BINDER_STACK",
    instanceTags: "BINDER_INSTANCE_TAGS",
    addressTags: "BINDER_ADDRESS_TAGS",
    hostedZone: "BINDER_HOSTED_ZONE",
    hostedZoneId: "BINDER_HOSTED_ZONE_ID",
    suffix: "BINDER_DNS_SUFFIX",
    dnsName: "BINDER_DNS_NAME",
    dnsTtl: "BINDER_DNS_TTL",
    dnsRecords: "BINDER_DNS_RECORDS",
    serversTable: "BINDER_SERVERS_TABLE",
    claimsTable: "BINDER_CLAIMS_TABLE",
} as const satisfies Record<keyof BinderSettings, string>;

/** How a problem names an environment variable: as the Lambda sees it, unless the caller read it from elsewhere. */
const environmentVariable: KeyLabel = variable => `environment variable ${variable}`;

/**
 * Reads the Lambda's settings from its environment; throws ConfigError naming every
 * bad variable, by `label` (the CLI names where in the stack output it read each).
 */
export function binderSettingsFromEnv(env: Record<string, string | undefined>, label: KeyLabel = environmentVariable): BinderSettings {
    const name = (key: string) => ENV[key as keyof BinderSettings] ?? key;
    const r = new Reader(key => env[name(key)], key => label(name(key)));
    const settings: BinderSettings = {
        stack: r.string("stack"),
        instanceTags: r.tags("instanceTags", "an empty map would match every instance in the account"),
        addressTags: r.tags("addressTags", "they mark the addresses that form the pool"),
        hostedZone: normalizeDomain(r.string("hostedZone")),
        hostedZoneId: r.string("hostedZoneId"),
        suffix: normalizeDomain(r.string("suffix")),
        dnsName: r.string("dnsName"),
        dnsTtl: r.integer("dnsTtl", DEFAULTS.dnsTtl, LIMITS.dnsTtlMin, LIMITS.dnsTtlMax),
        dnsRecords: r.oneOf("dnsRecords", DNS_RECORDS_MODES, DEFAULTS.dnsRecords),
        serversTable: r.string("serversTable"),
        claimsTable: r.string("claimsTable"),
    };
    if (settings.hostedZone !== "") {
        checkTemplate(r, "dnsName", settings.dnsName, settings.suffix, settings.hostedZone, settings.dnsRecords);
    }
    if (r.problems.length > 0) throw configError(r.problems);
    return settings;
}

/** The binder function's own event queue; the reconciler and the CLI have none. */
export const EVENT_QUEUE_URL_ENV = "BINDER_EVENT_QUEUE_URL";

/** Reads the event queue's URL from the binder's environment; throws ConfigError when it is missing. */
export function eventQueueUrlFromEnv(env: Record<string, string | undefined>): string {
    const url = env[EVENT_QUEUE_URL_ENV]?.trim();
    if (!url) throw configError([`environment variable ${EVENT_QUEUE_URL_ENV} is required`]);
    return url;
}

/** How many binds the reconciler runs at once; the stack passes binderConcurrency. */
export const RECONCILE_CONCURRENCY_ENV = "BINDER_RECONCILE_CONCURRENCY";

/** Reads the reconciler's concurrency (binderConcurrency's rules and default); throws ConfigError when it is out of range. */
export function reconcileConcurrencyFromEnv(env: Record<string, string | undefined>): number {
    const r = new Reader(key => env[key], key => `environment variable ${key}`);
    const concurrency = r.integer(RECONCILE_CONCURRENCY_ENV, DEFAULTS.binderConcurrency, LIMITS.concurrencyMin, LIMITS.concurrencyMax);
    if (r.problems.length > 0) throw configError(r.problems);
    return concurrency;
}

/** The drain signals the binder acts on, as the stack passes `drainOn`: a JSON list. */
export const DRAIN_ON_ENV = "BINDER_DRAIN_ON";

/**
 * Reads the drain signals the binder acts on: a signal the stack makes no rule for
 * came from someone else, and is dropped. Unset (outside the stack): every signal.
 */
export function drainOnFromEnv(env: Record<string, string | undefined>): DrainReason[] {
    const r = new Reader(key => env[key], key => `environment variable ${key}`);
    const drainOn = r.listOf(DRAIN_ON_ENV, DRAIN_REASONS, DRAIN_REASONS);
    if (r.problems.length > 0) throw configError(r.problems);
    return drainOn;
}

/** The hook function's node roles, as the stack passes them: a JSON list of role ARNs. */
export const NODE_ROLE_ARNS_ENV = "BINDER_NODE_ROLE_ARNS";

/** Reads the node roles from the hook function's environment; throws ConfigError naming the variable. */
export function nodeRolesFromEnv(env: Record<string, string | undefined>): NodeRole[] {
    const r = new Reader(key => env[key], key => `environment variable ${key}`);
    const arns = r.ids(NODE_ROLE_ARNS_ENV, ROLE_ARN, NODE_ROLE_EXAMPLE, "IAM role ARN");
    if (!arns) r.fail(NODE_ROLE_ARNS_ENV, "is required");
    if (r.problems.length > 0) throw configError(r.problems);
    return (arns ?? []).flatMap(arn => nodeRole(arn) ?? []);
}

/** Names each run-time value after its environment variable, for the stack's Lambda. */
export function binderEnvironment<V>(values: Record<keyof BinderSettings, V>): Record<string, V> {
    return Object.fromEntries(Object.entries(values).map(([key, value]) => [ENV[key as keyof BinderSettings], value]));
}
