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

function parseOutput(origin: string, text: string): Json {
    let output: unknown;
    try {
        output = JSON.parse(text);
    } catch {
        throw usageError(`${origin} is not JSON: expected the output of \`pulumi stack output --json\``);
    }
    if (!isObject(output) || !isObject(output.binderSettings)) {
        throw usageError(`${origin} has no binderSettings object: expected the output of \`pulumi stack output --json\` from a stack that exports it`);
    }
    return output;
}

/** Reads the stack output (from `source.file`, else standard input) and applies the flags. */
export async function loadSettings(source: SettingsSource, stdin: () => Promise<string | undefined>): Promise<BinderSettings> {
    const { origin, text } = await readSource(source, stdin);
    const output = parseOutput(origin, text);
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
