// Route53 access for per-binding names, a batch at a time: Route53 allows five
// requests a second for the whole account, and one change or one read serves
// many names. Each name is an A record and, beside it, a TXT record naming the
// instance it is bound to (its owner); the two are written and deleted together.
// Names are pointed at addresses and waited for together; a name is removed only
// while it still says exactly what was read, its owner included.
import {
    Change,
    ChangeResourceRecordSetsCommand,
    ListResourceRecordSetsCommand,
    ListResourceRecordSetsCommandOutput,
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
 * and its API reference once capped a request at 100 changes: 100 fits both (50
 * names, an A and a TXT record each).
 */
const CHANGES_PER_REQUEST = 100;

/** A name and the one address its A record holds. */
export interface NamedAddress {
    name: string;
    ip: string;
}

/** A binding's name: its address, and the instance its TXT record names as its owner. */
export interface BoundName extends NamedAddress {
    instanceId: string;
}

/**
 * A name to remove, and whose it must still be when it goes: the instance its TXT
 * record names, and the address its A record holds (none: it must have no A record).
 * `ownerless`: a record without a TXT record, written before names carried their
 * owner, may go too; only for the address's lock holder, or a name no binding has.
 */
export interface OwnedName {
    name: string;
    ip?: string;
    instanceId?: string;
    ownerless?: boolean;
}

/** What the zone says of one name: the one address its A record holds, and the instance its TXT record names if that is this stack's binder's. */
export interface NameRecord {
    ip?: string;
    owner?: string;
    /** Whether the name has a TXT record at all (the binder's or another's). */
    text: boolean;
}

const HERITAGE = "eip-dns-binder";

/**
 * The TXT value that says whose a name is, as external-dns's TXT registry does:
 * the binder's heritage, its stack, and the instance the name is bound to. One
 * string in double quotes, as Route53 takes a TXT value (`"` and `\` escaped).
 */
export function ownerText(stack: string, instanceId: string): string {
    const text = `heritage=${HERITAGE},${HERITAGE}/owner=${stack},${HERITAGE}/instance=${instanceId}`;
    return `"${text.replace(/["\\]/g, "\\$&")}"`;
}

/** The instance a TXT value names, if it is this stack's binder's (undefined for any other text). */
export function ownerIn(value: string, stack: string): string | undefined {
    const match = /^"((?:[^"\\]|\\.)*)"$/.exec(value);
    if (!match) return undefined;
    const fields = new Map(match[1].replace(/\\(.)/g, "$1").split(",").map(field => {
        const at = field.indexOf("=");
        return [field.slice(0, at), field.slice(at + 1)] as const;
    }));
    if (fields.get("heritage") !== HERITAGE || fields.get(`${HERITAGE}/owner`) !== stack) return undefined;
    return fields.get(`${HERITAGE}/instance`) || undefined;
}

const fqdn = (name: string) => `${name.toLowerCase().replace(/\.$/, "")}.`;

/**
 * Where a name sorts in ListResourceRecordSets: by its labels reversed, trailing
 * dot included, in ASCII order ("com.example.www."), as the Route53 API reference
 * for ListResourceRecordSets describes.
 */
const listingKey = (name: string) => `${fqdn(name).slice(0, -1).split(".").reverse().join(".")}.`;

/** The one value of a record set, if it has exactly one. */
const single = (record?: ResourceRecordSet) => (record?.ResourceRecords?.length === 1 ? record.ResourceRecords[0].Value : undefined);

/** A name's A and TXT record sets, as read. */
interface NameSets {
    a?: ResourceRecordSet;
    txt?: ResourceRecordSet;
}

/** The changes for one name, applied together or not at all. */
type NameChanges = Change[];

const deletion = (record: ResourceRecordSet): Change => ({ Action: "DELETE", ResourceRecordSet: record });

export class Dns {
    constructor(
        private readonly client: Route53Client,
        private readonly zoneId: string,
        private readonly ttl: number,
        /** The stack whose binder this is: the owner every TXT record it writes names. */
        private readonly stack: string,
        /** The INSYNC wait's limit and backoff (seconds); a test world on virtual time shortens the backoff. */
        private readonly inSyncWait: typeof IN_SYNC_WAIT = IN_SYNC_WAIT,
    ) {}

    /**
     * Points each name at its address and names its owner (an UPSERT of its A and
     * its TXT record, in one change, so a repeat is harmless) and waits, up to
     * `maxWaitTime` seconds, until Route53 serves them. Returns the names Route53
     * refused, each with its error: the others are in sync. Any other failure
     * (throttling, the wait running out) throws.
     */
    async pointAll(names: BoundName[], maxWaitTime = this.inSyncWait.maxWaitTime): Promise<Map<string, unknown>> {
        const deadline = Date.now() + maxWaitTime * 1000;
        const { changeIds, refused } = await this.apply(names.map(({ name, ip, instanceId }): NameChanges => [
            { Action: "UPSERT", ResourceRecordSet: { Name: fqdn(name), Type: "A", TTL: this.ttl, ResourceRecords: [{ Value: ip }] } },
            { Action: "UPSERT", ResourceRecordSet: this.ownerRecord(name, instanceId) },
        ]));
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
     * Deletes each name that is still the one described: its TXT record naming
     * `instanceId` and its A record holding `ip`, both deleted in one change exactly
     * as read (a DELETE must repeat the record, TTL included). Route53 applies a
     * change whole or not at all and matches a DELETE exactly, so a name another
     * binding has taken since (its TXT names another instance) makes Route53 refuse
     * the change: it is not ours any more, and is left alone. A record without a TXT
     * record (`ownerless`) is first marked as the remover's by a CREATE of one, which
     * Route53 refuses when a binding has named the address meanwhile, and then goes
     * like any other. One read covers the names; one change (two with ownerless
     * records) deletes them.
     */
    async removeAll(names: OwnedName[]): Promise<void> {
        const current = await this.current(names.map(({ name }) => name));
        const owned: NameChanges[] = [];
        const unmarked: { a: ResourceRecordSet; marker: ResourceRecordSet }[] = [];
        for (const { name, ip, instanceId, ownerless } of names) {
            const { a, txt } = current.get(fqdn(name)) ?? {};
            // An A record that points elsewhere, or that was not expected: the name is not ours any more.
            if (a && (ip === undefined || single(a) !== ip)) continue;
            if (txt) {
                if (instanceId !== undefined && ownerIn(single(txt) ?? "", this.stack) === instanceId) owned.push([...(a ? [deletion(a)] : []), deletion(txt)]);
            } else if (a && ownerless) {
                unmarked.push({ a, marker: this.ownerRecord(name, instanceId ?? "none") });
            }
        }
        const marking = await this.apply(unmarked.map(({ marker }): NameChanges => [{ Action: "CREATE", ResourceRecordSet: marker }]));
        for (const { a, marker } of unmarked) {
            if (!marking.refused.has(fqdn(marker.Name ?? ""))) owned.push([deletion(a), deletion(marker)]);
        }
        await this.apply(owned);
    }

    /** The TXT record naming the instance a name is bound to. */
    private ownerRecord(name: string, instanceId: string): ResourceRecordSet {
        return { Name: fqdn(name), Type: "TXT", TTL: this.ttl, ResourceRecords: [{ Value: ownerText(this.stack, instanceId) }] };
    }

    /**
     * Every name of the zone with an A record that holds one address or a TXT
     * record, by name (lower case, no trailing dot), with the instance its TXT names
     * if it is this stack's: what the reconciler checks bound names against, one paged read.
     */
    async records(): Promise<Map<string, NameRecord>> {
        const found = new Map<string, NameRecord>();
        const entry = (name: string) => found.get(name) ?? found.set(name, { text: false }).get(name)!;
        let start: { StartRecordName?: string; StartRecordType?: RRType } = {};
        for (;;) {
            const out = await this.client.send(new ListResourceRecordSetsCommand({ HostedZoneId: this.zoneId, ...start }));
            for (const record of out.ResourceRecordSets ?? []) {
                const name = fqdn(record.Name ?? "").slice(0, -1);
                const value = single(record);
                if (record.Type === "A" && value !== undefined) entry(name).ip = value;
                if (record.Type === "TXT") Object.assign(entry(name), { text: true, owner: ownerIn(value ?? "", this.stack) });
            }
            if (!out.IsTruncated) return found;
            start = { StartRecordName: out.NextRecordName, StartRecordType: out.NextRecordType };
        }
    }

    /**
     * The A and TXT records of `names`, by fully qualified name. Each read starts at
     * the first name not yet seen and settles every name before the next record it
     * did not return, so names that sort together (one template's names do) take
     * one read, and a name alone takes one read of its first two records.
     */
    private async current(names: string[]): Promise<Map<string, NameSets>> {
        const found = new Map<string, NameSets>();
        let left = [...new Set(names.map(fqdn))].sort((a, b) => (listingKey(a) < listingKey(b) ? -1 : 1));
        let type: RRType = "A";
        while (left.length > 0) {
            const out: ListResourceRecordSetsCommandOutput = await this.client.send(new ListResourceRecordSetsCommand({
                HostedZoneId: this.zoneId,
                StartRecordName: left[0],
                StartRecordType: type,
                MaxItems: left.length === 1 ? 2 : 300,
            }));
            for (const record of out.ResourceRecordSets ?? []) {
                const name = fqdn(record.Name ?? "");
                if ((record.Type === "A" || record.Type === "TXT") && left.includes(name)) {
                    found.set(name, { ...found.get(name), [record.Type === "A" ? "a" : "txt"]: record });
                }
            }
            const next: string | undefined = out.IsTruncated && out.NextRecordName ? fqdn(out.NextRecordName) : undefined;
            left = next ? left.filter(name => listingKey(name) >= listingKey(next)) : [];
            // The next page may go on within a name: from the record type it stopped at.
            type = next !== undefined && left[0] === next ? out.NextRecordType ?? "A" : "A";
        }
        return found;
    }

    /**
     * Submits each name's changes together, as one batch. Route53 applies a batch
     * whole or not at all, so a refused batch is split in halves until each name at
     * fault is alone; the rest still go. Returns the ids of the changes made and the
     * refused names with their errors; any error but a refusal throws.
     */
    private async apply(names: NameChanges[]): Promise<{ changeIds: string[]; refused: Map<string, unknown> }> {
        if (names.length === 0) return { changeIds: [], refused: new Map() };
        if (names.length > 1 && names.flat().length > CHANGES_PER_REQUEST) return this.applyHalves(names);
        try {
            const out = await this.client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: this.zoneId, ChangeBatch: { Changes: names.flat() } }));
            return { changeIds: [out.ChangeInfo?.Id ?? ""], refused: new Map() };
        } catch (error) {
            if (errorCode(error) !== "InvalidChangeBatch") throw error;
            if (names.length === 1) return { changeIds: [], refused: new Map([[fqdn(names[0][0].ResourceRecordSet?.Name ?? ""), error]]) };
            return this.applyHalves(names);
        }
    }

    private async applyHalves(names: NameChanges[]): Promise<{ changeIds: string[]; refused: Map<string, unknown> }> {
        const half = Math.ceil(names.length / 2);
        const first = await this.apply(names.slice(0, half));
        const second = await this.apply(names.slice(half));
        return { changeIds: [...first.changeIds, ...second.changeIds], refused: new Map([...first.refused, ...second.refused]) };
    }
}
