// A stream scheduler built on the scheduler client (eip-dns-binder/scheduler): it
// places each live stream on a server in the zone asked for (any zone if that one
// has none free), renews its leases while the streams run, and moves streams off a
// server the moment the servers table's stream warns that it is leaving (a Spot
// interruption gives two minutes). Feed it the stream with an event source mapping
// (stack output `serversStream`) in your own program:
//
//   new aws.lambda.EventSourceMapping("scheduler-feed", {
//       eventSourceArn: binder.serversStream,
//       functionName: schedulerFunction.name,
//       startingPosition: "LATEST",
//   });
//
// The role needs the stack output `schedulerPolicy` (docs/scheduler.md). Where the
// streams live is yours to keep; here it is memory, as in one long-running process.
import { Allocation, ReleaseOutcome, SchedulerClient, serverEvents, ServerEvent, StreamRecord } from "eip-dns-binder/scheduler";

/** A live stream and where it runs. */
export interface Placement {
    streamId: string;
    zone: string;
    server: Allocation;
}

export class StreamScheduler {
    private readonly placements = new Map<string, Placement>();

    constructor(
        private readonly servers: SchedulerClient,
        /** This scheduler's name: its allocations carry it, and only it renews or releases them. */
        private readonly owner: string,
        private readonly leaseSeconds = 60,
    ) {}

    /** Places a stream in `zone`, or anywhere if that zone has no free server; undefined when none is free. */
    async place(streamId: string, zone: string): Promise<Placement | undefined> {
        const server = await this.servers.allocate([{ availabilityZone: zone }, {}], { owner: this.owner, leaseSeconds: this.leaseSeconds, metadata: { stream: streamId } });
        if (!server) return undefined;
        const placement = { streamId, zone, server };
        this.placements.set(streamId, placement);
        return placement;
    }

    /** The stream ended: its server goes back. */
    async end(streamId: string): Promise<ReleaseOutcome | undefined> {
        const placement = this.placements.get(streamId);
        if (!placement) return undefined;
        this.placements.delete(streamId);
        return this.servers.release(placement.server);
    }

    /** Renews every lease (call it well within `leaseSeconds`); a stream whose server is no longer its own is placed again. */
    async renewLeases(): Promise<void> {
        for (const placement of [...this.placements.values()]) {
            const renewed = await this.servers.renew(placement.server, this.leaseSeconds);
            if (renewed) placement.server = renewed;
            else await this.move(placement);
        }
    }

    /** The Lambda handler for the servers table's stream. */
    async onRecords(event: { Records: StreamRecord[] }): Promise<void> {
        for (const change of serverEvents(event.Records)) await this.onEvent(change);
    }

    where(streamId: string): Placement | undefined {
        return this.placements.get(streamId);
    }

    /** A server leaving (warned, or gone without warning) takes its streams elsewhere at once. */
    private async onEvent(change: ServerEvent): Promise<void> {
        if (change.type !== "leaving" && change.type !== "offline") return;
        const on = [...this.placements.values()].filter(p => p.server.publicIp === change.server.publicIp && p.server.instanceId === change.server.instanceId);
        const why = change.type === "leaving" ? change.leaving : change.reason;
        for (const placement of on) {
            console.log(JSON.stringify({ moving: placement.streamId, from: placement.server.dnsName, ...why }));
            await this.move(placement);
        }
    }

    /** Places the stream again (the leaving server is no longer offered), then lets the old server go. */
    private async move(placement: Placement): Promise<void> {
        const old = placement.server;
        this.placements.delete(placement.streamId);
        await this.place(placement.streamId, placement.zone);
        // On a leaving or deleted row this writes nothing and says so.
        await this.servers.release(old);
    }
}
