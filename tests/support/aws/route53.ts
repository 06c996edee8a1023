// In-memory Route53 hosted zone: atomic change batches, exact-match DELETE, a
// CNAME alone at its name (RFC 1034, section 3.6.2), TXT values as quoted strings, change
// propagation (PENDING -> INSYNC, after a number of polls and, if asked, a time on an
// injectable clock) and listing order. Wire format lives in route53-rest.ts.
import { AwsError } from "./wire";

/** name: lower-case FQDN with trailing dot. */
export interface RecordSet { name: string; type: string; ttl: number; values: string[] }
export type ChangeAction = "CREATE" | "DELETE" | "UPSERT";
export interface RecordChange { action: ChangeAction; record: RecordSet }
export type ChangeStatus = "PENDING" | "INSYNC";
export interface ChangeInfo { id: string; status: ChangeStatus; submittedAt: Date }
export interface RecordPage { records: RecordSet[]; maxItems: number; next?: { name: string; type: string } }

function normalizeName(name: string): string {
    const lower = name.toLowerCase();
    return lower.endsWith(".") ? lower : `${lower}.`;
}

const key = (name: string, type: string) => `${normalizeName(name)} ${type}`;
const describe = (r: RecordSet) => `[name='${r.name}', type='${r.type}']`;

/**
 * Route53 order: the name with its labels reversed, trailing dot kept, compared
 * in ASCII ("com.example.www."), then the type. So "x-y.example.com" sorts before
 * "x.example.com", since "-" comes before "." (ListResourceRecordSets, "Sort order").
 */
function compareRecords(a: { name: string; type: string }, b: { name: string; type: string }): number {
    const ka = listingKey(a.name);
    const kb = listingKey(b.name);
    if (ka !== kb) return ka < kb ? -1 : 1;
    return a.type === b.type ? 0 : a.type < b.type ? -1 : 1;
}

const listingKey = (name: string) => `${normalizeName(name).slice(0, -1).split(".").reverse().join(".")}.`;

export class Route53Model {
    readonly zoneId: string;
    readonly zoneName: string;
    /** How many GetChange answers say PENDING before a change reads INSYNC (0 = at once). */
    pollsUntilInSync = 1;
    /**
     * How long after its submission, on `clock`, a change stays PENDING whatever the
     * polls (0 = no wait). Both must be met: a run on virtual time gets a pending window
     * that lasts until its clock moves on, however often the binder polls.
     */
    inSyncAfterMs = 0;
    private recordMap = new Map<string, RecordSet>();
    private readonly changeLog = new Map<string, { submittedAt: Date; polls: number }>();
    private readonly clock: () => number;

    /** `clock` (ms since the epoch, Date.now by default) dates changes and times `inSyncAfterMs`. */
    constructor(zone: { id: string; name: string }, options: { clock?: () => number } = {}) {
        this.zoneId = zone.id;
        this.zoneName = normalizeName(zone.name);
        this.clock = options.clock ?? Date.now;
    }

    // ---- seeding and inspection ----

    records(type?: string): RecordSet[] {
        return structuredClone([...this.recordMap.values()].filter((r) => type === undefined || r.type === type).sort(compareRecords));
    }

    put(record: RecordSet): void {
        const name = normalizeName(record.name);
        this.recordMap.set(key(name, record.type), { ...record, name, values: [...record.values] });
    }

    drop(name: string, type: string): void {
        this.recordMap.delete(key(name, type));
    }

    changes(): { id: string; status: ChangeStatus }[] {
        return [...this.changeLog.entries()].map(([id, change]) => ({ id, status: this.status(change) }));
    }

    // ---- API semantics ----

    changeResourceRecordSets(zoneId: string, changes: RecordChange[]): ChangeInfo {
        this.requireZone(zoneId);
        // Apply in order to a copy (DELETE then CREATE of one name is legal) and commit only if every change fits.
        const next = new Map(this.recordMap);
        const problems: string[] = [];
        for (const { action, record: raw } of changes) {
            const record = { ...raw, name: normalizeName(raw.name), values: [...raw.values] };
            const k = key(record.name, record.type);
            const current = next.get(k);
            const badText = action !== "DELETE" && record.type === "TXT" ? record.values.map(txtProblem).find(p => p !== undefined) : undefined;
            if (record.name !== this.zoneName && !record.name.endsWith(`.${this.zoneName}`)) {
                problems.push(`RRSet with DNS name ${record.name} is not permitted in zone ${this.zoneName}`);
            } else if (badText) {
                problems.push(badText);
            } else if (action === "CREATE" && current) {
                problems.push(`Tried to create resource record set ${describe(record)} but it already exists`);
            } else if (action === "DELETE" && !current) {
                problems.push(`Tried to delete resource record set ${describe(record)} but it was not found`);
            } else if (action === "DELETE" && current && !sameRecord(current, record)) {
                problems.push(`Tried to delete resource record set ${describe(record)} but the values provided do not match the current values`);
            } else if (action === "DELETE") {
                next.delete(k);
            } else if (record.type !== "CNAME" && next.has(key(record.name, "CNAME"))) {
                problems.push(`RRSet of type ${record.type} with DNS name ${record.name} is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone ${this.zoneName}`);
            } else if (record.type === "CNAME" && [...next.values()].some(r => r.name === record.name && r.type !== "CNAME")) {
                problems.push(`RRSet of type CNAME with DNS name ${record.name} is not permitted as it conflicts with other records with the same DNS name in zone ${this.zoneName}`);
            } else {
                next.set(k, record);
            }
        }
        if (problems.length) throw new AwsError("InvalidChangeBatch", `[${problems.join(", ")}]`);
        this.recordMap = next;
        const id = `/change/C${(this.changeLog.size + 1).toString(16).toUpperCase().padStart(13, "0")}`;
        const change = { submittedAt: new Date(this.clock()), polls: 0 };
        this.changeLog.set(id, change);
        return { id, status: "PENDING", submittedAt: change.submittedAt };
    }

    /** Answers with the status as of this poll, then counts the poll. */
    getChange(id: string): ChangeInfo {
        const fullId = id.startsWith("/change/") ? id : `/change/${id}`;
        const change = this.changeLog.get(fullId);
        if (!change) throw new AwsError("NoSuchChange", `A change with the specified change ID does not exist: ${id}`, 404);
        const status = this.status(change);
        change.polls++;
        return { id: fullId, status, submittedAt: change.submittedAt };
    }

    listResourceRecordSets(zoneId: string, start: { name?: string; type?: string; maxItems?: number }): RecordPage {
        this.requireZone(zoneId);
        const maxItems = start.maxItems ?? 300;
        const from = start.name === undefined ? undefined : { name: normalizeName(start.name), type: start.type ?? "" };
        const all = this.records().filter((r) => !from || compareRecords(r, from) >= 0);
        const cut = all[maxItems];
        return { records: all.slice(0, maxItems), maxItems, next: cut && { name: cut.name, type: cut.type } };
    }

    private status(change: { submittedAt: Date; polls: number }): ChangeStatus {
        const propagated = this.clock() - change.submittedAt.getTime() >= this.inSyncAfterMs;
        return change.polls >= this.pollsUntilInSync && propagated ? "INSYNC" : "PENDING";
    }

    private requireZone(zoneId: string): void {
        if (zoneId !== this.zoneId) throw new AwsError("NoSuchHostedZone", `No hosted zone found with ID: ${zoneId}`, 404);
    }
}

/** The longest character string in a TXT value (RFC 1035, section 3.3). */
const TXT_STRING_LIMIT = 255;

/**
 * Why Route53 refuses a TXT value, if it does: a value is one or more strings,
 * each in double quotes, `\"` and `\\` escaped inside, at most 255 characters each
 * (Route53 Developer Guide, "Supported DNS record types", TXT record type). The
 * messages are the ones Route53 answers with.
 */
function txtProblem(value: string): string | undefined {
    const strings = /^\s*(?:"(?:[^"\\]|\\.)*"\s*)+$/.test(value) ? [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(m => m[1].replace(/\\(.)/g, "$1")) : undefined;
    if (!strings) return `Invalid Resource Record: FATAL problem: InvalidCharacterString (Value should be enclosed in quotation marks) encountered with '${value}'`;
    if (strings.some(text => text.length > TXT_STRING_LIMIT)) return `Invalid Resource Record: FATAL problem: CharacterStringTooLong (Value is too long) encountered with '${value}'`;
    return undefined;
}

function sameRecord(a: RecordSet, b: RecordSet): boolean {
    const values = (r: RecordSet) => JSON.stringify([...r.values].sort());
    return a.ttl === b.ttl && values(a) === values(b);
}
