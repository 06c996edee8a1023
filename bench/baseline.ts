// The replacement scenarios' baseline, "no-handover": our binder as it behaved
// before the waitlist, when a worker that found the pool exhausted waited for
// its own event to come back (the binder's redelivery backoff) or for the
// reconciler. It is createEventHandler itself, the same cold start, clients,
// settings and queue; only the Store it is given differs: its three waitlist
// methods do nothing, so no worker is ever put on the list, a release's
// hand-over finds nobody waiting (and makes no call to find out), and nothing
// is taken off. Everything else, binds, releases and their calls, is the binder
// at HEAD.
import { StoreFactory } from "../binder/aws/connect";
import { Store, Waiting } from "../binder/aws/store";
import { createEventHandler, EventHandler } from "../binder/handler";

/** The Store with the waitlist switched off: no writes to it, and it always reads empty. */
export class NoWaitlistStore extends Store {
    override async wait(): Promise<void> {}

    override async waiting(): Promise<Waiting[]> {
        return [];
    }

    override async stopWaiting(): Promise<void> {}
}

const noWaitlist: StoreFactory = (dynamodb, settings) => new NoWaitlistStore(dynamodb, settings.serversTable, settings.claimsTable);

/** A cold start of the binder with hand-over off: createEventHandler with NoWaitlistStore. */
export function createNoHandoverHandler(): EventHandler {
    return createEventHandler({ store: noWaitlist });
}
