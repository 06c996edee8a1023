// Route53 access for per-binding names: point a name at an address and wait
// until Route53 serves it; remove it only when it still says exactly that.
import {
    ChangeResourceRecordSetsCommand,
    ListResourceRecordSetsCommand,
    ResourceRecordSet,
    Route53Client,
    RRType,
    waitUntilResourceRecordSetsChanged,
} from "@aws-sdk/client-route-53";
import { errorCode } from "./clients";

/** How long to wait for a change to reach every Route53 server, and the backoff between checks (seconds). */
export const IN_SYNC_WAIT = { maxWaitTime: 60, minDelay: 1, maxDelay: 8 };

const fqdn = (name: string) => `${name.toLowerCase().replace(/\.$/, "")}.`;

export class Dns {
    constructor(
        private readonly client: Route53Client,
        private readonly zoneId: string,
        private readonly ttl: number,
    ) {}

    /** Points `name` at `ip` (UPSERT, so a repeat is harmless) and waits, up to `maxWaitTime` seconds, until the change is INSYNC. */
    async point(name: string, ip: string, maxWaitTime = IN_SYNC_WAIT.maxWaitTime): Promise<void> {
        const out = await this.change("UPSERT", { Name: fqdn(name), Type: "A", TTL: this.ttl, ResourceRecords: [{ Value: ip }] });
        const result = await waitUntilResourceRecordSetsChanged({ client: this.client, ...IN_SYNC_WAIT, maxWaitTime }, { Id: out });
        if (result.state !== "SUCCESS") throw new Error(`Route53 change ${out} for ${name} is not INSYNC: ${result.state}`);
    }

    /**
     * Deletes the A record of `name` if it points at exactly `ip`. The record is read
     * first because a DELETE must repeat the record exactly (TTL included); a record
     * that is gone or now points elsewhere is left alone.
     */
    async remove(name: string, ip: string): Promise<void> {
        const out = await this.client.send(new ListResourceRecordSetsCommand({
            HostedZoneId: this.zoneId,
            StartRecordName: fqdn(name),
            StartRecordType: "A",
            MaxItems: 1,
        }));
        const record = out.ResourceRecordSets?.[0];
        const values = record?.ResourceRecords?.map(r => r.Value) ?? [];
        if (!record || fqdn(record.Name ?? "") !== fqdn(name) || record.Type !== "A" || values.length !== 1 || values[0] !== ip) return;
        try {
            await this.change("DELETE", record);
        } catch (err) {
            // Changed or deleted since it was read: it is not ours to delete any more.
            if (errorCode(err) !== "InvalidChangeBatch") throw err;
        }
    }

    /**
     * Every A record of the zone that holds one address, by name (lower case, no
     * trailing dot): what the reconciler checks bound names against, one paged read.
     */
    async records(): Promise<Map<string, string>> {
        const found = new Map<string, string>();
        let start: { StartRecordName?: string; StartRecordType?: RRType } = {};
        for (;;) {
            const out = await this.client.send(new ListResourceRecordSetsCommand({ HostedZoneId: this.zoneId, ...start }));
            for (const record of out.ResourceRecordSets ?? []) {
                const values = record.ResourceRecords?.map(r => r.Value) ?? [];
                if (record.Type === "A" && values.length === 1) found.set(fqdn(record.Name ?? "").slice(0, -1), values[0] ?? "");
            }
            if (!out.IsTruncated) return found;
            start = { StartRecordName: out.NextRecordName, StartRecordType: out.NextRecordType };
        }
    }

    private async change(action: "UPSERT" | "DELETE", record: ResourceRecordSet): Promise<string> {
        const out = await this.client.send(new ChangeResourceRecordSetsCommand({
            HostedZoneId: this.zoneId,
            ChangeBatch: { Changes: [{ Action: action, ResourceRecordSet: record }] },
        }));
        return out.ChangeInfo?.Id ?? "";
    }
}
