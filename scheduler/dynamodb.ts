// The client's one door to AWS: the requests of requests.ts, sent with the AWS SDK's
// DynamoDB client. A condition that does not hold is an answer (false), not an error.
import { DynamoDBClient, GetItemCommand, GetItemCommandInput, QueryCommand, QueryCommandInput, UpdateItemCommand, UpdateItemCommandInput } from "@aws-sdk/client-dynamodb";
import type { GetRequest, QueryRequest, UpdateRequest } from "./requests";
import type { Item } from "./rows";

/** What the client has sent: calls, and conditional writes refused (another got there first, or an index that was behind). */
export interface Calls {
    calls: number;
    refused: number;
}

/** A request of requests.ts as the SDK types it: the same JSON, in the SDK's wider attribute-value type. */
const asSdk = <T>(request: object): T => request as T;

export class ServersTable {
    readonly counts: Calls = { calls: 0, refused: 0 };

    constructor(private readonly client: DynamoDBClient) {}

    async get(request: GetRequest): Promise<Item | undefined> {
        this.counts.calls++;
        return (await this.client.send(new GetItemCommand(asSdk<GetItemCommandInput>(request)))).Item as Item | undefined;
    }

    /** Every page of a query's answer. */
    async query(request: QueryRequest): Promise<Item[]> {
        const items: Item[] = [];
        let ExclusiveStartKey = request.ExclusiveStartKey;
        do {
            this.counts.calls++;
            const out = await this.client.send(new QueryCommand(asSdk<QueryCommandInput>({ ...request, ExclusiveStartKey })));
            items.push(...((out.Items ?? []) as Item[]));
            ExclusiveStartKey = out.LastEvaluatedKey as Item | undefined;
        } while (ExclusiveStartKey);
        return items;
    }

    /** Sends a conditional update; false when its condition did not hold. */
    async update(request: UpdateRequest): Promise<boolean> {
        this.counts.calls++;
        try {
            await this.client.send(new UpdateItemCommand(asSdk<UpdateItemCommandInput>(request)));
            return true;
        } catch (err) {
            if ((err as { name?: string }).name !== "ConditionalCheckFailedException") throw err;
            this.counts.refused++;
            return false;
        }
    }
}

/** The SDK client the scheduler client is built on. */
export type { DynamoDBClient };
