// The command line: which command, its options, and where the stack's settings come from.
import { parseArgs } from "node:util";
import { usageError } from "./errors";

export const USAGE = `Usage: eip-dns-binder <command> [options]

Commands:
  status                   show the pool, draining and waiting workers, and the
                           drift the reconciler would fix
  reconcile [--dry-run]    fix that drift now (--dry-run: only report it)
  release <instance-id>    take back the address bound to an instance
  drain <instance-id>      take a worker off the servers table; it keeps its
                           address, name and claim until it terminates
  undrain <instance-id>    end a worker's drain and publish it again

The stack's settings come from \`pulumi stack output --json\` on standard input:
  pulumi stack output --json | npx eip-dns-binder status

Options:
  --settings <file>        read the stack output from a file instead
  --pool <name>            the pool to act on, in a stack with several (its
                           \`pools\` output); the top-level pool by default
  --servers-table <name>   override the servers table
  --claims-table <name>    override the claims table
  --zone-id <id>           override the hosted zone id
  --json                   print JSON (status, reconcile)
  --verbose                write the binder's logs to standard error
  -h, --help               show this help

AWS credentials and region come from the SDK's default chain
(AWS_PROFILE, AWS_REGION, environment variables, SSO, instance roles).
Exit codes: 0 done, 1 AWS or reconcile failure, or a drain or undrain that
could not be done, 2 usage or settings error.
`;

export type Command =
    | { name: "help" }
    | { name: "status"; json: boolean }
    | { name: "reconcile"; json: boolean; dryRun: boolean }
    | { name: "release" | "drain" | "undrain"; instanceId: string };

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
}

const OPTIONS = {
    "settings": { type: "string" },
    "pool": { type: "string" },
    "servers-table": { type: "string" },
    "claims-table": { type: "string" },
    "zone-id": { type: "string" },
    "json": { type: "boolean" },
    "dry-run": { type: "boolean" },
    "verbose": { type: "boolean" },
    "help": { type: "boolean", short: "h" },
} as const;

/** Options that belong to one command only. */
const ONLY_FOR: Record<string, string[]> = { "json": ["status", "reconcile"], "dry-run": ["reconcile"] };

/** The commands; those after `reconcile` act on one instance, named by its id. */
const COMMANDS = ["status", "reconcile", "release", "drain", "undrain"] as const;
type CommandName = typeof COMMANDS[number];
const isCommand = (name: string): name is CommandName => (COMMANDS as readonly string[]).includes(name);

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/** A command line that makes no sense: say what, and where the help is. */
const wrong = (message: string) => usageError(`${message} (see eip-dns-binder --help)`);

function parse(argv: string[]) {
    try {
        return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
        // Node's first sentence names the option; the rest is advice about "--" that does not apply.
        const message = err instanceof Error ? err.message.split(". ")[0] : String(err);
        throw wrong(message.charAt(0).toLowerCase() + message.slice(1));
    }
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
    if (values.help) return { command: { name: "help" }, source, verbose };

    const [name, ...operands] = positionals;
    if (name === undefined) throw wrong("missing command");
    if (!isCommand(name)) throw wrong(`unknown command '${name}'`);
    for (const [option, commands] of Object.entries(ONLY_FOR)) {
        if (values[option as keyof typeof values] !== undefined && !commands.includes(name)) {
            throw wrong(`--${option} does not apply to ${name}`);
        }
    }
    const expected = name === "status" || name === "reconcile" ? 0 : 1;
    if (operands.length > expected) throw wrong(`unexpected argument '${operands[expected]}'`);

    const json = values.json ?? false;
    if (name === "status") return { command: { name, json }, source, verbose };
    if (name === "reconcile") return { command: { name, json, dryRun: values["dry-run"] ?? false }, source, verbose };
    const [instanceId] = operands;
    if (instanceId === undefined) throw wrong(`${name} needs an instance id`);
    if (!INSTANCE_ID.test(instanceId)) throw wrong(`'${instanceId}' is not an instance id: expected i- and 8 to 17 hex digits`);
    return { command: { name, instanceId }, source, verbose };
}
