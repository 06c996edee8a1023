// TransactWriteItems, which dynalite lacks, made of dynalite's own conditional
// writes, so that every condition is still judged by a real DynamoDB implementation.
// Atomic because nothing else reaches dynalite meanwhile: the gateway runs every
// DynamoDB request through `exclusive`, one at a time, and a transaction whose
// item fails is rolled back to the images read before it began.
//
// Follows the API reference for TransactWriteItems: all or nothing; no two actions
// on one item (ValidationException); a failed condition cancels the whole call with
// TransactionCanceledException and one CancellationReason per action, in order
// ("None" where nothing went wrong); and a repeat with the same ClientRequestToken
// within 10 minutes of a success succeeds again without writing anything, while
// one still in progress is TransactionInProgressException.
//
// A transaction takes time, as DynamoDB's does ("Amazon DynamoDB Transactions: How
// it works", section "Transaction conflict handling in DynamoDB"): it begins (its
// items are marked as in a transaction), may be held, then commits (conditions
// judged, writes applied, marks gone). While an item is marked, a PutItem,
// UpdateItem or DeleteItem on it fails with TransactionConflictException, and
// another TransactWriteItems that touches it is cancelled with reason
// TransactionConflict at that item's position. Reads are not blocked ("If an
// ongoing TransactWriteItems ... conflicts with a concurrent GetItem request, both
// operations can succeed"; Query and Scan are read-committed). Unheld, a
// transaction begins and commits in one exclusive section, so nothing ever meets
// its marks: the behaviour before transactions took time.
//
// Simplifications: items after the first failed condition are not evaluated and
// report "None", where DynamoDB would report every failing condition; a transaction
// that meets a conflict at begin reports only the conflicts; BatchWriteItem and
// TransactGetItems do not meet the marks (dynalite has no TransactGetItems, and
// the binder batches no writes).
import { AwsError } from "./wire";

type Json = Record<string, unknown>;
type Key = Record<string, unknown>;

/** One DynamoDB call to dynalite: the action's status and parsed body. */
export type DynamoCall = (action: string, input: Json) => Promise<{ status: number; body: Json }>;

/** Awaited between a transaction's begin and its commit, outside the exclusive section. */
export type Hold = () => Promise<void>;

const TOKEN_TTL_MS = 10 * 60 * 1000;
/** DynamoDB's words for an item inside another transaction, in the exception and in a cancellation reason. */
const ONGOING = "Transaction is ongoing for the item";
const PLAIN_WRITES = new Set(["PutItem", "UpdateItem", "DeleteItem"]);

/** A transaction that has begun: its single-item steps, and its token while it is in progress. */
interface Begun {
    steps: Step[];
    token?: string;
}

export class Transactions {
    private tail: Promise<unknown> = Promise.resolve();
    private readonly keySchemas = new Map<string, string[]>();
    private readonly succeeded = new Map<string, number>();
    private readonly inProgress = new Set<string>();
    /** Items inside a transaction that has begun and not yet committed, by `itemId`. */
    private readonly marked = new Set<string>();

    /** Runs `work` once every request before it is done, and before any after it starts. */
    exclusive<T>(work: () => Promise<T>): Promise<T> {
        const run = this.tail.then(work, work);
        this.tail = run.catch(() => undefined);
        return run;
    }

    /**
     * Applies a plain request through `call`, alone. A PutItem, UpdateItem or DeleteItem
     * on an item inside a transaction in flight fails with TransactionConflictException.
     */
    single<T>(call: DynamoCall, action: string, input: Json, forward: () => Promise<T>): Promise<T> {
        return this.exclusive(async () => {
            if (this.marked.size > 0 && PLAIN_WRITES.has(action)) {
                const table = String(input.TableName);
                const key = action === "PutItem" ? await this.keyOf(call, table, input.Item as Json) : (input.Key as Key);
                if (this.marked.has(itemId(table, key))) throw new AwsError("TransactionConflictException", ONGOING);
            }
            return forward();
        });
    }

    /**
     * Applies a TransactWriteItems input through `call`; resolves to the response body, or
     * throws an AwsError. With `hold`, the transaction is in flight while `hold` runs: its
     * items are marked and other requests go on. Without, it begins and commits at once.
     */
    async write(call: DynamoCall, input: Json, hold?: Hold): Promise<Json> {
        if (!hold) {
            return this.exclusive(async () => {
                const begun = await this.begin(call, input);
                return begun ? this.commitAndEnd(call, begun) : {};
            });
        }
        const begun = await this.exclusive(() => this.begin(call, input));
        if (!begun) return {};
        try {
            await hold();
        } catch (err) {
            this.end(begun);
            throw err;
        }
        return this.exclusive(() => this.commitAndEnd(call, begun));
    }

    /** Validates, checks for conflicts and marks the items; undefined for a repeat of a recent success. */
    private async begin(call: DynamoCall, input: Json): Promise<Begun | undefined> {
        const token = typeof input.ClientRequestToken === "string" ? input.ClientRequestToken : undefined;
        const at = token === undefined ? undefined : this.succeeded.get(token);
        if (at !== undefined && Date.now() - at < TOKEN_TTL_MS) return undefined;
        if (token !== undefined && this.inProgress.has(token)) {
            throw new AwsError("TransactionInProgressException", "The transaction with the given request token is already in progress.");
        }
        const actions = (input.TransactItems as Json[] | undefined) ?? [];
        if (actions.length === 0 || actions.length > 100) throw new AwsError("ValidationException", "TransactItems must have between 1 and 100 items");

        const steps = await Promise.all(actions.map(action => this.step(call, action)));
        if (new Set(steps.map(s => s.id)).size !== steps.length) {
            throw new AwsError("ValidationException", "Transaction request cannot include multiple operations on one item");
        }
        if (steps.some(s => this.marked.has(s.id))) {
            throw cancelled(steps.map(s => (this.marked.has(s.id) ? { Code: "TransactionConflict", Message: ONGOING } : { Code: "None" })));
        }
        for (const step of steps) this.marked.add(step.id);
        if (token !== undefined) this.inProgress.add(token);
        return { steps, token };
    }

    /** Judges every condition and applies every write, or none; then the marks go, whatever the outcome. */
    private async commitAndEnd(call: DynamoCall, begun: Begun): Promise<Json> {
        try {
            await this.commit(call, begun.steps);
        } finally {
            this.end(begun);
        }
        if (begun.token !== undefined) this.succeeded.set(begun.token, Date.now());
        return {};
    }

    private async commit(call: DynamoCall, steps: Step[]): Promise<void> {
        const images = await Promise.all(steps.map(s => call("GetItem", { TableName: s.table, Key: s.key, ConsistentRead: true })));
        const done: number[] = [];
        for (const [i, step] of steps.entries()) {
            const image = images[i].body.Item as Json | undefined;
            const reply = await call(step.action, step.request(image));
            if (reply.status >= 300) {
                await this.rollBack(call, steps, images.map(r => r.body.Item as Json | undefined), done);
                const code = String(reply.body.__type ?? "").split("#").pop();
                if (code !== "ConditionalCheckFailedException") throw new AwsError(code ?? "ValidationException", String(reply.body.message ?? reply.body.Message ?? ""));
                throw cancelled(steps.map((_, j) => (j === i ? { Code: "ConditionalCheckFailed", Message: "The conditional request failed" } : { Code: "None" })));
            }
            done.push(i);
            // A condition check that passed on a missing item wrote its key only: take it away again.
            if (step.kind === "ConditionCheck" && !image) await call("DeleteItem", { TableName: step.table, Key: step.key });
        }
    }

    private end(begun: Begun): void {
        for (const step of begun.steps) this.marked.delete(step.id);
        if (begun.token !== undefined) this.inProgress.delete(begun.token);
    }

    private async rollBack(call: DynamoCall, steps: Step[], images: (Json | undefined)[], done: number[]): Promise<void> {
        for (const i of done.reverse()) {
            const { table, key } = steps[i];
            const image = images[i];
            await (image ? call("PutItem", { TableName: table, Item: image }) : call("DeleteItem", { TableName: table, Key: key }));
        }
    }

    /** One action as a single-item request: its table, key, and how to make it (a condition check rewrites the item as it is). */
    private async step(call: DynamoCall, action: Json): Promise<Step> {
        const [kind, body] = Object.entries(action)[0] as [Step["kind"], Json];
        const table = String(body.TableName);
        const condition = Object.fromEntries(Object.entries(body).filter(([k]) => ["ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues"].includes(k)));
        const key = kind === "Put" ? await this.keyOf(call, table, body.Item as Json) : (body.Key as Key);
        const id = itemId(table, key);
        switch (kind) {
            case "Put": return { kind, table, key, id, action: "PutItem", request: () => body };
            case "Delete": return { kind, table, key, id, action: "DeleteItem", request: () => body };
            case "Update": return { kind, table, key, id, action: "UpdateItem", request: () => body };
            case "ConditionCheck": return { kind, table, key, id, action: "PutItem", request: image => ({ TableName: table, Item: image ?? key, ...condition }) };
            default: throw new AwsError("ValidationException", `unknown transaction action ${String(kind)}`);
        }
    }

    private async keyOf(call: DynamoCall, table: string, item: Json): Promise<Key> {
        let names = this.keySchemas.get(table);
        if (!names) {
            const { status, body } = await call("DescribeTable", { TableName: table });
            names = ((body.Table as Json | undefined)?.KeySchema as { AttributeName: string }[] | undefined)?.map(k => k.AttributeName) ?? [];
            // A table that does not exist (yet) is asked again next time.
            if (status < 300) this.keySchemas.set(table, names);
        }
        return Object.fromEntries(names.map(name => [name, item[name]]));
    }
}

/** Table and key, key attributes in name order: one id per item however a request orders its key. */
function itemId(table: string, key: Key): string {
    return `${table} ${JSON.stringify(Object.entries(key).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
}

function cancelled(reasons: { Code: string; Message?: string }[]): AwsError {
    return new AwsError("TransactionCanceledException",
        `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map(r => r.Code).join(", ")}]`, 400, { CancellationReasons: reasons });
}

interface Step {
    kind: "Put" | "Delete" | "Update" | "ConditionCheck";
    table: string;
    key: Key;
    /** `itemId` of table and key. */
    id: string;
    action: string;
    request: (image: Json | undefined) => Json;
}
