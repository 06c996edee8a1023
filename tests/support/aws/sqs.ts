// An SQS queue as far as the binder touches it: messages it received, whose
// visibility it may change. Deliveries themselves are the test's (World.handle)
// or the bench's (bench/queue.ts) business; this model only judges receipt handles.
import { AwsError } from "./wire";

export interface VisibilityEntry {
    Id: string;
    ReceiptHandle: string;
    VisibilityTimeout: number;
}

export interface BatchResult {
    Successful: { Id: string }[];
    Failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[];
}

/** The event queue's path: account and name. */
export const QUEUE_PATH = "/123456789012/instance-events";

/** SQS's limits on a visibility timeout (12 hours) and on a batch call's entries. */
const MAX_VISIBILITY_SECONDS = 43_200;
const MAX_ENTRIES = 10;

/**
 * The queue's URL is wherever the gateway listens plus QUEUE_PATH, so the SDK,
 * which sends a call to its queue URL's host, stays on the loopback.
 */
export class SqsModel {
    /** Every visibility change applied, in order. */
    readonly changes: { receiptHandle: string; visibilityTimeout: number }[] = [];

    /**
     * Whether a receipt handle still works, and so the change applies: a test sets
     * it to refuse a stale handle; the bench's queue model applies the change here.
     */
    accepts: (receiptHandle: string, visibilityTimeout: number) => boolean = () => true;

    changeVisibilityBatch(queueUrl: string, entries: VisibilityEntry[]): BatchResult {
        if (pathOf(queueUrl) !== QUEUE_PATH) throw new AwsError("QueueDoesNotExist", "The specified queue does not exist.");
        if (entries.length === 0) throw new AwsError("EmptyBatchRequest", "There should be at least one entry in the request.");
        if (entries.length > MAX_ENTRIES) throw new AwsError("TooManyEntriesInBatchRequest", `Maximum number of entries per request are ${MAX_ENTRIES}.`);
        if (new Set(entries.map(e => e.Id)).size !== entries.length) throw new AwsError("BatchEntryIdsNotDistinct", "Id's of entries in the batch must be unique.");
        const result: BatchResult = { Successful: [], Failed: [] };
        for (const { Id, ReceiptHandle, VisibilityTimeout } of entries) {
            const problem = !(Number.isInteger(VisibilityTimeout) && VisibilityTimeout >= 0 && VisibilityTimeout <= MAX_VISIBILITY_SECONDS)
                ? { Code: "InvalidParameterValue", Message: `Value ${VisibilityTimeout} for parameter VisibilityTimeout is invalid.` }
                : !ReceiptHandle || !this.accepts(ReceiptHandle, VisibilityTimeout)
                    ? { Code: "ReceiptHandleIsInvalid", Message: `The receipt handle "${ReceiptHandle}" is not valid.` }
                    : undefined;
            if (problem) {
                result.Failed.push({ Id, SenderFault: true, ...problem });
                continue;
            }
            this.changes.push({ receiptHandle: ReceiptHandle, visibilityTimeout: VisibilityTimeout });
            result.Successful.push({ Id });
        }
        return result;
    }
}

function pathOf(url: string): string | undefined {
    try {
        return new URL(url).pathname;
    } catch {
        return undefined;
    }
}
