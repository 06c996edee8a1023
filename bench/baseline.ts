// The replacement scenarios' baseline, "no-handover": our binder as it behaved
// before the waitlist, when a worker that found the pool exhausted waited for
// its own event to come back (the binder's redelivery backoff) or for the
// reconciler. It is the same handleBatch over the same clients, settings and
// queue as createEventHandler builds at its cold start; only the Store differs:
// its three waitlist methods do nothing, so no worker is ever put on the list,
// a release's hand-over finds nobody waiting (and makes no call to find out),
// and nothing is taken off. Everything else, binds, releases and their calls,
// is the binder at HEAD.
import { createClients, createQueueClient } from "../binder/aws/clients";
import { binderSettingsFromEnv, eventQueueUrlFromEnv } from "../binder/config";
import { Context } from "../binder/context";
import { Dns } from "../binder/aws/dns";
import { Ec2 } from "../binder/aws/ec2";
import { handleBatch } from "../binder/handler";
import { createLogger } from "../binder/log";
import { createMetrics } from "../binder/metrics";
import { EventQueue } from "../binder/aws/queue";
import { Store, Waiting } from "../binder/aws/store";
import type { Handler } from "./lambda";

/** The Store with the waitlist switched off: no writes to it, and it always reads empty. */
class NoWaitlistStore extends Store {
    override async wait(): Promise<void> {}

    override async waiting(): Promise<Waiting[]> {
        return [];
    }

    override async stopWaiting(): Promise<void> {}
}

/** A cold start of the binder with hand-over off; what createEventHandler does, with NoWaitlistStore. */
export function createNoHandoverHandler(): Handler {
    const settings = binderSettingsFromEnv(process.env);
    const clients = createClients();
    const log = createLogger();
    const queue = new EventQueue(createQueueClient(), eventQueueUrlFromEnv(process.env));
    const base = {
        settings,
        ec2: new Ec2(clients.ec2),
        store: new NoWaitlistStore(clients.dynamodb, settings.serversTable, settings.claimsTable),
        dns: new Dns(clients.route53, settings.hostedZoneId, settings.dnsTtl),
        now: () => new Date(),
    };
    return async (event, context) => {
        const ctx: Context = {
            ...base,
            log: log.with({ requestId: context.awsRequestId }),
            metrics: createMetrics(settings.stack),
            timeLeft: () => context.getRemainingTimeInMillis(),
        };
        try {
            return await handleBatch(ctx, queue, event);
        } finally {
            ctx.metrics.flush();
        }
    };
}
