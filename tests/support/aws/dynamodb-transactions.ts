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
// within 10 minutes of a success succeeds again without writing anything.
// One simplification: items after the first failed condition are not evaluated and
// report "None", where DynamoDB would report every failing condition.
import { AwsError } from "./wire";

type Json = Record<string, unknown>;
type Key = Record<string, unknown>;

/** One DynamoDB call to dynalite: the action's status and parsed body. */
export type DynamoCall = (action: string, input: Json) => Promise<{ status: number; body: Json }>;

const TOKEN_TTL_MS = 10 * 60 * 1000;

export class Transactions {
    private tail: Promise<unknown> = Promise.resolve();
    private readonly keySchemas = new Map<string, string[]>();
    private readonly succeeded = new Map<string, number>();

    /** Runs `work` once every request before it is done, and before any after it starts. */
    exclusive<T>(work: () => Promise<T>): Promise<T> {
        const run = this.tail.then(work, work);
        this.tail = run.catch(() => undefined);
        return run;
    }

    /** Applies a TransactWriteItems input through `call`; resolves to the response body, or throws an AwsError. */
    async write(call: DynamoCall, input: Json): Promise<Json> {
        const token = typeof input.ClientRequestToken === "string" ? input.ClientRequestToken : undefined;
        const at = token === undefined ? undefined : this.succeeded.get(token);
        if (at !== undefined && Date.now() - at < TOKEN_TTL_MS) return {};
        const actions = (input.TransactItems as Json[] | undefined) ?? [];
        if (actions.length === 0 || actions.length > 100) throw new AwsError("ValidationException", "TransactItems must have between 1 and 100 items");

        const steps = await Promise.all(actions.map(action => this.step(call, action)));
        const targets = steps.map(s => `${s.table} ${JSON.stringify(s.key)}`);
        if (new Set(targets).size !== targets.length) {
            throw new AwsError("ValidationException", "Transaction request cannot include multiple operations on one item");
        }
        const images = await Promise.all(steps.map(s => call("GetItem", { TableName: s.table, Key: s.key, ConsistentRead: true })));
        const done: number[] = [];
        for (const [i, step] of steps.entries()) {
            const image = images[i].body.Item as Json | undefined;
            const reply = await call(step.action, step.request(image));
            if (reply.status >= 300) {
                await this.rollBack(call, steps, images.map(r => r.body.Item as Json | undefined), done);
                const code = String(reply.body.__type ?? "").split("#").pop();
                if (code !== "ConditionalCheckFailedException") throw new AwsError(code ?? "ValidationException", String(reply.body.message ?? reply.body.Message ?? ""));
                const reasons = steps.map((_, j) => (j === i ? { Code: "ConditionalCheckFailed", Message: "The conditional request failed" } : { Code: "None" }));
                throw new AwsError("TransactionCanceledException",
                    `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map(r => r.Code).join(", ")}]`, 400, { CancellationReasons: reasons });
            }
            done.push(i);
            // A condition check that passed on a missing item wrote its key only: take it away again.
            if (step.kind === "ConditionCheck" && !image) await call("DeleteItem", { TableName: step.table, Key: step.key });
        }
        if (token !== undefined) this.succeeded.set(token, Date.now());
        return {};
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
        switch (kind) {
            case "Put": return { kind, table, key, action: "PutItem", request: () => body };
            case "Delete": return { kind, table, key, action: "DeleteItem", request: () => body };
            case "Update": return { kind, table, key, action: "UpdateItem", request: () => body };
            case "ConditionCheck": return { kind, table, key, action: "PutItem", request: image => ({ TableName: table, Item: image ?? key, ...condition }) };
            default: throw new AwsError("ValidationException", `unknown transaction action ${String(kind)}`);
        }
    }

    private async keyOf(call: DynamoCall, table: string, item: Json): Promise<Key> {
        let names = this.keySchemas.get(table);
        if (!names) {
            const { body } = await call("DescribeTable", { TableName: table });
            names = ((body.Table as Json | undefined)?.KeySchema as { AttributeName: string }[] | undefined)?.map(k => k.AttributeName) ?? [];
            this.keySchemas.set(table, names);
        }
        return Object.fromEntries(names.map(name => [name, item[name]]));
    }
}

interface Step {
    kind: "Put" | "Delete" | "Update" | "ConditionCheck";
    table: string;
    key: Key;
    action: string;
    request: (image: Json | undefined) => Json;
}
