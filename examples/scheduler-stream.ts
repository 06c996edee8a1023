// A scheduler that follows the servers table's stream (the stack output
// `serversStream`) instead of scanning the table: a Lambda function, fed by an
// event source mapping on the stream, that turns each batch of stream records
// into what changed for the scheduler. Wire it up in your own program with:
//
//   new aws.lambda.EventSourceMapping("scheduler-feed", {
//       eventSourceArn: binder.getOutput("serversStream"),
//       functionName: schedulerFunction.name,
//       startingPosition: "LATEST",
//   });
//
// The function's role needs dynamodb:DescribeStream, GetRecords, GetShardIterator
// and ListStreams on the stream (the managed policy
// AWSLambdaDynamoDBExecutionRole grants them).

/** An attribute value in DynamoDB's JSON, as stream records carry it. */
type AttributeValue = { S?: string; BOOL?: boolean };

/** The part of a DynamoDB stream event this example reads (AWS Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB"). */
export interface StreamEvent {
    Records: {
        eventName: "INSERT" | "MODIFY" | "REMOVE";
        dynamodb: { NewImage?: Record<string, AttributeValue>; OldImage?: Record<string, AttributeValue> };
    }[];
}

/** A server as the scheduler places streams on it. */
export interface Server {
    publicIp: string;
    dnsName: string;
    allocated: boolean;
    availabilityZone?: string;
    instanceType?: string;
    nodePool?: string;
    capacityType?: string;
}

/**
 * What a record means to the scheduler. `online`: a worker's row appeared (it was
 * bound, or runs again after a stop). `offline`: its row went (it is stopping or
 * going away): hand it no new streams. `updated`: the same server, rewritten (its
 * `allocated` flag, or a new association after a remap).
 */
export type ServerChange = { change: "online" | "offline" | "updated"; server: Server };

function toServer(image: Record<string, AttributeValue>): Server {
    return {
        publicIp: image.EIP?.S ?? "",
        dnsName: image.DNS_Record?.S ?? "",
        allocated: image.allocated?.BOOL ?? false,
        availabilityZone: image.AvailabilityZone?.S,
        instanceType: image.InstanceType?.S,
        nodePool: image.NodePool?.S,
        capacityType: image.CapacityType?.S,
    };
}

const CHANGES = { INSERT: "online", MODIFY: "updated", REMOVE: "offline" } as const;

export function serverChanges(event: StreamEvent): ServerChange[] {
    return event.Records.flatMap(({ eventName, dynamodb }) => {
        // A REMOVE carries only the row as it was; the others carry the row as it is now.
        const image = eventName === "REMOVE" ? dynamodb.OldImage : dynamodb.NewImage;
        return image ? [{ change: CHANGES[eventName], server: toServer(image) }] : [];
    });
}

/** The Lambda handler: replace the log line with your scheduler's own bookkeeping. */
export async function handler(event: StreamEvent): Promise<void> {
    for (const { change, server } of serverChanges(event)) {
        console.log(JSON.stringify({ change, ...server }));
    }
}
