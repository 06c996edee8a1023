// Structured logs: one JSON object per line on stdout, which CloudWatch Logs
// Insights reads field by field. Small on purpose: a logging library would be
// larger than the rest of the Lambda archive.

export type Fields = Record<string, unknown>;
export type Level = "DEBUG" | "INFO" | "WARN" | "ERROR";

export interface Logger {
    info(message: string, fields?: Fields): void;
    warn(message: string, fields?: Fields): void;
    error(message: string, fields?: Fields): void;
    /** A logger that adds `fields` to every line. */
    with(fields: Fields): Logger;
}

/** Plain-object form of an error for a log line; an AWS error says how many attempts the SDK made. */
export function describeError(err: unknown): Fields {
    if (!(err instanceof Error)) return { message: String(err) };
    const attempts = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts;
    return { name: err.name, message: err.message, ...(attempts !== undefined && { attempts }) };
}

export function createLogger(write: (line: string) => void = line => process.stdout.write(`${line}\n`), base: Fields = {}): Logger {
    const emit = (level: Level, message: string, fields: Fields = {}) => {
        const entry: Fields = { timestamp: new Date().toISOString(), level, message, ...base, ...fields };
        if (entry.error !== undefined) entry.error = describeError(entry.error);
        write(JSON.stringify(entry));
    };
    return {
        info: (message, fields) => emit("INFO", message, fields),
        warn: (message, fields) => emit("WARN", message, fields),
        error: (message, fields) => emit("ERROR", message, fields),
        with: fields => createLogger(write, { ...base, ...fields }),
    };
}
