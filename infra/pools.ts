// Which pools a stack has: the top-level keys make its default pool, as they always
// have, and the optional `pools` map adds named ones, each with the same keys.
import { ConfigError, configError, configKey, KeyLabel, parseSettings, PROJECT, RawLookup, rawValue, Settings, SETTING_KEYS, Tags } from "../binder/config";
import { isNamedError } from "../binder/errors";

/** The top-level pool's name: its resources are named `default-…`, and alias the names they had before pools. */
export const DEFAULT_POOL = "default";

/** A named pool sets these itself; any other key it leaves out is the top-level one. */
const OWN_KEYS: readonly string[] = ["instanceTags", "addressTags", "poolSize"];

/** A pool's name starts its resources' names and is part of its tags and metrics. */
const POOL_NAME = /^[a-z][a-z0-9-]{0,23}$/;

export interface Pool {
    name: string;
    settings: Settings;
    /** How a problem names one of this pool's keys, as its user wrote it. */
    key: KeyLabel;
}

type Json = Record<string, unknown>;
const isMap = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

/** Whether one resource could carry both tag sets: they give no tag two different values. */
export function couldMatchBoth(a: Tags, b: Tags): boolean {
    return Object.keys(a).every(key => !(key in b) || a[key] === b[key]);
}

const shown = (tags: Tags) => JSON.stringify(tags);

/** Problems with pools that could share an instance or an address, each naming both pools. */
export function overlaps(pools: Pool[]): string[] {
    const problems: string[] = [];
    for (const [i, a] of pools.entries()) {
        for (const b of pools.slice(i + 1)) {
            if (couldMatchBoth(a.settings.instanceTags, b.settings.instanceTags)) {
                problems.push(`pools '${a.name}' and '${b.name}' could both bind one instance: ${a.key("instanceTags")} ${shown(a.settings.instanceTags)} and `
                    + `${b.key("instanceTags")} ${shown(b.settings.instanceTags)} give no tag two different values (give them one, such as karpenter.sh/nodepool)`);
            }
            if (couldMatchBoth(a.settings.addressTags, b.settings.addressTags)) {
                problems.push(`pools '${a.name}' and '${b.name}' could both take one address: ${a.key("addressTags")} ${shown(a.settings.addressTags)} and `
                    + `${b.key("addressTags")} ${shown(b.settings.addressTags)} give no tag two different values (give them one, such as pool)`);
            }
        }
    }
    return problems;
}

/** Reads one pool's settings, adding its problems to `problems` instead of throwing. */
function readPool(name: string, lookup: RawLookup, key: KeyLabel, problems: string[]): Pool | undefined {
    try {
        return { name, settings: parseSettings(lookup, key), key };
    } catch (err) {
        if (!isNamedError(err, "ConfigError")) throw err;
        problems.push(...(err as ConfigError).problems);
        return undefined;
    }
}

/**
 * Reads and validates every pool of the stack's config: the top-level one unless
 * `pools` is set and `instanceTags` is not, then each of `pools`. Throws one
 * ConfigError naming every bad key, and every two pools that could overlap.
 */
export function parsePools(lookup: RawLookup): Pool[] {
    const problems: string[] = [];
    const raw = lookup("pools");
    let named: Json = {};
    if (raw !== undefined && raw.trim() !== "") {
        let value: unknown;
        try {
            value = JSON.parse(raw);
        } catch {
            value = raw;
        }
        if (isMap(value)) named = value;
        else problems.push(`${configKey("pools")} must be a map of pool names to their settings, such as {"edge": {"instanceTags": {...}, "addressTags": {...}}}, not '${raw}'`);
    }
    const pools: (Pool | undefined)[] = [];
    if (Object.keys(named).length === 0 || lookup("instanceTags") !== undefined) {
        pools.push(readPool(DEFAULT_POOL, lookup, configKey, problems));
    }
    for (const [name, values] of Object.entries(named)) {
        const at = (key: string) => `${PROJECT}:pools.${name}.${key}`;
        if (name === DEFAULT_POOL || !POOL_NAME.test(name)) {
            problems.push(`${configKey("pools")} has a pool named '${name}': a name is 1-24 lower-case letters, digits and dashes, starting with a letter, and not '${DEFAULT_POOL}' (the top-level pool's)`);
            continue;
        }
        if (!isMap(values)) {
            problems.push(`${PROJECT}:pools.${name} must be a map of settings, not '${rawValue(values)}'`);
            continue;
        }
        const unknown = Object.keys(values).filter(key => !(SETTING_KEYS as string[]).includes(key));
        for (const key of unknown) problems.push(`${at(key)} is not a setting; a pool takes ${SETTING_KEYS.join(", ")}`);
        const own = (key: string) => values[key] !== undefined || OWN_KEYS.includes(key);
        pools.push(readPool(name, key => (own(key) ? rawValue(values[key]) : lookup(key)), key => (own(key) ? at(key) : configKey(key)), problems));
    }
    const read = pools.filter((pool): pool is Pool => pool !== undefined);
    problems.push(...overlaps(read));
    // A bad top-level key that named pools take over is reported once.
    if (problems.length > 0) throw configError([...new Set(problems)]);
    return read;
}
