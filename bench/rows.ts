// When each server row appeared and went, as the scheduler would see it: every
// DynamoDB write the gateway answered on the servers table, timed by the bench's
// clock when its answer left. Read from the writes themselves (the row's key and
// the InstanceId they put), not from the binder's logs, and whichever code path
// made them: a bind's publish, a drain's withdrawal, a release's unbind.
import { SERVER_KEY } from "../binder/schema";
import { AwsGateway, Service } from "../tests/support/aws/gateway";
import { Clock } from "./clock";

export interface RowChange {
    /** Bench-clock ms when the write was answered. */
    at: number;
    instanceId: string;
    change: "published" | "removed";
}

type Value = { S?: string };
type Item = Record<string, Value | undefined>;
/** One write to a table, as DynamoDB's JSON protocol carries it (a TransactWriteItems holds several). */
interface Write {
    TableName?: string;
    Key?: Item;
    Item?: Item;
    ExpressionAttributeValues?: Item;
}

export class RowWatch {
    readonly changes: RowChange[] = [];
    /** The instance each row (by key) belongs to now. */
    private readonly holders = new Map<string, string>();

    constructor(private readonly table: string, private readonly clock: Clock) {}

    /** Starts watching the gateway's answers; only successful writes count (a refused condition changed nothing). */
    attach(gateway: AwsGateway): void {
        const dispatch = gateway.dispatch.bind(gateway);
        gateway.dispatch = async (raw, gate) => {
            let call: { service: Service; action: string; input: unknown } | undefined;
            const reply = await dispatch(raw, async request => {
                call = request;
                await gate?.(request);
            });
            if (call?.service === "dynamodb" && reply.status < 300) this.observe(call.action, call.input as Record<string, unknown>);
            return reply;
        };
    }

    /** When `instanceId`'s row was first published at or after `since`; undefined if it never was. */
    publishedAt(instanceId: string, since = 0): number | undefined {
        return this.changes.find(c => c.instanceId === instanceId && c.change === "published" && c.at >= since)?.at;
    }

    /** When `instanceId`'s row was first removed at or after `since`. */
    removedAt(instanceId: string, since = 0): number | undefined {
        return this.changes.find(c => c.instanceId === instanceId && c.change === "removed" && c.at >= since)?.at;
    }

    private observe(action: string, input: Record<string, unknown>): void {
        const writes: { kind: string; write: Write }[] = action === "TransactWriteItems"
            ? ((input.TransactItems ?? []) as Record<string, Write>[]).flatMap(item => Object.entries(item).map(([kind, write]) => ({ kind, write })))
            : [{ kind: action.replace(/Item$/, ""), write: input as Write }];
        for (const { kind, write } of writes) {
            if (write.TableName !== this.table) continue;
            if (kind === "Delete") this.remove(keyOf(write.Key));
            // The binder names the row's instance in the item (Put) or as the :InstanceId value (Update).
            const instanceId = kind === "Put" ? write.Item?.InstanceId?.S : kind === "Update" ? write.ExpressionAttributeValues?.[":InstanceId"]?.S : undefined;
            if (instanceId) this.put(keyOf(kind === "Put" ? write.Item : write.Key), instanceId);
        }
    }

    private put(key: string, instanceId: string): void {
        const holder = this.holders.get(key);
        if (holder === instanceId) return;
        if (holder !== undefined) this.changes.push({ at: this.clock.now(), instanceId: holder, change: "removed" });
        this.holders.set(key, instanceId);
        this.changes.push({ at: this.clock.now(), instanceId, change: "published" });
    }

    private remove(key: string): void {
        const holder = this.holders.get(key);
        if (holder === undefined) return;
        this.holders.delete(key);
        this.changes.push({ at: this.clock.now(), instanceId: holder, change: "removed" });
    }
}

/** A row's key (address and name) as one string. */
function keyOf(item: Item | undefined): string {
    return `${item?.[SERVER_KEY.partition]?.S ?? ""} ${item?.[SERVER_KEY.sort]?.S ?? ""}`;
}
