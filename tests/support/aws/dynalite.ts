// An in-memory dynalite (DynamoDB look-alike) on a free loopback port.
import { CreateTableCommand, CreateTableCommandInput, DynamoDBClient, waitUntilTableExists } from "@aws-sdk/client-dynamodb";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

type DynaliteFactory = (options: { createTableMs: number; deleteTableMs: number; updateTableMs: number }) => Server;
// dynalite ships no type declarations.
const dynalite: DynaliteFactory = require("dynalite");

export async function startDynalite(): Promise<{ endpoint: string; close(): Promise<void> }> {
    // No `path` option: the store is in memory. Zero delays: tables turn ACTIVE on the next tick.
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return {
        endpoint: `http://127.0.0.1:${port}`,
        close: () =>
            new Promise<void>((resolve, reject) => {
                server.close((err) => (err ? reject(err) : resolve()));
                server.closeAllConnections(); // keep-alive sockets would hold close() open
            }),
    };
}

/**
 * Creates a table and waits until it is ACTIVE. dynalite answers CreateTable with the table
 * still CREATING and marks it ACTIVE a moment later; a write in between is ResourceNotFound.
 */
export async function createTable(client: DynamoDBClient, input: CreateTableCommandInput): Promise<void> {
    await client.send(new CreateTableCommand(input));
    await waitUntilTableExists({ client, maxWaitTime: 10, minDelay: 0.01, maxDelay: 0.1 }, { TableName: input.TableName });
}

let keyedTables = 0;

/** A new table keyed by one string attribute, `pk`, named `<prefix>-<n>`: what the stand-ins' fidelity tests write to. */
export async function createKeyedTable(client: DynamoDBClient, prefix: string): Promise<string> {
    const TableName = `${prefix}-${++keyedTables}`;
    await createTable(client, {
        TableName,
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
    });
    return TableName;
}
