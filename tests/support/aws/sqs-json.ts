// SQS's JSON protocol (AWS JSON 1.0, X-Amz-Target AmazonSQS.<Action>) for the one call the binder makes.
import type { SqsModel, VisibilityEntry } from "./sqs";
import { AwsError, type Reply, type ServiceRequest } from "./wire";

const CONTENT_TYPE = "application/x-amz-json-1.0";

export interface ChangeMessageVisibilityBatchInput {
    QueueUrl: string;
    Entries: VisibilityEntry[];
}

export function sqsRequest(model: SqsModel, target: string, body: string): ServiceRequest {
    const action = target.slice(target.indexOf(".") + 1);
    const input = JSON.parse(body) as ChangeMessageVisibilityBatchInput;
    return {
        service: "sqs",
        action,
        input,
        apply: () => {
            if (action !== "ChangeMessageVisibilityBatch") throw new AwsError("InvalidAction", `The stand-in does not implement ${action}.`);
            return { status: 200, headers: { "content-type": CONTENT_TYPE }, body: JSON.stringify(model.changeVisibilityBatch(input.QueueUrl, input.Entries ?? [])) };
        },
        error: sqsError,
    };
}

function sqsError(error: AwsError): Reply {
    const body = JSON.stringify({ __type: `com.amazonaws.sqs#${error.code}`, message: error.message });
    return { status: error.status, headers: { "content-type": CONTENT_TYPE }, body, errorCode: error.code };
}
