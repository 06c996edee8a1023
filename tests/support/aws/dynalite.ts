// An in-memory dynalite (DynamoDB look-alike) on a free loopback port.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

type DynaliteFactory = (options: { createTableMs: number; deleteTableMs: number; updateTableMs: number }) => Server;
// dynalite ships no type declarations.
const dynalite: DynaliteFactory = require("dynalite");

export async function startDynalite(): Promise<{ endpoint: string; close(): Promise<void> }> {
    // No `path` option: the store is in memory. Zero delays: tables are ACTIVE at once.
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
