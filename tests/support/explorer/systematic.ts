// Systematic exploration with a preemption bound (iterative context bounding, as in
// CHESS: Musuvathi et al., OSDI 2008). Instead of drawing schedules at random, the
// search replays the scenario from scratch once per schedule and enumerates, depth
// first, every schedule with at most `bound` preemptions; most concurrency bugs
// need no more than two, and for those the bound is a guarantee, not a chance.
//
// An actor is what a step's label names before ": " (`binder#2`, `worker i-…`,
// `queue`, `schedule`…). Some actors have several steps waiting at once (calls of a
// Promise.all, the queue's deliveries, a worker's signal and its next state): of
// those, the one with the lowest label is the actor's own next step. At each
// decision the default is the next step of the actor that made the last step, if it
// has one waiting (free), else the lowest label waiting (free). Any other next step
// of an actor is free only when the last actor has nothing waiting (it finished, or
// waits for nothing the scheduler holds); every other choice, including another of
// the last actor's own waiting steps, preempts once.
//
// Reduction (state caching over happens-before, as CHESS caches states): every
// step reports its footprint (footprint.ts); two schedules that order every pair of
// conflicting steps alike are one Mazurkiewicz trace and reach the same state. The
// search keys each state it reaches by that trace and the actor that made the last
// step, and a run that reaches a key already reached with no more preemptions ends
// there: whatever could follow was, or will be, explored from the first visit, with
// at least the same preemptions to spare. That holds only in a world where steps
// that touch different things commute exactly: the systematic world of run.ts,
// whose clock stands still and whose reads lag by the scenario, not by a shared
// random stream. docs/claim-protocol.md ("Systematic search") says why it is sound.
import { createHash } from "node:crypto";
import { conflicts, describeFootprint, Footprint } from "./footprint";
import type { Plan } from "./plan";
import type { Explorer, RunOptions, RunResult, SystematicWorld } from "./run";
import type { StepScheduler } from "./steps";

export const DEFAULT_BOUND = 2;

/** One release: the steps that could go (the default first), what each costs, and which went. */
export interface Decision {
    options: string[];
    /** 1 for an option that preempts, 0 for a free one. */
    costs: number[];
    chosen: number;
    /** Preemptions made before this decision. */
    preemptionsBefore: number;
}

export function actorOf(label: string): string {
    const colon = label.indexOf(": ");
    return colon < 0 ? label : label.slice(0, colon);
}

const byLabel = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A scheduler driven by a choice sequence: at the n-th release it takes option
 * `choices[n - 1]` (0, the default, past its end). It records every decision, so
 * that the search can branch from it.
 */
export class SystematicScheduler implements StepScheduler {
    readonly decisions: Decision[] = [];
    /** The decision at which the run reached a state explored before, if it did. */
    coveredAt: number | undefined;
    private readonly waiting: { label: string; release: () => void }[] = [];
    private lastActor: string | undefined;
    private preemptions = 0;
    /** The steps taken, each with what it touched. */
    private readonly events: { id: string; footprint: Footprint }[] = [];
    private readonly occurrences = new Map<string, number>();
    /** The trace so far as a multiset hash: its steps, and each ordered pair of conflicting steps. */
    private readonly signature = [0, 0, 0, 0];

    constructor(
        private readonly choices: readonly number[] = [],
        /** The labels the choices took when they were recorded: a replay that meets others is not deterministic. */
        private readonly expected: readonly string[] = [],
        /** States reached so far in the search (trace and last actor), with the fewest preemptions each was reached with. */
        private readonly visited?: Map<string, number>,
    ) {}

    settled(label: string, footprint: Footprint): void {
        const n = (this.occurrences.get(label) ?? 0) + 1;
        this.occurrences.set(label, n);
        const id = `${label} #${n} ${describeFootprint(footprint)}`;
        this.add(id);
        for (const earlier of this.events) if (conflicts(earlier.footprint, footprint)) this.add(`${earlier.id} before ${id}`);
        this.events.push({ id, footprint });
    }

    covered(): boolean {
        if (!this.visited || this.coveredAt !== undefined) return this.coveredAt !== undefined;
        const n = this.decisions.length;
        // The replayed prefix's states were keyed by the runs that chose it.
        if (n < this.choices.length) return false;
        const key = `${this.signature.join(".")}/${this.events.length}/${this.lastActor ?? ""}`;
        const before = this.visited.get(key);
        if (before !== undefined && before <= this.preemptions) {
            this.coveredAt = n;
            return true;
        }
        this.visited.set(key, this.preemptions);
        return false;
    }

    private add(text: string): void {
        const digest = createHash("md5").update(text).digest();
        for (let i = 0; i < 4; i++) this.signature[i] = (this.signature[i] + digest.readUInt32LE(4 * i)) >>> 0;
    }

    schedule(task: Promise<void>, label: string): Promise<void> {
        // Waiting from now on: Steps counts the waiting steps right after scheduling them.
        const picked = new Promise<void>(release => this.waiting.push({ label, release }));
        return Promise.all([task, picked]).then(() => undefined);
    }

    count(): number {
        return this.waiting.length;
    }

    async waitOne(): Promise<void> {
        const labels = [...new Set(this.waiting.map(w => w.label))].sort(byLabel);
        if (labels.length === 0) throw new Error("no step is waiting");
        const lowestOfActor = new Map<string, string>();
        for (const label of labels) if (!lowestOfActor.has(actorOf(label))) lowestOfActor.set(actorOf(label), label);
        const continued = this.lastActor === undefined ? undefined : lowestOfActor.get(this.lastActor);
        const fallback = continued ?? labels[0];
        const options = [fallback, ...labels.filter(l => l !== fallback)];
        const costs = options.map(l => (lowestOfActor.get(actorOf(l)) === l && (continued === undefined || actorOf(l) === this.lastActor) ? 0 : 1));

        const n = this.decisions.length;
        const chosen = this.choices[n] ?? 0;
        if (chosen >= options.length || (this.expected[n] !== undefined && options[chosen] !== this.expected[n])) {
            throw new Error(`the run did not replay: at step ${n + 1} option ${chosen} of [${options.join(" | ")}], expected ${this.expected[n] ?? "an option"}`);
        }
        this.decisions.push({ options, costs, chosen, preemptionsBefore: this.preemptions });
        this.preemptions += costs[chosen];
        const label = options[chosen];
        this.lastActor = actorOf(label);
        const at = this.waiting.findIndex(w => w.label === label);
        this.waiting.splice(at, 1)[0].release();
        await Promise.resolve();
    }

    /** The choices this run made, as `formatChoices` writes them. */
    choiceSequence(): string {
        return formatChoices(this.decisions.map(d => d.chosen));
    }

    preemptionCount(): number {
        return this.preemptions;
    }
}

/** `step=option` for every step that did not take the default, e.g. `7=2,15=1` ("" is the default schedule). */
export function formatChoices(choices: readonly number[]): string {
    return choices.flatMap((c, i) => (c === 0 ? [] : [`${i + 1}=${c}`])).join(",");
}

export function parseChoices(text: string): number[] {
    const choices: number[] = [];
    for (const part of text.split(",").filter(p => p.trim() !== "")) {
        const match = /^\s*(\d+)=(\d+)\s*$/.exec(part);
        if (!match || Number(match[1]) < 1) throw new Error(`a choice is step=option (e.g. 7=2), got "${part}"`);
        const step = Number(match[1]);
        while (choices.length < step) choices.push(0);
        choices[step - 1] = Number(match[2]);
    }
    return choices;
}

/** A schedule's first choices (the default after them), with the labels they took. */
interface Prefix {
    choices: number[];
    labels: string[];
}

export interface SearchOptions {
    bound?: number;
    /** Stop after this many schedules (the enumeration is then incomplete). */
    maxSchedules?: number;
    /** Stop starting new schedules after this long (ms). */
    timeLimitMs?: number;
    /** Stop at the first schedule that breaks an invariant. */
    stopOnViolation?: boolean;
    /** End runs at states explored before (sound only in the systematic world, see above). */
    reduce?: boolean;
}

export interface SearchStats {
    bound: number;
    schedules: number;
    /** Every schedule within the bound was run. */
    complete: boolean;
    ms: number;
    maxSteps: number;
    /** Runs ended early at a state explored before. */
    covered: number;
}

/**
 * Depth-first enumeration of every schedule with at most `bound` preemptions: run
 * the default schedule, then, for every decision past the replayed prefix, every
 * other option the bound allows, each as a new run from scratch. Each schedule is
 * run exactly once: a run's children differ from it first at a decision it took
 * by default.
 */
export async function enumerateSchedules(
    /** Runs one schedule; true if it broke an invariant. */
    run: (scheduler: SystematicScheduler) => Promise<boolean>,
    options: SearchOptions = {},
): Promise<SearchStats> {
    const bound = options.bound ?? DEFAULT_BOUND;
    const started = Date.now();
    const stack: Prefix[] = [{ choices: [], labels: [] }];
    const visited = options.reduce ? new Map<string, number>() : undefined;
    let schedules = 0;
    let maxSteps = 0;
    let covered = 0;
    while (stack.length > 0) {
        if (schedules >= (options.maxSchedules ?? Infinity) || Date.now() - started >= (options.timeLimitMs ?? Infinity)) break;
        const prefix = stack.pop()!;
        const scheduler = new SystematicScheduler(prefix.choices, prefix.labels, visited);
        const broken = await run(scheduler);
        schedules++;
        if (scheduler.coveredAt !== undefined) covered++;
        maxSteps = Math.max(maxSteps, scheduler.decisions.length);
        // Pushed last-first, so that the earliest branch is run next.
        stack.push(...branches(scheduler.decisions.slice(0, scheduler.coveredAt), prefix.choices.length, bound).reverse());
        if (broken && options.stopOnViolation) break;
    }
    return { bound, schedules, complete: stack.length === 0, ms: Date.now() - started, maxSteps, covered };
}

/** The prefixes of a run's children: each decision past the replayed prefix, each other option the bound allows. */
function branches(decisions: readonly Decision[], replayed: number, bound: number): Prefix[] {
    const children: Prefix[] = [];
    for (let i = replayed; i < decisions.length; i++) {
        const { options, costs, preemptionsBefore } = decisions[i];
        for (let j = 1; j < options.length; j++) {
            if (preemptionsBefore + costs[j] > bound) continue;
            children.push({
                choices: [...decisions.slice(0, i).map(d => d.chosen), j],
                labels: [...decisions.slice(0, i).map(d => d.options[d.chosen]), options[j]],
            });
        }
    }
    return children;
}

/**
 * How many schedules the bound admits, without running them all: Knuth's estimate of a
 * tree's size (1 + d1 + d1·d2 + …, the branching met along a random path from the
 * root), averaged over `probes` paths; each probe costs one run per level.
 */
export async function estimateSchedules(run: (scheduler: SystematicScheduler) => Promise<unknown>, bound: number, probes: number, random: () => number): Promise<{ schedules: number; runs: number }> {
    let total = 0;
    let runs = 0;
    for (let p = 0; p < probes; p++) {
        let prefix: Prefix = { choices: [], labels: [] };
        let estimate = 1;
        let weight = 1;
        for (;;) {
            const scheduler = new SystematicScheduler(prefix.choices, prefix.labels);
            await run(scheduler);
            runs++;
            const children = branches(scheduler.decisions, prefix.choices.length, bound);
            if (children.length === 0) break;
            weight *= children.length;
            estimate += weight;
            prefix = children[Math.floor(random() * children.length)];
        }
        total += estimate;
    }
    return { schedules: total / probes, runs };
}

export interface ScenarioReport extends SearchStats {
    /** Per invariant: how many schedules broke it, and the choices that replay the first. */
    violations: Map<string, { schedules: number; choices: string }>;
}

/** Which EC2 readers lag, unless a scenario says: none. */
const NO_LAG: SystematicWorld = { laggingReaders: [] };

/**
 * The search over one explorer scenario, in the systematic world and with the
 * reduction unless told otherwise: every schedule's run is checked as in the random mode.
 */
export async function searchScenario(
    explorer: Explorer, plan: Plan,
    /** `until`: stop at the first schedule that breaks this invariant. */
    options: SearchOptions & { plant?: RunOptions; world?: SystematicWorld; until?: string } = {},
): Promise<ScenarioReport> {
    const violations: ScenarioReport["violations"] = new Map();
    const runOptions: RunOptions = { ...options.plant, systematic: options.world ?? NO_LAG };
    const stats = await enumerateSchedules(async scheduler => {
        const result = await explorer.run(plan, scheduler, runOptions);
        for (const invariant of new Set(result.violations.map(v => v.invariant))) {
            const seen = violations.get(invariant);
            if (seen) seen.schedules++;
            else violations.set(invariant, { schedules: 1, choices: scheduler.choiceSequence() });
        }
        return options.until === undefined ? result.violations.length > 0 : result.violations.some(v => v.invariant === options.until);
    }, { reduce: true, ...options, ...(options.until !== undefined && { stopOnViolation: true }) });
    return { ...stats, violations };
}

/** One schedule, replayed from its choices. */
export async function replaySchedule(explorer: Explorer, plan: Plan, choices: string, plant?: RunOptions, world: SystematicWorld = NO_LAG): Promise<RunResult & { preemptions: number }> {
    const scheduler = new SystematicScheduler(parseChoices(choices));
    const result = await explorer.run(plan, scheduler, { ...plant, systematic: world });
    return { ...result, preemptions: scheduler.preemptionCount() };
}
