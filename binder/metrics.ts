// CloudWatch metrics in embedded metric format (EMF): JSON lines on stdout that
// CloudWatch Logs turns into metrics, so publishing needs no IAM permission.
// Written by hand: the format is a dozen lines, while the EMF client library
// probes the EC2 metadata service when it is imported (in tests and in
// `pulumi preview` too) and would add 87 KB to a 10 KB archive.

export const NAMESPACE = "EipDnsBinder";

export const METRIC = {
    binds: "Binds",
    releases: "Releases",
    bindLatency: "BindLatency",
    failures: "Failures",
    poolSize: "PoolSize",
    freeAddresses: "FreeAddresses",
    drift: "Drift",
    drains: "Drains",
    handOvers: "HandOvers",
} as const;

type Unit = "Count" | "Milliseconds";

/** What one invocation reports; `flush` writes it out. */
export interface Metrics {
    bound(latencyMs: number): void;
    released(): void;
    /** A failed event, by reason: an AWS error code, PoolExhaustedError, MalformedEventError... */
    failed(reason: string): void;
    /** A worker drained, by cause: spot-interruption, scheduled-change, operator... */
    drained(cause: string): void;
    /** A worker bound to an address a release had just freed. */
    handedOver(): void;
    pool(size: number, free: number): void;
    drift(count: number): void;
    flush(): void;
}

/** One EMF document: the values, their units, and the dimension sets they are published under. */
export function emfDocument(dimensions: Record<string, string>, dimensionSets: string[][], values: Record<string, [number, Unit]>, now = Date.now()): string {
    const metrics = Object.entries(values).map(([Name, [, Unit]]) => ({ Name, Unit }));
    const fields = Object.fromEntries(Object.entries(values).map(([name, [value]]) => [name, value]));
    return JSON.stringify({
        _aws: { Timestamp: now, CloudWatchMetrics: [{ Namespace: NAMESPACE, Dimensions: dimensionSets, Metrics: metrics }] },
        ...dimensions,
        ...fields,
    });
}

/** Metrics for one invocation, under the dimension Stack (and Stack + Reason for failures). */
export function createMetrics(stack: string, write: (line: string) => void = line => process.stdout.write(`${line}\n`)): Metrics {
    const values: Record<string, [number, Unit]> = {};
    const failures: string[] = [];
    const drains: string[] = [];
    const add = (name: string, value: number, unit: Unit) => {
        values[name] = [(values[name]?.[0] ?? 0) + value, unit];
    };
    return {
        bound: latencyMs => {
            add(METRIC.binds, 1, "Count");
            values[METRIC.bindLatency] = [latencyMs, "Milliseconds"];
        },
        released: () => add(METRIC.releases, 1, "Count"),
        failed: reason => failures.push(reason),
        drained: cause => drains.push(cause),
        handedOver: () => add(METRIC.handOvers, 1, "Count"),
        pool: (size, free) => {
            values[METRIC.poolSize] = [size, "Count"];
            values[METRIC.freeAddresses] = [free, "Count"];
        },
        drift: count => { values[METRIC.drift] = [count, "Count"]; },
        flush() {
            if (Object.keys(values).length > 0) write(emfDocument({ Stack: stack }, [["Stack"]], values));
            for (const reason of failures) {
                write(emfDocument({ Stack: stack, Reason: reason }, [["Stack"], ["Stack", "Reason"]], { [METRIC.failures]: [1, "Count"] }));
            }
            for (const cause of drains) {
                write(emfDocument({ Stack: stack, Cause: cause }, [["Stack"], ["Stack", "Cause"]], { [METRIC.drains]: [1, "Count"] }));
            }
        },
    };
}
