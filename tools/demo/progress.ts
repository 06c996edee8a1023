// One line per phase of the day: what the binder did in it, counted from its own
// log lines, and how long it took on this machine (the clock skips ahead
// rather than wait when nothing runs: Karpenter's pauses, redelivery delays).
import { performance } from "node:perf_hooks";
import { Clock } from "../../bench/clock";
import { LogLine } from "../../tests/support/world";

export interface PhaseCounts {
    /** Workers given an address, name and row. */
    bound: number;
    /** Of those, bound by a release handing its address over. */
    handedOver: number;
    /** Workers that found the pool exhausted and waited on the waitlist. */
    waited: number;
    /** Workers drained: row withdrawn, address kept. */
    drained: number;
    /** Workers whose address, claim and row were taken back. */
    released: number;
}

export interface Phase extends PhaseCounts {
    name: string;
    seconds: number;
}

const distinct = (ids: unknown[]) => new Set(ids).size;
const pad = (count: number) => String(count).padStart(2);

function countOutcomes(logs: LogLine[]): PhaseCounts {
    const ids = (outcome: string, action?: string) => logs.filter(l => l.outcome === outcome && (action === undefined || l.action === action)).map(l => l.instanceId);
    return {
        bound: distinct(ids("bound", "bind")),
        handedOver: distinct(logs.filter(l => l.outcome === "handed-over").flatMap(l => l.instanceIds as string[])),
        waited: distinct(logs.filter(l => l.outcome === "failed" && (l.error as { name?: string } | undefined)?.name === "PoolExhaustedError").map(l => l.instanceId)),
        drained: distinct(ids("drained")),
        released: distinct(ids("released", "release")),
    };
}

export class Progress {
    readonly phases: Phase[] = [];

    constructor(private readonly logs: LogLine[], private readonly clock: Clock, private readonly say: (line: string) => void) {}

    /** Runs one phase and prints its line: what happened in words, the binder's counts, the time taken. */
    async phase(name: string, what: string, body: () => Promise<unknown>): Promise<Phase> {
        const [seen, began, skipped] = [this.logs.length, performance.now(), this.clock.skippedMs];
        await body();
        const phase = { name, ...countOutcomes(this.logs.slice(seen)), seconds: (performance.now() - began) / 1000 };
        this.phases.push(phase);
        const counts = `bound ${pad(phase.bound)}  waiting ${pad(phase.waited)}  drained ${pad(phase.drained)}  released ${pad(phase.released)}`;
        const skippedSeconds = Math.round((this.clock.skippedMs - skipped) / 1000);
        const notes = [
            ...(phase.handedOver > 0 ? [`${phase.handedOver} bound by a hand-over`] : []),
            ...(skippedSeconds > 0 ? [`${skippedSeconds}s of idle time fast-forwarded`] : []),
        ];
        this.line(name, what, counts, phase.seconds, notes.join(", "));
        return phase;
    }

    /** Prints one phase's line. */
    line(name: string, what: string, detail: string, seconds: number, note = ""): void {
        this.say(`  ${name.padEnd(11)}${what.padEnd(43)} ${detail}  ${seconds.toFixed(1).padStart(4)}s${note ? `  (${note})` : ""}`);
    }
}
