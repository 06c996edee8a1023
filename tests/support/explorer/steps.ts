// The explorer's scheduler: every AWS call an actor makes, and every move of the
// world around it (a worker changing state, a message delivered, a hand-made
// change), waits at a gate until the scheduler releases it (fast-check's random
// one, or the systematic search's). Between two releases every actor runs until it
// is blocked at a gate again or has finished, so the order of calls is exactly the
// scheduler's choice: a seed, or a choice sequence, replays it. Each step also
// records what it touched (its footprint), for the systematic search's reduction.
import { emptyFootprint, EVERYTHING, Footprint } from "./footprint";

/** What `Steps` needs of a scheduler: fast-check's `Scheduler` and `SystematicScheduler` both are one. */
export interface StepScheduler {
    /** Holds a step until the scheduler picks it. */
    schedule(task: Promise<void>, label: string): Promise<void>;
    /** Steps waiting to be picked. */
    count(): number;
    /** Picks one waiting step and lets it go. */
    waitOne(): Promise<void>;
    /** The step it let go last has settled, and touched this. */
    settled?(label: string, footprint: Footprint): void;
    /** The run has reached a state the search has explored before: it may end here. */
    covered?(): boolean;
}

/** One line of a run's trace: who did what, and (filled in later) how it ended. */
export interface TraceEntry {
    step: number;
    actor: string;
    what: string;
    /** The call's input object, to find its recorded outcome by identity. */
    input?: unknown;
    result?: string;
}

interface Actor {
    /** Calls waiting at the gate (a Promise.all can hold several). */
    waiting: number;
    done: boolean;
    /** Its time is up (a Lambda timeout): released calls are dropped, and it never moves again. */
    expired: () => boolean;
    onExpiry: () => void;
    /** Frozen (a Lambda environment between invocations): released calls wait here until it thaws. */
    frozen: boolean;
    killed: boolean;
    parked: { label: string; release: () => void }[];
}

/** How an actor's life may end early: when `expired` says so at a release, `onExpiry` runs and it is cut off. */
export interface Lifetime {
    expired: () => boolean;
    onExpiry: () => void;
}

/** How long an actor may stay busy without reaching a gate: only a bug takes this long. */
const BUSY_LIMIT_MS = 20_000;

export class Steps {
    readonly trace: TraceEntry[] = [];
    private readonly actors = new Map<string, Actor>();
    private released = 0;
    /** Released calls whose reply has not reached their actor yet. */
    private inFlight = 0;
    private readonly arrivals: { label: string; release: () => void }[] = [];
    /** The last step released, and what it has touched so far. */
    private current?: { label: string; footprint: Footprint };
    /** The scheduler ended the run early (see `StepScheduler.covered`). */
    stopped = false;

    constructor(
        private readonly scheduler: StepScheduler,
        /** Runs when a step is released, before it proceeds: advances the clock, arms faults. */
        private readonly onRelease: (step: number, entry: TraceEntry) => void = () => {},
    ) {}

    /** Starts an actor; its failures are the caller's to report through `body`. */
    spawn(name: string, body: () => Promise<void>, lifetime?: Lifetime): void {
        if (this.actors.has(name)) throw new Error(`actor ${name} already exists`);
        const actor: Actor = { waiting: 0, done: false, expired: lifetime?.expired ?? (() => false), onExpiry: lifetime?.onExpiry ?? (() => {}), frozen: false, killed: false, parked: [] };
        this.actors.set(name, actor);
        // Starting an actor orders it after the step that started it.
        this.touch(`actor:${name}`, true);
        void body().finally(() => { actor.done = true; });
    }

    /** Holds an actor's next call until the scheduler releases it. */
    async gate(actorName: string, what: string, input?: unknown): Promise<void> {
        const actor = this.actors.get(actorName);
        if (!actor) throw new Error(`unknown actor ${actorName}`);
        actor.waiting++;
        const label = `${actorName}: ${what}`;
        await new Promise<void>(release => {
            const go = () => {
                // Released but not taken (cut off, or parked while frozen): a step of the world all the same.
                this.current = { label: `${label} (not taken)`, footprint: { reads: new Set(), writes: new Set([EVERYTHING]) } };
                if (actor.killed) return;
                if (actor.expired()) {
                    // Lambda ends an invocation at its timeout: whatever it was about to do never happens.
                    this.record(actorName, `${what} — cut off: the invocation timed out`, undefined, EVERYTHING);
                    actor.done = actor.killed = true;
                    actor.onExpiry();
                    return;
                }
                if (actor.frozen) {
                    actor.parked.push({ label, release: go });
                    return;
                }
                actor.waiting--;
                this.inFlight++;
                this.record(actorName, what, input);
                release();
            };
            this.arrive(label, go);
        });
    }

    /**
     * Holds the call in flight (the last one released: one call is in flight at a
     * time) at a second step of its own, `what`, as a DynamoDB transaction stays open
     * between its begin and its commit. AWS finishes it even if its caller is cut off.
     */
    async hold(what: string): Promise<void> {
        const last = this.trace[this.trace.length - 1];
        const actor = last && this.actors.get(last.actor);
        if (!actor) return;
        this.inFlight--;
        actor.waiting++;
        await new Promise<void>(release => this.arrive(`${last.actor}: ${what}`, () => {
            actor.waiting--;
            this.inFlight++;
            // The commit's items are not known here: it may touch anything.
            this.record(last.actor, what, undefined, EVERYTHING);
            release();
        }));
    }

    /** Freezes an actor: its calls released from now on wait until `thaw`. */
    freeze(actorName: string): void {
        const actor = this.actors.get(actorName);
        if (actor) actor.frozen = true;
    }

    /** Thaws a frozen actor: its parked calls arrive at the gate again. */
    thaw(actorName: string): void {
        const actor = this.actors.get(actorName);
        if (!actor) return;
        actor.frozen = false;
        for (const { label, release } of actor.parked.splice(0)) this.arrive(label, release);
    }

    /** A released call's reply is back with its actor. */
    landed(): void {
        this.inFlight--;
    }

    /** A move of the world, taken when the scheduler releases it. */
    later(who: string, what: string, move: () => void): void {
        // The move is ordered after the step that planned it.
        this.touch(`actor:${who}`, true);
        this.arrive(`${who}: ${what}`, () => {
            this.record(who, what);
            move();
        });
    }

    /**
     * Releases steps one at a time, each once every actor is blocked or done, until
     * none is left; `afterStep` looks at the world while nothing moves.
     */
    async run(afterStep: () => Promise<void> = async () => {}): Promise<void> {
        for (;;) {
            await this.settled();
            this.schedule();
            if (this.released > 0) await afterStep();
            if (this.current) this.scheduler.settled?.(this.current.label, this.current.footprint);
            if (this.scheduler.count() === 0) return;
            if (this.scheduler.covered?.()) {
                this.stopped = true;
                return;
            }
            await this.scheduler.waitOne();
        }
    }

    /** The step being taken touches `resource` (see footprint.ts). */
    touch(resource: string, write: boolean): void {
        if (this.current) (write ? this.current.footprint.writes : this.current.footprint.reads).add(resource);
    }

    /** Actors started in this run. */
    actorCount(): number {
        return this.actors.size;
    }

    /**
     * Steps that arrived since the last release wait here until every actor has
     * settled, and are then handed to the scheduler sorted by label: the order in
     * which concurrent calls reach the gate depends on real I/O (an SDK client's
     * first call reads its configuration), the sorted order does not.
     */
    private arrive(label: string, release: () => void): void {
        this.arrivals.push({ label, release });
    }

    private schedule(): void {
        const arrivals = this.arrivals.splice(0).sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
        for (const { label, release } of arrivals) void this.scheduler.schedule(Promise.resolve(), label).then(release);
    }

    private record(actor: string, what: string, input?: unknown, writes?: string): void {
        // An actor's steps keep their order: each writes the actor.
        this.current = { label: `${actor}: ${what}`, footprint: emptyFootprint() };
        this.current.footprint.writes.add(`actor:${actor}`);
        if (writes) this.current.footprint.writes.add(writes);
        const entry: TraceEntry = { step: ++this.released, actor, what, input };
        this.trace.push(entry);
        this.onRelease(entry.step, entry);
    }

    private async settled(): Promise<void> {
        const started = Date.now();
        // Busy: a released call not answered yet, or an actor running toward its next call.
        const busy = () => [
            ...(this.inFlight > 0 ? [`${this.inFlight} call(s) in flight`] : []),
            ...[...this.actors].filter(([, a]) => !a.done && a.waiting === 0).map(([name]) => name),
        ];
        // Yield first: a released move runs in a microtask and may start an actor.
        for (;;) {
            await new Promise(resolve => setImmediate(resolve));
            const names = busy();
            if (names.length === 0) return;
            if (Date.now() - started > BUSY_LIMIT_MS) throw new Error(`actors never reached a gate: ${names.join(", ")}`);
        }
    }
}
