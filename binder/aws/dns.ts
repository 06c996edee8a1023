// Route53 access for per-binding names, a batch at a time: Route53 allows five
// requests a second for the whole account, and one change or one read serves
// many names. Names are pointed at addresses and waited for together; a name
// is removed only while it still says exactly what was read.
import {
    Change,
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

/**
 * Changes in one request. Route53 takes up to 1,000 ResourceRecord elements in a
 * request, an UPSERT counting twice (Route53 quotas, "Maximums on API requests"),
 * and its API reference once capped a request at 100 changes: 100 fits both.
 */
const CHANGES_PER_REQUEST = 100;

/** A name and the one address its A record holds. */
export interface NamedAddress {
    name: string;
    ip: string;
}

const fqdn = (name: string) => `${name.toLowerCase().replace(/\.$/, "")}.`;

/**
 * Where a name sorts in ListResourceRecordSets: by its labels reversed, trailing
 * dot included, in ASCII order ("com.example.www."), as the Route53 API reference
 * for ListResourceRecordSets describes.
 */
const listingKey = (name: string) => `${fqdn(name).slice(0, -1).split(".").reverse().join(".")}.`;

export class Dns {
    constructor(
        private readonly client: Route53Client,
        private readonly zoneId: string,
        private readonly ttl: number,
        /** The INSYNC wait's limit and backoff (seconds); a test world on virtual time shortens the backoff. */
        private readonly inSyncWait: typeof IN_SYNC_WAIT = IN_SYNC_WAIT,
    ) {}

    /**
     * Points each name at its address in one change (UPSERT, so a repeat is
     * harmless) and waits, up to `maxWaitTime` seconds, until Route53 serves them.
     * Returns the names Route53 refused, each with its error: the others are in
     * sync. Any other failure (throttling, the wait running out) throws.
     */
    async pointAll(names: NamedAddress[], maxWaitTime = this.inSyncWait.maxWaitTime): Promise<Map<string, unknown>> {
        const deadline = Date.now() + maxWaitTime * 1000;
        const { changeIds, refused } = await this.apply(names.map(({ name, ip }) => ({
            Action: "UPSERT",
            ResourceRecordSet: { Name: fqdn(name), Type: "A", TTL: this.ttl, ResourceRecords: [{ Value: ip }] },
        })));
        for (const id of changeIds) {
            const seconds = Math.floor((deadline - Date.now()) / 1000);
            const result = seconds > this.inSyncWait.minDelay
                ? await waitUntilResourceRecordSetsChanged({ client: this.client, ...this.inSyncWait, maxWaitTime: seconds }, { Id: id })
                : { state: "TIMEOUT" };
            if (result.state !== "SUCCESS") throw new Error(`Route53 change ${id} for ${names.length} name(s) is not INSYNC: ${result.state}`);
        }
        return new Map(names.flatMap(({ name }) => {
            const error = refused.get(fqdn(name));
            return error === undefined ? [] : [[name, error]];
        }));
    }

    /**
     * Deletes each name's A record where it holds exactly its address: one read
     * covers the names (a DELETE must repeat the record, TTL included), one change
     * deletes them. A record that is gone, points elsewhere, or changes before the
     * delete is not ours any more and is left alone.
     */
    async removeAll(names: NamedAddress[]): Promise<void> {
        const current = await this.current(names.map(({ name }) => name));
        const ours = names.flatMap(({ name, ip }) => {
            const record = current.get(fqdn(name));
            const values = record?.ResourceRecords?.map(r => r.Value) ?? [];
            return record && values.length === 1 && values[0] === ip ? [record] : [];
        });
        await this.apply(ours.map(record => ({ Action: "DELETE", ResourceRecordSet: record })));
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

    /**
     * The A records of `names`, by fully qualified name. Each read starts at the
     * first name not yet seen and settles every name up to the last record it
     * returns, so names that sort together (one template's names do) take one read,
     * and no more reads are made than there are names.
     */
    private async current(names: string[]): Promise<Map<string, ResourceRecordSet>> {
        const found = new Map<string, ResourceRecordSet>();
        let left = [...new Set(names.map(fqdn))].sort((a, b) => (listingKey(a) < listingKey(b) ? -1 : 1));
        while (left.length > 0) {
            const out = await this.client.send(new ListResourceRecordSetsCommand({
                HostedZoneId: this.zoneId,
                StartRecordName: left[0],
                StartRecordType: "A",
                MaxItems: left.length === 1 ? 1 : 300,
            }));
            const records = out.ResourceRecordSets ?? [];
            for (const record of records) {
                const name = fqdn(record.Name ?? "");
                if (record.Type === "A" && left.includes(name)) found.set(name, record);
            }
            const last = records.at(-1);
            left = out.IsTruncated && last ? left.filter(name => listingKey(name) > listingKey(last.Name ?? "")) : [];
        }
        return found;
    }

    /**
     * Submits the changes as one batch. Route53 applies a batch whole or not at
     * all, so a refused batch is split in halves until each change at fault is
     * alone; the rest still go. Returns the ids of the changes made and the
     * refused names with their errors; any error but a refusal throws.
     */
    private async apply(changes: Change[]): Promise<{ changeIds: string[]; refused: Map<string, unknown> }> {
        if (changes.length === 0) return { changeIds: [], refused: new Map() };
        if (changes.length > CHANGES_PER_REQUEST) return this.applyHalves(changes);
        try {
            const out = await this.client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: this.zoneId, ChangeBatch: { Changes: changes } }));
            return { changeIds: [out.ChangeInfo?.Id ?? ""], refused: new Map() };
        } catch (error) {
            if (errorCode(error) !== "InvalidChangeBatch") throw error;
            if (changes.length === 1) return { changeIds: [], refused: new Map([[fqdn(changes[0].ResourceRecordSet?.Name ?? ""), error]]) };
            return this.applyHalves(changes);
        }
    }

    private async applyHalves(changes: Change[]): Promise<{ changeIds: string[]; refused: Map<string, unknown> }> {
        const half = Math.ceil(changes.length / 2);
        const first = await this.apply(changes.slice(0, half));
        const second = await this.apply(changes.slice(half));
        return { changeIds: [...first.changeIds, ...second.changeIds], refused: new Map([...first.refused, ...second.refused]) };
    }
}
