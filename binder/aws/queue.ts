// The binder's event queue, for handing messages back to be delivered again soon.
import { ChangeMessageVisibilityBatchCommand, SQSClient } from "@aws-sdk/client-sqs";

/** A received message to deliver again `delaySeconds` from now. */
export interface Redelivery {
    receiptHandle: string;
    delaySeconds: number;
}

/** A redelivery SQS refused (a stale receipt handle, say): that message waits out its visibility timeout. */
export interface Refused {
    receiptHandle: string;
    code?: string;
    message?: string;
}

/** SQS takes at most ten entries per batch call. */
const ENTRIES_PER_CALL = 10;

/** What the handler needs of its queue: handing messages back early. */
export interface Redeliveries {
    redeliver(messages: Redelivery[]): Promise<Refused[]>;
}

export class EventQueue implements Redeliveries {
    constructor(private readonly sqs: SQSClient, private readonly url: string) {}

    /** Shortens each message's visibility timeout to its delay; returns the ones SQS refused. */
    async redeliver(messages: Redelivery[]): Promise<Refused[]> {
        const refused: Refused[] = [];
        for (let start = 0; start < messages.length; start += ENTRIES_PER_CALL) {
            const chunk = messages.slice(start, start + ENTRIES_PER_CALL);
            const out = await this.sqs.send(new ChangeMessageVisibilityBatchCommand({
                QueueUrl: this.url,
                Entries: chunk.map((m, i) => ({ Id: String(i), ReceiptHandle: m.receiptHandle, VisibilityTimeout: m.delaySeconds })),
            }));
            for (const failure of out.Failed ?? []) {
                refused.push({ receiptHandle: chunk[Number(failure.Id)].receiptHandle, code: failure.Code, message: failure.Message });
            }
        }
        return refused;
    }
}
