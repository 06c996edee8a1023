// How the CLI fails: one line on stderr and an exit code that tells a script
// whether the call was wrong (2) or the work went wrong (1).
import { isNamedError, namedError } from "../binder/errors";

const USAGE_ERROR = "UsageError";

/** A mistake in the command line or its settings: exit code 2. */
export function usageError(message: string): Error {
    return namedError(USAGE_ERROR, message);
}

/** A well-formed command that what AWS shows rules out: exit code 1, and nothing changed. */
export function refusal(message: string): Error {
    return new Error(message);
}

export function exitCodeOf(err: unknown): number {
    return isNamedError(err, USAGE_ERROR) ? 2 : 1;
}

/** The error as one line; AWS errors keep their code, which is what an operator searches for. */
export function describeFailure(err: unknown): string {
    if (!(err instanceof Error)) return String(err);
    const text = err.name === "Error" || err.name === USAGE_ERROR ? err.message : `${err.name}: ${err.message}`;
    return text.replace(/\s*\n\s*/g, "; ");
}
