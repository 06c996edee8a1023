// The binder's Context for one CLI run: the caller's credentials (the SDK's default
// chain), logs only when asked for, and no metrics, so standard output stays the report.
import { connect } from "../binder/aws/connect";
import { BinderSettings } from "../binder/config";
import { Context } from "../binder/context";
import { createLogger } from "../binder/log";
import { createMetrics } from "../binder/metrics";

export interface ContextOptions {
    /** Write the binder's JSON log lines to `stderr`. */
    verbose: boolean;
    stderr: (text: string) => void;
    now: () => Date;
}

/** A Context like the Lambda's, and `close` to free its connections when the command is done. */
export function cliContext(settings: BinderSettings, options: ContextOptions): { ctx: Context; close: () => void } {
    const { layer, close } = connect(settings);
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
