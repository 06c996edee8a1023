// Lambda ends the runtime of an invocation that timed out; in one process the
// bench can only freeze it. Each invocation runs in its own async context, and
// once it is frozen its next HTTP request goes to a local socket that never
// answers, so the abandoned handler stops where a killed one would (a request
// already on the wire still lands, as it may in AWS).
import { AsyncLocalStorage } from "node:async_hooks";
import http from "node:http";
import { AddressInfo, createServer, Server, Socket } from "node:net";

const invocation = new AsyncLocalStorage<{ frozen: boolean }>();

export class Freezer {
    private readonly sockets = new Set<Socket>();
    private hole?: Server;
    private port = 0;
    private restore = () => {};

    /** Opens the black hole and routes frozen invocations' requests into it. */
    async start(): Promise<void> {
        this.hole = createServer(socket => {
            this.sockets.add(socket);
            socket.on("close", () => this.sockets.delete(socket));
        });
        await new Promise<void>(resolve => this.hole!.listen(0, "127.0.0.1", resolve));
        this.port = (this.hole.address() as AddressInfo).port;
        // The SDK's HTTP handler looks http.request up when it makes its first agent, so this must come first.
        const original = http.request;
        const port = this.port;
        const patched = ((...args: unknown[]) => {
            if (invocation.getStore()?.frozen && typeof args[0] === "object" && args[0] !== null && !(args[0] instanceof URL)) {
                args[0] = { ...(args[0] as object), host: "127.0.0.1", hostname: "127.0.0.1", port, agent: false };
            }
            return (original as (...a: unknown[]) => http.ClientRequest)(...args);
        }) as typeof http.request;
        (http as { request: typeof http.request }).request = patched;
        this.restore = () => { (http as { request: typeof http.request }).request = original; };
    }

    /** Runs `body` as one invocation; `freeze` stops its further AWS calls. */
    run<T>(body: () => Promise<T>): { done: Promise<T>; freeze(): void } {
        const state = { frozen: false };
        return { done: invocation.run(state, body), freeze: () => { state.frozen = true; } };
    }

    async stop(): Promise<void> {
        this.restore();
        for (const socket of this.sockets) socket.destroy();
        await new Promise<void>(resolve => (this.hole ? this.hole.close(() => resolve()) : resolve()));
    }
}
