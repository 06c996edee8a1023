// `npm run demo`: a day of Karpenter workers against the real binder, reconciler
// and operator CLI, with no AWS account. It is a local simulation: the dev
// stack's program runs under Pulumi mocks, and EC2, Route53, DynamoDB and the
// event queue are the stand-ins the tests use. It exits non-zero when the world
// it ends with breaks an invariant.
import { performance } from "node:perf_hooks";
import { createEventHandler, createReconcileHandler } from "../binder";
import { Clock } from "../bench/clock";
import { Freezer } from "../bench/freeze";
import { LambdaSim } from "../bench/lambda";
import { Arrival } from "../bench/queue";
import { main } from "../cli/main";
import { InstanceState } from "../tests/support/aws/ec2";
import { awsSignal, stateChange } from "../tests/support/world";
import { checkInvariants } from "./demo/invariants";
import { Phase, Progress } from "./demo/progress";
import { DemoStack, previewStack } from "./demo/stack";
import { DemoWorld } from "./demo/world";

export const DAY = { fleet: 40, streams: 12, replaced: 10, spotWarnings: 5, terminated: 3 };

/** Karpenter's and EC2's timing, as the bench takes it (bench/config.ts): a new worker's old one goes 5 s after it runs; shutting down takes 30 s. */
const DRAIN_GAP_MS = 5_000;
const SHUTDOWN_MS = 30_000;

export interface DemoResult {
    /** Everything the demo printed, line by line. */
    lines: string[];
    phases: Phase[];
    /** `status` as the operator CLI ran it at the end. */
    status: { code: number; stdout: string; stderr: string };
    /** The invariants the final world breaks, in words; none when all hold. */
    broken: string[];
    /** What the world was made from: the stack's output, pool and mapping. */
    stack: DemoStack;
    seconds: number;
    /** No invariant broken, and status ran: what the exit code says. */
    ok: boolean;
}

export async function runDemo(print: (line: string) => void = () => {}): Promise<DemoResult> {
    const began = performance.now();
    const lines: string[] = [];
    const say = (text: string) => text.split("\n").forEach(line => { lines.push(line); print(line); });
    say("eip-dns-binder demo: a LOCAL SIMULATION, not AWS. The dev stack's program runs under Pulumi mocks; EC2, Route53,");
    say("DynamoDB (dynalite) and the event queue are stand-ins on this machine. The binder, the reconciler and the CLI are the real code.");

    // The stack: Pulumi.dev.yaml's program, with a pool the fleet's size, declares the pool, tables and queue the world is made of.
    const overrides = { poolSize: DAY.fleet, addressQuota: DAY.fleet };
    const stack = await previewStack("dev", overrides);
    const { batchSize, maxConcurrency } = stack.mapping;
    say(`stack dev under mocks: Pulumi.dev.yaml with ${Object.entries(overrides).map(([key, value]) => `${key} ${value}`).join(" and ")} for a fleet of ${DAY.fleet}; `
        + `${stack.resources} resources declared, ${stack.addresses.length} pool addresses`);
    say(`event queue: batches of up to ${batchSize} events, up to ${maxConcurrency} binder invocations at once`);

    // Lambda's timeout freezes an invocation (bench/freeze.ts); the world is the stand-ins, set up as the stack says.
    const freezer = new Freezer();
    await freezer.start();
    const world = await DemoWorld.open(stack).catch(async (err: unknown) => {
        await freezer.stop();
        throw err;
    });
    try {
        // Lambda fed by the event queue (bench/lambda.ts, bench/queue.ts): the binder's real handler, made at each cold start.
        const clock = new Clock();
        const lambda = new LambdaSim(clock, createEventHandler, { mode: "queue", ...stack.mapping }, freezer);
        world.sqs.accepts = (receiptHandle, seconds) => lambda.changeVisibility(receiptHandle, seconds);
        const progress = new Progress(world.logs, clock, say);
        /** `at` ms into a phase, EC2 shows each worker in `state`, and EventBridge sends its state-change event to the queue. */
        const enter = (ids: string[], state: InstanceState, at = 0): Arrival[] => ids.map(id => ({
            at,
            send: () => {
                world.ec2.setState(id, state);
                return stateChange(id, state);
            },
        }));

        // Burst: Karpenter launches the whole fleet at once; each running event binds a worker.
        const fleet = world.launch(DAY.fleet);
        /** The next `count` workers of the fleet that no disruption has touched yet. */
        const untouched = [...fleet];
        const next = (count: number) => untouched.splice(0, count);
        await progress.phase("burst", `${DAY.fleet} workers launched at once`, () => lambda.run([], enter(fleet, "running")));

        // Streams: the scheduler's client hands servers out, each by one conditional write on its row's run.
        const scheduler = world.scheduler();
        const scheduleBegan = performance.now();
        let placed = 0;
        for (let i = 0; i < DAY.streams; i++) if (await scheduler.allocate({}, { owner: "demo-scheduler" })) placed++;
        progress.line("schedule", `${DAY.streams} streams placed by the scheduler client`,
            `allocated ${placed}, ${scheduler.counts.refused} conditional write(s) refused`, (performance.now() - scheduleBegan) / 1000);

        // Replacement: each new worker runs before its old one goes, finds the pool exhausted and waits;
        // the old one's release hands its address over.
        const [old, fresh] = [next(DAY.replaced), world.launch(DAY.replaced)];
        await progress.phase("replace", `${DAY.replaced} launched first, then ${DAY.replaced} old terminated`, () => lambda.run([], [
            ...enter(fresh, "running"),
            ...enter(old, "shutting-down", DRAIN_GAP_MS),
            ...enter(old, "terminated", DRAIN_GAP_MS + SHUTDOWN_MS),
        ]));

        // Spot interruption warnings: each worker is drained, its row withdrawn at once, its address kept until it goes.
        const warned = next(DAY.spotWarnings);
        await progress.phase("spot", `${DAY.spotWarnings} Spot interruption warnings`, () => lambda.run(warned.map(id => awsSignal(world.ec2, "spot-interruption", [id]))));

        // Scale-down: Karpenter terminates workers it no longer needs; their addresses go back to the pool.
        const consolidated = next(DAY.terminated);
        await progress.phase("terminate", `${DAY.terminated} workers terminated`, () => lambda.run([], [
            ...enter(consolidated, "shutting-down"),
            ...enter(consolidated, "terminated", SHUTDOWN_MS),
        ]));

        // The scheduled reconciler's run: after a day of events handled, it should find nothing to heal.
        const reconcileBegan = performance.now();
        const reconciliation = await createReconcileHandler()({});
        progress.line("reconcile", "the scheduled reconciler's run",
            `${reconciliation.inspection.drift.length} drift found, ${reconciliation.fixed.length} fixed`, (performance.now() - reconcileBegan) / 1000);

        // The invariants, read from the stand-ins; a message the queue set aside breaks the day too.
        const { broken, running, rows } = await checkInvariants(world, warned);
        const deadLettered = lambda.invocations.filter(i => !i.ok && i.attempt >= stack.mapping.maxReceives).length;
        if (deadLettered > 0) broken.push(`${deadLettered} event(s) failed every delivery and went to the failed-events queue`);
        say(broken.length === 0
            ? `invariants hold: each of the ${running} running workers holds one pool address; ${rows} rows, none for the ${warned.length} draining; `
                + "no claim, lock, drain mark or waiter left over"
            : ["INVARIANTS BROKEN:", ...broken.map(problem => `  ${problem}`)].join("\n"));

        // Status: the operator CLI's own code, given the stack output as `pulumi stack output --json` prints it.
        const status = { code: 0, stdout: "", stderr: "" };
        status.code = await main(["status"], {
            stdin: async () => JSON.stringify(stack.output),
            stdout: text => { status.stdout += text; },
            stderr: text => { status.stderr += text; },
        });
        say(`\neip-dns-binder status (the CLI in-process, given the mocked stack's output):\n\n${status.stdout}${status.stderr}`.trimEnd());
        const seconds = (performance.now() - began) / 1000;
        const ok = broken.length === 0 && status.code === 0;
        say(`\n${ok ? "done" : "FAILED"} in ${seconds.toFixed(1)}s: a local simulation, nothing was sent to AWS`);
        return { lines, phases: progress.phases, status, broken, stack, seconds, ok };
    } finally {
        await world.close();
        await freezer.stop();
    }
}

if (require.main === module) {
    runDemo(line => console.log(line)).then(
        result => { process.exitCode = result.ok ? 0 : 1; },
        (err: unknown) => { console.error(err); process.exitCode = 1; },
    );
}
