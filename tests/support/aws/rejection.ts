// What a call that must fail rejects with, as an AWS SDK v3 error.

/** An AWS SDK v3 error: its code is its name; a transaction's cancellation carries its reasons. */
export interface SdkError extends Error {
    $metadata: { httpStatusCode?: number; attempts?: number };
    CancellationReasons?: { Code?: string; Message?: string }[];
}

/** The error a call rejects with; fails the test if the call succeeds. */
export async function rejection(promise: Promise<unknown>): Promise<SdkError> {
    try {
        await promise;
    } catch (err) {
        return err as SdkError;
    }
    throw new Error("expected the call to fail");
}
