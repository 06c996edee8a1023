// The binder's Context for one CLI run: the caller's credentials (the SDK's default
// chain), the stack's Region, endpoints that must answer within seconds, logs only
// when asked for, and no metrics, so standard output stays the report.
import { configuredRegion } from "../binder/aws/clients";
import { connect } from "../binder/aws/connect";
import { Context } from "../binder/context";
import { createLogger } from "../binder/log";
import { createMetrics } from "../binder/metrics";
import { usageError } from "./errors";
import { StackSettings } from "./settings";

export interface ContextOptions {
    /** Write the binder's JSON log lines to `stderr`. */
    verbose: boolean;
    /** How long an AWS endpoint has to connect, and then to answer. */
    timeoutSeconds: number;
    stderr: (text: string) => void;
    now: () => Date;
}

/** The Region to call: the one the SDK's chain finds (AWS_REGION, the profile), else the stack's. */
export async function chooseRegion(stack: StackSettings["region"]): Promise<string> {
    const region = (await configuredRegion()) ?? stack?.name;
    if (region === undefined) {
        throw usageError("no AWS region: set AWS_REGION, or pipe in a stack output that has serversStream (its ARN names the stack's Region)");
    }
    return region;
}

/** A Context like the Lambda's, and `close` to free its connections when the command is done. */
export async function cliContext(stack: StackSettings, options: ContextOptions): Promise<{ ctx: Context; close: () => void }> {
    const region = await chooseRegion(stack.region);
    const settings = stack.binder;
    const { layer, close } = connect(settings, { reach: { region, timeoutSeconds: options.timeoutSeconds } });
    const write = options.verbose ? (line: string) => options.stderr(`${line}\n`) : () => {};
    return {
        ctx: {
            settings,
            ...layer,
            log: createLogger(write),
            metrics: createMetrics(settings.stack, () => {}),
            now: options.now,
            timeLeft: () => Infinity,
        },
        close,
    };
}
