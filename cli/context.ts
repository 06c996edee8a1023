// The binder's Context for one CLI run: the caller's credentials (the SDK's default
// chain), logs only when asked for, and no metrics, so standard output stays the report.
import { createClients } from "../binder/aws/clients";
import { BinderSettings } from "../binder/config";
import { Context } from "../binder/context";
import { Dns } from "../binder/aws/dns";
import { Ec2 } from "../binder/aws/ec2";
import { createLogger } from "../binder/log";
import { createMetrics } from "../binder/metrics";
import { Store } from "../binder/aws/store";

export interface ContextOptions {
    /** Write the binder's JSON log lines to `stderr`. */
    verbose: boolean;
    stderr: (text: string) => void;
    now: () => Date;
}

/** A Context like the Lambda's, and `close` to free its connections when the command is done. */
export function cliContext(settings: BinderSettings, options: ContextOptions): { ctx: Context; close: () => void } {
    const clients = createClients();
    const write = options.verbose ? (line: string) => options.stderr(`${line}\n`) : () => {};
    return {
        ctx: {
            settings,
            ec2: new Ec2(clients.ec2),
            store: new Store(clients.dynamodb, settings.serversTable, settings.claimsTable),
            dns: new Dns(clients.route53, settings.hostedZoneId, settings.dnsTtl),
            log: createLogger(write),
            metrics: createMetrics(settings.stack, () => {}),
            now: options.now,
            timeLeft: () => Infinity,
        },
        close: () => {
            clients.ec2.destroy();
            clients.route53.destroy();
            clients.dynamodb.destroy();
        },
    };
}
