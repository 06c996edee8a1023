// What the AWS calls recorded by the stand-ins' gateway ask AWS to authorize, in a
// form the call catalog can be compared with: the action, and for DynamoDB the table
// (servers or claims) and the index, if any, for Route53 changes the change action and record type.
import { AwsCall } from "../aws/gateway";
import { Authorization } from "./simulate";

export interface Tables { servers: string; claims: string }

/** A table's kind, and an index of it by name: `claims/index/waitlist`. */
function kindOf(tables: Tables, resource: string): string {
    const [table, index] = resource.split("/index/");
    const kind = table === tables.servers ? "servers" : table === tables.claims ? "claims" : `other table ${table}`;
    return index === undefined ? kind : `${kind}/index/${index}`;
}

/** A transaction's item types, as the item actions IAM authorizes them as. */
const ITEM_ACTION: Record<string, string> = { ConditionCheck: "ConditionCheckItem", Put: "PutItem", Update: "UpdateItem", Delete: "DeleteItem" };

/** The authorizations one recorded call needs, as signatures. */
export function observedSignatures(call: AwsCall, tables: Tables): string[] {
    const input = call.input as Record<string, any>;
    switch (call.service) {
        case "dynamodb":
            if (call.action === "TransactWriteItems") {
                return (input.TransactItems as Record<string, { TableName: string }>[]).flatMap(item =>
                    Object.entries(item).map(([type, body]) => `dynamodb:${ITEM_ACTION[type]}@${kindOf(tables, body.TableName)}`));
            }
            if (call.action === "BatchGetItem") {
                // Authorized per table it reads.
                return Object.keys(input.RequestItems as Record<string, unknown>).map(table => `dynamodb:BatchGetItem@${kindOf(tables, table)}`);
            }
            return [`dynamodb:${call.action}@${kindOf(tables, input.IndexName ? `${input.TableName}/index/${input.IndexName}` : input.TableName)}`];
        case "route53":
            if (call.action === "ChangeResourceRecordSets") {
                // One request is authorized whole: its actions and its record types, each as a set.
                const changes = input.ChangeBatch.Changes as { Action: string; ResourceRecordSet: { Type: string } }[];
                const set = (values: string[]) => [...new Set(values)].sort().join(",");
                return [`route53:ChangeResourceRecordSets/${set(changes.map(c => c.Action))}/${set(changes.map(c => c.ResourceRecordSet.Type))}`];
            }
            return [`route53:${call.action}`];
        case "sqs":
            // A batch call is authorized as its single-message action.
            return [`sqs:${call.action.replace(/Batch$/, "")}`];
        default:
            return [`${call.service}:${call.action}`];
    }
}

/** The same signature for an authorization of the call catalog. */
export function catalogSignature(request: Authorization, tables: Tables): string {
    if (request.action.startsWith("dynamodb:")) return `${request.action}@${kindOf(tables, request.resource)}`;
    if (request.action === "route53:ChangeResourceRecordSets") {
        const context = request.context ?? {};
        const set = (values: string | string[] | undefined) => [values ?? []].flat().sort().join(",");
        return `${request.action}/${set(context["route53:ChangeResourceRecordSetsActions"])}/${set(context["route53:ChangeResourceRecordSetsRecordTypes"])}`;
    }
    return request.action;
}
