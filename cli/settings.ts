// The binder's settings for the CLI: the stack output's `binderSettings` (the
// environment the Lambda gets), with the tables and zone overridable by flags, and
// the stack's Region, read from an ARN among its outputs.
import { readFile } from "node:fs/promises";
import { BinderSettings, binderSettingsFromEnv, ConfigError, ENV } from "../binder/config";
import { isNamedError } from "../binder/errors";
import { SettingsSource } from "./args";
import { usageError } from "./errors";

const NO_SETTINGS = "no stack settings: pipe `pulumi stack output --json` into this command, or pass --settings <file>";

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

const stringOrUndefined = (value: unknown) => (typeof value === "string" ? value : undefined);

async function readSource(source: SettingsSource, stdin: () => Promise<string | undefined>): Promise<{ origin: string; text: string }> {
    if (source.file !== undefined) {
        try {
            return { origin: source.file, text: await readFile(source.file, "utf8") };
        } catch (err) {
            throw usageError(`cannot read --settings ${source.file}: ${err instanceof Error ? err.message : String(err)}`);
        }
    }
    const text = await stdin();
    if (text === undefined || text.trim() === "") throw usageError(NO_SETTINGS);
    return { origin: "standard input", text };
}

/** One pool's outputs, and the path to them in the stack output (`pools.edge.`, or none for the top level). */
interface PoolOutput {
    output: Json;
    path: string;
}

/**
 * One pool's outputs: `pool`'s under `pools`, else the top-level pool's (the stack's
 * own outputs), else the only pool's.
 */
function poolOutput(origin: string, output: Json, pool: string | undefined): PoolOutput {
    const pools = isObject(output.pools) ? output.pools : {};
    const names = Object.keys(pools);
    const named = (name: string): PoolOutput => ({ output: pools[name] as Json, path: `pools.${name}.` });
    if (pool !== undefined) {
        if (isObject(pools[pool])) return named(pool);
        throw usageError(`${origin} has no pool '${pool}': ${names.length > 0 ? `its pools are ${names.join(", ")}` : "it has no pools output"}`);
    }
    if (isObject(output.binderSettings) || names.length === 0) return { output, path: "" };
    if (names.length === 1 && isObject(pools[names[0]])) return named(names[0]);
    throw usageError(`${origin} has several pools (${names.join(", ")}) and no top-level one: choose one with --pool <name>`);
}

function parseOutput(origin: string, text: string, pool: string | undefined): PoolOutput {
    let output: unknown;
    try {
        output = JSON.parse(text);
    } catch {
        throw usageError(`${origin} is not JSON: expected the output of \`pulumi stack output --json\``);
    }
    const chosen = isObject(output) ? poolOutput(origin, output, pool) : undefined;
    if (!chosen || !isObject(chosen.output.binderSettings)) {
        throw usageError(`${origin} has no binderSettings object: expected the output of \`pulumi stack output --json\` from a stack that exports it`);
    }
    return chosen;
}

/** The output whose ARN names the stack's Region: the servers table's stream, which every pool exports. */
const REGION_OUTPUT = "serversStream";
const ARN_REGION = /^arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(-[a-z]+)+-\d+):/;

/** The stack's settings as the CLI needs them. */
export interface StackSettings {
    binder: BinderSettings;
    /** The stack's Region and the output it was read from; undefined when no output names one. */
    region?: { name: string; output: string };
}

/** Reads the stack output (from `source.file`, else standard input), picks the pool, and applies the flags. */
export async function loadSettings(source: SettingsSource, stdin: () => Promise<string | undefined>): Promise<StackSettings> {
    const { origin, text } = await readSource(source, stdin);
    const { output, path } = parseOutput(origin, text, source.pool);
    // Every value's name as the operator sees it: a flag, or a key of the stack output.
    const labels = new Map<string, string>(Object.values(ENV).map(name => [name, `${path}binderSettings.${name}`]));
    // The Lambda's environment is all strings; tolerate an output that kept a value's JSON type.
    const env: Record<string, string | undefined> = Object.fromEntries(Object.entries(output.binderSettings as Json)
        .map(([name, value]) => [name, typeof value === "string" ? value : JSON.stringify(value)]));
    const overrides: [string, string | undefined, string, string][] = [
        [ENV.serversTable, source.serversTable, "--servers-table", "serversTable"],
        [ENV.claimsTable, source.claimsTable, "--claims-table", "claimsTable"],
        [ENV.hostedZoneId, source.zoneId, "--zone-id", "zoneId"],
    ];
    for (const [name, flag, flagLabel, key] of overrides) {
        const fromOutput = stringOrUndefined(output[key]);
        if (flag !== undefined) {
            env[name] = flag;
            labels.set(name, flagLabel);
        } else if (fromOutput !== undefined) {
            env[name] = fromOutput;
            labels.set(name, `${path}${key}`);
        }
    }
    let binder: BinderSettings;
    try {
        binder = binderSettingsFromEnv(env, name => labels.get(name) ?? name);
    } catch (err) {
        if (!isNamedError(err, "ConfigError")) throw err;
        throw usageError(`bad settings in ${origin}: ${(err as ConfigError).problems.join("; ")}`);
    }
    const arn = stringOrUndefined(output[REGION_OUTPUT]);
    const region = arn?.match(ARN_REGION)?.[1];
    return { binder, region: region ? { name: region, output: `${path}${REGION_OUTPUT}` } : undefined };
}
