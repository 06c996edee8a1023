// The binder's JSON lines, taken off stdout while a scenario runs (as
// World.useEnvironment does in the tests): log lines are kept for counting,
// embedded-metric documents are counted, and the bench's own output stays readable.

export interface LogLine {
    level: string;
    message: string;
    [field: string]: unknown;
}

export interface Captured {
    logs: LogLine[];
    /** Embedded-metric-format documents (lines with an `_aws` key). */
    metricDocuments: number;
}

function parse(line: string): Record<string, unknown> | undefined {
    try {
        const value: unknown = JSON.parse(line);
        return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
    } catch {
        return undefined;
    }
}

/** Starts capturing; the returned function stops it and hands back what was captured. */
export function captureLogs(): () => Captured {
    const captured: Captured = { logs: [], metricDocuments: 0 };
    let open = true;
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        const entries = chunk.toString().trim().split("\n").map(parse);
        if (entries.some(entry => entry === undefined)) return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
        // A frozen invocation's last line can come after the scenario: drop it.
        if (!open) return true;
        for (const entry of entries as Record<string, unknown>[]) {
            if ("_aws" in entry) captured.metricDocuments++;
            else captured.logs.push(entry as LogLine);
        }
        return true;
    }) as typeof process.stdout.write;
    // The patch stays: stopping only closes the capture.
    return () => {
        open = false;
        return captured;
    };
}
