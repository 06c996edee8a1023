// The IAM policy a scheduler's role needs to use this client, and no more: read and
// conditionally update rows of one servers table, query its offers index, and
// (for `serverEvents`) read its stream. No PutItem, DeleteItem or Scan: the client
// never creates or deletes a row. The stack exports it (`schedulerPolicy`).
import { OFFER_INDEX } from "../binder/schema";

export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: { Sid: string; Effect: "Allow"; Action: string[]; Resource: string[] }[];
}

/** The policy for the servers table `serversTableArn` and, when given, its stream. */
export function schedulerPolicy(serversTableArn: string, serversStreamArn?: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "AllocateServers", Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:UpdateItem"], Resource: [serversTableArn] },
            { Sid: "FindOffers", Effect: "Allow", Action: ["dynamodb:Query"], Resource: [`${serversTableArn}/index/${OFFER_INDEX.name}`] },
            ...(serversStreamArn === undefined ? [] : [
                { Sid: "FollowServers", Effect: "Allow" as const, Action: ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"], Resource: [serversStreamArn] },
                // ListStreams names no table: AWS authorizes it on "*" only.
                { Sid: "FindServerStream", Effect: "Allow" as const, Action: ["dynamodb:ListStreams"], Resource: ["*"] },
            ]),
        ],
    };
}
