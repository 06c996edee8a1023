// The scheduler's client of the servers table: allocate a server by placement,
// release it, renew its lease. Safe beside other schedulers and the binder: every
// write is conditional on the row's run and on what was read (see requests.ts), so
// of two schedulers racing for a server one wins, and a late release or renewal of
// a server that went, or started again, changes nothing.
import { OFFER } from "../binder/schema";
import { Calls, DynamoDBClient, ServersTable } from "./dynamodb";
import { AllocationTerms, claimFree, endStream, freeLapsed, getRow, joinShared, offersQuery, renewLease, Run, Selector, takeOverLapsed } from "./requests";
import { ALLOCATION, Allocation, Item, leavingOf, toAllocation, toServer } from "./rows";

export interface SchedulerClientOptions {
    /** The servers table (stack output `serversTable`). */
    table: string;
    dynamodb: DynamoDBClient;
    /** The clock leases are judged by; the system clock unless given. */
    now?: () => Date;
    /** Picks among candidates, so that concurrent schedulers spread out; Math.random unless given. */
    random?: () => number;
}

export interface AllocateOptions {
    /** Who allocates: recorded on the server; only it releases or renews the allocation. */
    owner?: string;
    /** Streams one server can carry (counted atomically); 1 unless given. With more, the owner's shared servers are filled first. */
    capacity?: number;
    /** The allocation lapses this long after it is made or renewed, and another scheduler may take the server. Needs an owner. */
    leaseSeconds?: number;
    /** Recorded with the allocation (string values). */
    metadata?: Record<string, string>;
}

/**
 * How a release ended. `released`: one stream fewer (the last sets the server free).
 * Nothing was written otherwise: `gone` (the row was deleted: the worker went),
 * `replaced` (the row is of another instance or another run of it: a stop and start),
 * `leaving` (its worker is stopping or draining; the row goes), `not-owner`
 * (another owner's, e.g. after a lapsed lease was taken over), `not-allocated`.
 */
export type ReleaseOutcome = "released" | "gone" | "replaced" | "leaving" | "not-owner" | "not-allocated";

/** Rounds of looking again when every candidate found was refused (taken since, or an index behind the table). */
const ROUNDS = 3;

/** Reads and tries of one release when its count keeps changing under it (streams of the same server ending at once). */
const RELEASE_TRIES = 8;

const runOf = (item: Item): Run => {
    const server = toServer(item);
    return { publicIp: server.publicIp, dnsName: server.dnsName, instanceId: server.instanceId, ...(server.launchedAt !== undefined && { launchedAt: server.launchedAt }) };
};

export class SchedulerClient {
    private readonly table: ServersTable;
    private readonly now: () => Date;
    private readonly random: () => number;

    constructor(private readonly options: SchedulerClientOptions) {
        this.table = new ServersTable(options.dynamodb);
        this.now = options.now ?? (() => new Date());
        this.random = options.random ?? Math.random;
    }

    /** Calls sent, and conditional writes refused, since the client was made. */
    get counts(): Readonly<Calls> {
        return this.table.counts;
    }

    /**
     * Allocates one stream's server: the first selector that any offered server
     * matches wins (ordered fallbacks). Within a selector: a server the owner shares
     * with room (with a capacity above 1), else a free one, else one whose lease
     * lapsed. Undefined when no selector matches a server that could be claimed.
     */
    async allocate(selectors: Selector | Selector[], options: AllocateOptions = {}): Promise<Allocation | undefined> {
        const capacity = options.capacity ?? 1;
        if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a whole number of streams, 1 or more; got ${capacity}`);
        if (options.leaseSeconds !== undefined && options.owner === undefined) throw new Error("a lease needs an owner: only the owner renews it");
        for (const selector of [selectors].flat()) {
            for (let round = 0; round < ROUNDS; round++) {
                const { allocation, refused } = await this.allocateOnce(selector, options, capacity);
                if (allocation) return allocation;
                if (refused === 0) break;
            }
        }
        return undefined;
    }

    private async allocateOnce(selector: Selector, options: AllocateOptions, capacity: number): Promise<{ allocation?: Allocation; refused: number }> {
        const now = this.now().toISOString();
        const terms: AllocationTerms = {
            capacity,
            ...(options.owner !== undefined && { owner: options.owner }),
            ...(options.leaseSeconds !== undefined && { leaseUntil: new Date(Date.parse(now) + options.leaseSeconds * 1000).toISOString() }),
            ...(options.metadata !== undefined && { metadata: options.metadata }),
        };
        const fresh = (item: Item): Allocation => ({ ...toServer(item), streams: 1, capacity, allocatedAt: now,
            ...(terms.owner !== undefined && { owner: terms.owner }), ...(terms.leaseUntil !== undefined && { leaseUntil: terms.leaseUntil }), ...(terms.metadata !== undefined && { metadata: terms.metadata }) });
        let refused = 0;
        if (capacity > 1) {
            for (const item of this.shuffled(await this.table.query(offersQuery(this.options.table, "open", selector, { owner: options.owner ?? null })))) {
                const shared = toAllocation(item);
                if (!shared || shared.streams >= shared.capacity || (shared.leaseUntil !== undefined && shared.leaseUntil < now)) continue;
                if (await this.table.update(joinShared(this.options.table, runOf(item), options.owner, shared.streams, shared.capacity, terms.leaseUntil))) {
                    return { allocation: { ...shared, streams: shared.streams + 1, ...(terms.leaseUntil !== undefined && { leaseUntil: terms.leaseUntil }) }, refused };
                }
                refused++;
            }
        }
        for (const item of this.shuffled(await this.table.query(offersQuery(this.options.table, "free", selector)))) {
            if (await this.table.update(claimFree(this.options.table, runOf(item), terms, now))) return { allocation: fresh(item), refused };
            refused++;
        }
        for (const offer of ["open", "full"] as const) {
            for (const item of this.shuffled(await this.table.query(offersQuery(this.options.table, offer, selector, { expiredBefore: now })))) {
                if (await this.table.update(takeOverLapsed(this.options.table, runOf(item), item[ALLOCATION.leaseUntil]!.S!, terms, now))) return { allocation: fresh(item), refused };
                refused++;
            }
        }
        return { refused };
    }

    /**
     * Ends one stream on an allocated server: the owner's, of the same run, read
     * consistently first so a release says why it wrote nothing. Never creates a row.
     */
    async release(allocation: Allocation): Promise<ReleaseOutcome> {
        for (let attempt = 0; attempt < RELEASE_TRIES; attempt++) {
            const item = await this.table.get(getRow(this.options.table, allocation));
            if (!item) return "gone";
            const server = toServer(item);
            if (server.instanceId !== allocation.instanceId || server.launchedAt !== allocation.launchedAt) return "replaced";
            if (leavingOf(item)) return "leaving";
            const current = toAllocation(item);
            if (!current) return "not-allocated";
            if (current.owner !== allocation.owner) return "not-owner";
            if (await this.table.update(endStream(this.options.table, runOf(item), allocation.owner, current.streams))) return "released";
        }
        throw new Error(`the stream count of ${allocation.publicIp} kept changing through ${RELEASE_TRIES} tries; release it again`);
    }

    /** Moves an allocation's lease on by `leaseSeconds`; undefined when it is no longer the owner's (lapsed and taken, gone, replaced or leaving). */
    async renew(allocation: Allocation, leaseSeconds: number): Promise<Allocation | undefined> {
        if (allocation.owner === undefined) throw new Error("only an owner's allocation has a lease");
        const leaseUntil = new Date(this.now().getTime() + leaseSeconds * 1000).toISOString();
        return (await this.table.update(renewLease(this.options.table, allocation, allocation.owner, leaseUntil))) ? { ...allocation, leaseUntil } : undefined;
    }

    /** Sets free every server matching `selector` whose lease lapsed (a crashed scheduler's); how many it freed. */
    async freeLapsed(selector: Selector = {}): Promise<number> {
        const now = this.now().toISOString();
        let freed = 0;
        for (const offer of [OFFER.open, OFFER.full] as const) {
            for (const item of await this.table.query(offersQuery(this.options.table, offer, selector, { expiredBefore: now }))) {
                if (await this.table.update(freeLapsed(this.options.table, runOf(item), item[ALLOCATION.leaseUntil]!.S!, now))) freed++;
            }
        }
        return freed;
    }

    /** A random order (Fisher–Yates), so that schedulers reading the same index do not all try the same server first. */
    private shuffled<T>(items: T[]): T[] {
        const out = [...items];
        for (let i = out.length - 1; i > 0; i--) {
            const j = Math.floor(this.random() * (i + 1));
            [out[i], out[j]] = [out[j], out[i]];
        }
        return out;
    }
}
