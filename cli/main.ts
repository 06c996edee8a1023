// The operator CLI: `eip-dns-binder status | reconcile [--dry-run] | release <instance-id> [--force]
// | drain <instance-id> | undrain <instance-id> | help [<command>]`.
// `main` does the work against injected streams, so tests run it in-process; `run`
// wires it to the real process.
import { text } from "node:stream/consumers";
import { Context } from "../binder/context";
import { Command, parseInvocation } from "./args";
import { cliContext } from "./context";
import { drainCommand, undrainCommand } from "./drain";
import { describeFailure, exitCodeOf } from "./errors";
import { reconcileCommand } from "./reconcile";
import { releaseCommand } from "./release";
import { loadSettings } from "./settings";
import { statusCommand } from "./status";

export interface Io {
    /** Standard input's text, or undefined when it is a terminal; called only when settings are needed. */
    stdin: () => Promise<string | undefined>;
    stdout: (text: string) => void;
    stderr: (text: string) => void;
    /** The clock for ages and for the binder; tests fix it. */
    now?: () => Date;
}

function execute(ctx: Context, command: Exclude<Command, { name: "help" }>, out: (text: string) => void): Promise<number> {
    switch (command.name) {
        case "status": return statusCommand(ctx, command, out);
        case "reconcile": return reconcileCommand(ctx, command, out);
        case "release": return releaseCommand(ctx, command, out);
        case "drain": return drainCommand(ctx, command.instanceId, out);
        case "undrain": return undrainCommand(ctx, command.instanceId, out);
    }
}

/** Runs one command; resolves to the exit code and never throws. */
export async function main(argv: string[], io: Io): Promise<number> {
    try {
        const { command, source, verbose, timeoutSeconds } = parseInvocation(argv);
        if (command.name === "help") {
            io.stdout(command.text);
            return 0;
        }
        const stack = await loadSettings(source, io.stdin);
        const { ctx, close } = await cliContext(stack, { verbose, timeoutSeconds, stderr: io.stderr, now: io.now ?? (() => new Date()) });
        try {
            return await execute(ctx, command, io.stdout);
        } finally {
            close();
        }
    } catch (err) {
        io.stderr(`eip-dns-binder: ${describeFailure(err)}\n`);
        return exitCodeOf(err);
    }
}

/** The process entry point; standard input is read only when it is piped. */
export async function run(): Promise<void> {
    process.exitCode = await main(process.argv.slice(2), {
        stdin: async () => (process.stdin.isTTY ? undefined : text(process.stdin)),
        stdout: output => process.stdout.write(output),
        stderr: output => process.stderr.write(output),
    });
}
