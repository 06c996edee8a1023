// A boot storm through the node hooks (scenario hooks-200): every worker's user
// data calls POST /bind?wait=55 as docs/node-hooks.md's does (after Retry-After on
// a 503; after 1, 2, 4 … s with jitter on anything else) until it is answered 200.
// Each call is one invocation of the real hook handler (createHookHandler from
// binder/), in an environment of its own: a function URL scales out, so an idle
// environment is reused and a busy one never is, as Lambda does. The event path is
// left out, to measure the hooks alone (deployed, the workers' running events come
// too, before the user data runs). Unlike Lambda, an environment is not frozen after
// it answers: a bind cut off by its caller's wait goes on at once.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { createHookHandler, HookHandler } from "../binder";
import { DnsRecordsMode } from "../binder/config";
import { seeded } from "../tests/support/seeded";
import { callers, hookRequest } from "../tests/support/hooks";
import { ACCOUNT } from "../tests/support/world";
import { audit } from "./audit";
import { BackgroundLoad } from "./buckets";
import { Invocation } from "./lambda";
import { Captured, captureLogs } from "./logs";
import { Figures, figures } from "./metrics";
import { BenchWorld } from "./world";

export interface HookStorm {
    launches: number;
    pool: number;
    dnsRecords: DnsRecordsMode;
    background: BackgroundLoad;
    latencyMs: number;
    seed: number;
}

/** The user data's request, and how long a worker takes to boot to it after the first one (seconds). */
const BIND = "/bind?wait=55";
const BOOT_SPREAD_S = 5;
/** The hook function's timeout (infra/hooks.ts). */
const TIMEOUT_MS = 60_000;
const FUNCTION_ARN = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:hook`;

export async function runHookStorm(storm: HookStorm): Promise<Figures> {
    const world = new BenchWorld({ launches: storm.launches, pool: storm.pool, dnsRecords: storm.dnsRecords, latencyMs: storm.latencyMs, background: storm.background });
    await world.open();
    const random = seeded(storm.seed);
    try {
        // The handler reads its settings and endpoints from the environment at cold start, as in Lambda.
        Object.assign(process.env, world.environment());
        const idle: HookHandler[] = [];
        let coldStarts = 0;
        const invocations: Invocation[] = [];
        const answers: Record<string, number> = {};
        const loop = monitorEventLoopDelay({ resolution: 10 });
        const cpu = process.threadCpuUsage();
        const began = performance.now();
        loop.enable();
        const stopCapture = captureLogs();
        let serial = 0;

        const call = async (event: number, attempt: number): Promise<{ status: number; retryAfter?: number }> => {
            const handler = idle.pop() ?? (coldStarts++, createHookHandler());
            const deadline = Date.now() + TIMEOUT_MS;
            const start = world.clock.now();
            const response = await handler(hookRequest("POST", BIND, callers.instance(world.instanceIds[event])), {
                awsRequestId: `hook-${++serial}`, invokedFunctionArn: FUNCTION_ARN, getRemainingTimeInMillis: () => deadline - Date.now(),
            });
            idle.push(handler);
            const { error } = JSON.parse(response.body) as { error?: string };
            const answer = `${response.statusCode}${error ? ` ${error}` : ""}`;
            answers[answer] = (answers[answer] ?? 0) + 1;
            invocations.push({ event, attempt, container: 0, start, end: world.clock.now(), ok: response.statusCode === 200, ...(error && { error: answer }) });
            return { status: response.statusCode, retryAfter: response.headers["retry-after"] === undefined ? undefined : Number(response.headers["retry-after"]) };
        };
        const sleep = (seconds: number) => new Promise(resolve => setTimeout(resolve, seconds * 1000));
        // One worker's user data: ask until bound, as the documented script does.
        const boot = async (event: number) => {
            await sleep(random() * BOOT_SPREAD_S);
            let delay = 1;
            for (let attempt = 1; ; attempt++) {
                const { status, retryAfter } = await call(event, attempt);
                if (status === 200 || status === 403 || status === 404 || status === 409) return;
                await sleep((retryAfter ?? delay) + Math.floor(random() * (delay + 1)));
                delay = delay < 32 ? delay * 2 : 60;
            }
        };
        let captured: Captured;
        try {
            await Promise.all(world.instanceIds.map((_, event) => boot(event)));
            await quiet(world);
        } finally {
            captured = stopCapture();
            loop.disable();
        }
        const seconds = (performance.now() - began) / 1000;
        const used = process.threadCpuUsage(cpu);
        const result = figures({
            world, invocations, coldStarts, logs: captured.logs, metricDocuments: captured.metricDocuments, audit: await audit(world), faults: "none",
            harness: { seconds, skippedSeconds: 0, cpuShare: (used.user + used.system) / 1e6 / seconds, loopDelayP99Ms: loop.percentile(99) / 1e6 },
        });
        return { ...result, hooks: { answers, calls: invocations.length, environments: coldStarts } };
    } finally {
        await world.close();
    }
}

/** Waits until no AWS call has been made for two seconds: binds cut off by a caller's wait finish in the background. */
async function quiet(world: BenchWorld): Promise<void> {
    for (let seen = -1; seen !== world.gateway.calls.length;) {
        seen = world.gateway.calls.length;
        await new Promise(resolve => setTimeout(resolve, 2_000));
    }
}
