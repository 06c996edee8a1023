// An SDK request handler that hands each request straight to the gateway's
// dispatch, without a socket: the same routing, models, faults and recording as
// over HTTP, and a gate the interleaving explorer holds each call at.
import type { AwsGateway, Service } from "./gateway";

/** The parts of the SDK's HttpRequest this handler reads. */
interface SdkRequest {
    method: string;
    path: string;
    query?: Record<string, string | (string | null)[] | null>;
    headers: Record<string, string>;
    body?: unknown;
}

/** Where a caller holds each call: `enter` before it is applied, `leave` once its reply is back. */
export interface Gate {
    enter(call: { service: Service; action: string; input: unknown }): Promise<void>;
    leave(): void;
}

/** A `requestHandler` for any SDK v3 client whose requests should reach `gateway` in process. */
export function inProcessHandler(gateway: AwsGateway, gate?: Gate) {
    return {
        metadata: { handlerProtocol: "http/1.1" },
        async handle(request: SdkRequest) {
            const query = new URLSearchParams();
            for (const [name, value] of Object.entries(request.query ?? {})) {
                for (const item of [value].flat()) if (item !== null) query.append(name, item);
            }
            const url = request.path + (query.size > 0 ? `?${query}` : "");
            const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]));
            const body = request.body instanceof Uint8Array
                ? Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength)
                : Buffer.from(typeof request.body === "string" ? request.body : "");
            let entered = false;
            const enter: Gate["enter"] = async call => {
                entered = true;
                await gate?.enter(call);
            };
            const reply = await gateway.dispatch({ method: request.method, url, headers, body }, enter).finally(() => { if (entered) gate?.leave(); });
            const replyHeaders = Object.fromEntries(Object.entries(reply.headers).map(([name, value]) => [name.toLowerCase(), String(value)]));
            return { response: { statusCode: reply.status, headers: replyHeaders, body: new Uint8Array(Buffer.from(reply.body)) } };
        },
        updateHttpClientConfig() {},
        httpHandlerConfigs: () => ({}),
        destroy() {},
    };
}
