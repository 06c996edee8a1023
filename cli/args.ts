// The command line: which command, its options, and where the stack's settings come from.
import { parseArgs } from "node:util";
import { usageError } from "./errors";

/** How long the CLI waits for an AWS endpoint to connect and to answer: a few seconds, not the SDK's minutes. */
export const TIMEOUT_SECONDS = { default: 5, min: 1, max: 300 } as const;

/** The options every command that reaches AWS takes. */
const SETTINGS_OPTIONS = `  --settings <file>        read the stack output from a file instead of standard input
  --pool <name>            the pool to act on, in a stack with several (its
                           \`pools\` output); the top-level pool by default
  --servers-table <name>   override the servers table
  --claims-table <name>    override the claims table
  --zone-id <id>           override the hosted zone id
  --timeout <seconds>      give up on an AWS endpoint that does not answer within
                           this many seconds (default ${TIMEOUT_SECONDS.default})
  --verbose                write the binder's logs to standard error
  -h, --help               show this help
`;

export const USAGE = `Usage: eip-dns-binder <command> [options]

Commands:
  status                   show the pool, draining and waiting workers, and the
                           drift the reconciler would fix
  reconcile [--dry-run]    fix that drift now (--dry-run: only report it)
  release <instance-id>    take back the address bound to an instance that is gone
                           (--force: one EC2 still shows, or whose row is allocated)
  drain <instance-id>      take a worker off the servers table; it keeps its
                           address, name and claim until it terminates
  undrain <instance-id>    end a worker's drain and publish it again
  help [<command>]         show this help, or a command's

The stack's settings come from \`pulumi stack output --json\` on standard input:
  pulumi stack output --json | npx eip-dns-binder status

Options:
${SETTINGS_OPTIONS}
AWS credentials come from the SDK's default chain (AWS_PROFILE, environment
variables, SSO, instance roles); the region from it too (AWS_REGION, the
profile), else from the Region in the stack output's serversStream ARN.
Exit codes: 0 done; 1 an AWS or reconcile failure, or a drain or undrain that
could not be done; 2 a usage or settings error, or a release refused without --force.
See eip-dns-binder <command> --help for a command's arguments and an example.
`;

/** Each command's help: what it does, its arguments and flags, an example. */
export const COMMAND_HELP = {
    status: `Usage: eip-dns-binder status [--json] [options]

Shows every pool address with its name, instance, EC2 state, whether a stream is
allocated to it and how long it has been bound; then the draining workers, the
workers waiting for an address, and the drift the reconciler would fix. Reads
only; changes nothing.

  --json                   print the inspection as JSON
${SETTINGS_OPTIONS}
Example:
  pulumi stack output --json | npx eip-dns-binder status
`,
    reconcile: `Usage: eip-dns-binder reconcile [--dry-run] [--json] [options]

Fixes the drift \`status\` shows, as the scheduled reconciler does: binds running
workers without an address, releases the bindings of instances that are gone,
publishes missing rows. Exits 1 when a fix failed.

  --dry-run                only report the drift; change nothing
  --json                   print the result as JSON
${SETTINGS_OPTIONS}
Example:
  pulumi stack output --json | npx eip-dns-binder reconcile --dry-run
`,
    release: `Usage: eip-dns-binder release <instance-id> [--force] [options]

Takes back the address bound to an instance: its row on the servers table, its
name (per-binding names), the association and the claim. Meant for an instance
that is gone (shutting-down, terminated, or not in EC2 at all). It refuses, with
exit code 2 and nothing written, an instance EC2 shows pending, running,
stopping or stopped, or one whose row a stream is allocated to, and says what
--force would strip from it.

  <instance-id>            the instance, i- and 8 to 17 hex digits
  --force                  release it even so: the worker keeps running without
                           its address, and its streams lose their server
${SETTINGS_OPTIONS}
Example:
  pulumi stack output --json | npx eip-dns-binder release i-0123456789abcdef0
`,
    drain: `Usage: eip-dns-binder drain <instance-id> [options]

Takes a running worker off the servers table, as a Spot interruption warning
does: the scheduler stops handing it out, while its address, name and claim stay
until it terminates. Refuses (exit 1, nothing written) an instance EC2 does not
show, one without the stack's instance tags, and one stopped or going away.

  <instance-id>            the worker, i- and 8 to 17 hex digits
${SETTINGS_OPTIONS}
Example:
  pulumi stack output --json | npx eip-dns-binder drain i-0123456789abcdef0
`,
    undrain: `Usage: eip-dns-binder undrain <instance-id> [options]

Ends a worker's drain, whatever its cause, and binds it again, which publishes
its row as a new server. Exits 1 when publishing fails (the reconciler publishes
it on its next run) or when a newer drain signal came in meanwhile.

  <instance-id>            the worker, i- and 8 to 17 hex digits
${SETTINGS_OPTIONS}
Example:
  pulumi stack output --json | npx eip-dns-binder undrain i-0123456789abcdef0
`,
    help: `Usage: eip-dns-binder help [<command>]

Shows the usage of every command, or one command's arguments, flags and an
example (the same as eip-dns-binder <command> --help).

Example:
  npx eip-dns-binder help release
`,
} as const;

/** The commands; those after `reconcile` act on one instance, named by its id. */
const COMMANDS = ["status", "reconcile", "release", "drain", "undrain", "help"] as const;
type CommandName = typeof COMMANDS[number];
const isCommand = (name: string): name is CommandName => (COMMANDS as readonly string[]).includes(name);

export type Command =
    | { name: "help"; text: string }
    | { name: "status"; json: boolean }
    | { name: "reconcile"; json: boolean; dryRun: boolean }
    | { name: "release"; instanceId: string; force: boolean }
    | { name: "drain" | "undrain"; instanceId: string };

/** Where the settings come from: a file (else standard input), and values that override it. */
export interface SettingsSource {
    file?: string;
    /** The pool, by its name in the stack's `pools` output. */
    pool?: string;
    serversTable?: string;
    claimsTable?: string;
    zoneId?: string;
}

export interface Invocation {
    command: Command;
    source: SettingsSource;
    verbose: boolean;
    /** How long an AWS endpoint has to connect, and then to answer. */
    timeoutSeconds: number;
}

const OPTIONS = {
    "settings": { type: "string" },
    "pool": { type: "string" },
    "servers-table": { type: "string" },
    "claims-table": { type: "string" },
    "zone-id": { type: "string" },
    "timeout": { type: "string" },
    "json": { type: "boolean" },
    "dry-run": { type: "boolean" },
    "force": { type: "boolean" },
    "verbose": { type: "boolean" },
    "help": { type: "boolean", short: "h" },
} as const;

/** Options that belong to one command only. */
const ONLY_FOR: Record<string, string[]> = { "json": ["status", "reconcile"], "dry-run": ["reconcile"], "force": ["release"] };

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/** A command line that makes no sense: say what, and where the help is. */
const wrong = (message: string, help = "eip-dns-binder --help") => usageError(`${message} (see ${help})`);

/** Edits (insertions, deletions, substitutions) that turn `a` into `b`. */
function distance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}

/** An unknown command, with the known one it is nearest to when that is a slip of the keyboard. */
function unknownCommand(name: string): Error {
    const [nearest] = COMMANDS.map(known => ({ known, edits: distance(name.toLowerCase(), known) })).sort((a, b) => a.edits - b.edits);
    const hint = nearest.edits <= Math.max(2, Math.floor(nearest.known.length / 3)) ? `did you mean ${nearest.known}?` : `the commands are ${COMMANDS.join(", ")}`;
    return wrong(`unknown command '${name}': ${hint}`);
}

function parse(argv: string[]) {
    try {
        return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
        // Node's first sentence names the option; the rest is advice about "--" that does not apply.
        const message = err instanceof Error ? err.message.split(". ")[0] : String(err);
        throw wrong(message.charAt(0).toLowerCase() + message.slice(1));
    }
}

function timeoutOf(raw: string | undefined): number {
    if (raw === undefined) return TIMEOUT_SECONDS.default;
    const seconds = Number(raw);
    if (!Number.isFinite(seconds) || seconds < TIMEOUT_SECONDS.min || seconds > TIMEOUT_SECONDS.max) {
        throw wrong(`--timeout must be a number of seconds from ${TIMEOUT_SECONDS.min} to ${TIMEOUT_SECONDS.max}, not '${raw}'`);
    }
    return seconds;
}

/** `help [<command>]`, or `[<command>] --help` (`asked`): the usage asked for. */
function helpText(name: CommandName | undefined, operands: string[], asked: boolean): string {
    if (name !== "help") return name === undefined ? USAGE : COMMAND_HELP[name];
    const [topic, extra] = operands;
    if (extra !== undefined) throw wrong(`unexpected argument '${extra}'`);
    if (topic === undefined) return asked ? COMMAND_HELP.help : USAGE;
    if (!isCommand(topic)) throw unknownCommand(topic);
    return COMMAND_HELP[topic];
}

export function parseInvocation(argv: string[]): Invocation {
    const { values, positionals } = parse(argv);
    const source: SettingsSource = {
        file: values.settings,
        pool: values.pool,
        serversTable: values["servers-table"],
        claimsTable: values["claims-table"],
        zoneId: values["zone-id"],
    };
    const verbose = values.verbose ?? false;
    const [name, ...operands] = positionals;
    if (name !== undefined && !isCommand(name)) throw unknownCommand(name);
    if (name === "help" || values.help) {
        return { command: { name: "help", text: helpText(name, operands, values.help ?? false) }, source, verbose, timeoutSeconds: TIMEOUT_SECONDS.default };
    }
    if (name === undefined) throw wrong("missing command");
    const commandHelp = `eip-dns-binder ${name} --help`;
    for (const [option, commands] of Object.entries(ONLY_FOR)) {
        if (values[option as keyof typeof values] !== undefined && !commands.includes(name)) {
            throw wrong(`--${option} does not apply to ${name}`, commandHelp);
        }
    }
    const timeoutSeconds = timeoutOf(values.timeout);
    const expected = name === "status" || name === "reconcile" ? 0 : 1;
    if (operands.length > expected) throw wrong(`unexpected argument '${operands[expected]}'`, commandHelp);

    const json = values.json ?? false;
    const invocation = (command: Command): Invocation => ({ command, source, verbose, timeoutSeconds });
    if (name === "status") return invocation({ name, json });
    if (name === "reconcile") return invocation({ name, json, dryRun: values["dry-run"] ?? false });
    const [instanceId] = operands;
    if (instanceId === undefined) throw wrong(`${name} needs an instance id`, commandHelp);
    if (!INSTANCE_ID.test(instanceId)) throw wrong(`'${instanceId}' is not an instance id: expected i- and 8 to 17 hex digits`, commandHelp);
    if (name === "release") return invocation({ name, instanceId, force: values.force ?? false });
    return invocation({ name, instanceId });
}
