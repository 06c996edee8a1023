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

/** Errors whose message says it all, without their name in front. */
const SELF_EXPLAINED = ["Error", USAGE_ERROR, "EndpointUnreachable"];

/** What the SDK's default chain says when it finds no credentials at all. */
const NO_CREDENTIALS = "CredentialsProviderError";

/** The error as one line; AWS errors keep their code, which is what an operator searches for. */
export function describeFailure(err: unknown): string {
    if (!(err instanceof Error)) return String(err);
    if (err.name === NO_CREDENTIALS) {
        return `no AWS credentials: the SDK's default chain found none (${err.message}); set AWS_PROFILE, log in with aws sso login, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`;
    }
    const text = SELF_EXPLAINED.includes(err.name) ? err.message : `${err.name}: ${err.message}`;
    return text.replace(/\s*\n\s*/g, "; ");
}
