// The binder's settings for the CLI: the stack output's `binderSettings` (the
// environment the Lambda gets), with the tables and zone overridable by flags.
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

/**
 * One pool's outputs: `pool`'s under `pools`, else the top-level pool's (the stack's
 * own outputs), else the only pool's.
 */
function poolOutput(origin: string, output: Json, pool: string | undefined): Json {
    const pools = isObject(output.pools) ? output.pools : {};
    const names = Object.keys(pools);
    if (pool !== undefined) {
        if (isObject(pools[pool])) return pools[pool];
        throw usageError(`${origin} has no pool '${pool}': ${names.length > 0 ? `its pools are ${names.join(", ")}` : "it has no pools output"}`);
    }
    if (isObject(output.binderSettings) || names.length === 0) return output;
    if (names.length === 1 && isObject(pools[names[0]])) return pools[names[0]] as Json;
    throw usageError(`${origin} has several pools (${names.join(", ")}) and no top-level one: choose one with --pool <name>`);
}

function parseOutput(origin: string, text: string, pool: string | undefined): Json {
    let output: unknown;
    try {
        output = JSON.parse(text);
    } catch {
        throw usageError(`${origin} is not JSON: expected the output of \`pulumi stack output --json\``);
    }
    const chosen = isObject(output) ? poolOutput(origin, output, pool) : undefined;
    if (!chosen || !isObject(chosen.binderSettings)) {
        throw usageError(`${origin} has no binderSettings object: expected the output of \`pulumi stack output --json\` from a stack that exports it`);
    }
    return chosen;
}

/** Reads the stack output (from `source.file`, else standard input), picks the pool, and applies the flags. */
export async function loadSettings(source: SettingsSource, stdin: () => Promise<string | undefined>): Promise<BinderSettings> {
    const { origin, text } = await readSource(source, stdin);
    const output = parseOutput(origin, text, source.pool);
    // The Lambda's environment is all strings; tolerate an output that kept a value's JSON type.
    const env: Record<string, string | undefined> = Object.fromEntries(Object.entries(output.binderSettings as Json)
        .map(([name, value]) => [name, typeof value === "string" ? value : JSON.stringify(value)]));
    const overrides = {
        [ENV.serversTable]: source.serversTable ?? stringOrUndefined(output.serversTable),
        [ENV.claimsTable]: source.claimsTable ?? stringOrUndefined(output.claimsTable),
        [ENV.hostedZoneId]: source.zoneId ?? stringOrUndefined(output.zoneId),
    };
    for (const [name, value] of Object.entries(overrides)) if (value !== undefined) env[name] = value;
    try {
        return binderSettingsFromEnv(env);
    } catch (err) {
        if (!isNamedError(err, "ConfigError")) throw err;
        throw usageError(`bad settings in ${origin}: ${(err as ConfigError).problems.join("; ")}`);
    }
}
