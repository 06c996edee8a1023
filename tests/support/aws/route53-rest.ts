// Route53's REST-XML protocol for the three operations the binder uses.
// Recorded inputs mirror the SDK command inputs (HostedZoneId without the /hostedzone/ prefix, as the SDK sends it).
import { randomUUID } from "node:crypto";
import { XMLParser } from "fast-xml-parser";
import type { ChangeAction, ChangeInfo, RecordSet, Route53Model } from "./route53";
import { AwsError, type Reply, type ServiceRequest } from "./wire";
import { xmlDocument, type XmlValue } from "./xml";

const NAMESPACE = "https://route53.amazonaws.com/doc/2013-04-01/";
const isChangeAction = (action: string): action is ChangeAction => ["CREATE", "DELETE", "UPSERT"].includes(action);

export interface ChangeResourceRecordSetsInput {
    HostedZoneId: string;
    ChangeBatch: {
        Comment?: string;
        Changes: { Action: string; ResourceRecordSet: { Name: string; Type: string; TTL?: number; ResourceRecords?: { Value: string }[] } }[];
    };
}
export interface ListResourceRecordSetsInput { HostedZoneId: string; StartRecordName?: string; StartRecordType?: string; MaxItems?: number }

const parser = new XMLParser({
    parseTagValue: false,
    ignoreAttributes: true,
    isArray: (name) => name === "Change" || name === "ResourceRecord",
});

export function route53Request(model: Route53Model, method: string, url: URL, body: string): ServiceRequest {
    const path = url.pathname;
    const base = { service: "route53" as const, error: route53Error };
    let match = /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset\/?$/.exec(path);
    if (match && method === "POST") {
        const input = changeInput(decodeURIComponent(match[1]), body);
        return { ...base, action: "ChangeResourceRecordSets", input, apply: () => applyChanges(model, input) };
    }
    if (match && method === "GET") {
        const input = listInput(decodeURIComponent(match[1]), url.searchParams);
        return { ...base, action: "ListResourceRecordSets", input, apply: () => list(model, input) };
    }
    match = /^\/2013-04-01\/change\/([^/]+)$/.exec(path);
    if (match && method === "GET") {
        const input = { Id: decodeURIComponent(match[1]) };
        return { ...base, action: "GetChange", input, apply: () => success("GetChangeResponse", changeInfo(model.getChange(input.Id))) };
    }
    const action = `${method} ${path}`;
    return {
        ...base,
        action,
        input: {},
        apply: () => {
            throw new AwsError("InvalidAction", `${action} is not supported by the Route53 stand-in`);
        },
    };
}

function route53Error(error: AwsError): Reply {
    const body = xmlDocument(
        "ErrorResponse",
        { Error: { Type: "Sender", Code: error.code, Message: error.message }, RequestId: randomUUID() },
        NAMESPACE,
    );
    return { status: error.status, headers: { "content-type": "text/xml" }, body, errorCode: error.code };
}

function success(root: string, content: XmlValue): Reply {
    return { status: 200, headers: { "content-type": "text/xml", "x-amzn-requestid": randomUUID() }, body: xmlDocument(root, content, NAMESPACE) };
}

// ---- ChangeResourceRecordSets ----

function changeInput(zoneId: string, body: string): ChangeResourceRecordSetsInput {
    const batch = parser.parse(body)?.ChangeResourceRecordSetsRequest?.ChangeBatch ?? {};
    type RawChange = { Action: string; ResourceRecordSet: { Name: string; Type: string; TTL?: string; ResourceRecords?: { ResourceRecord: { Value: string }[] } } };
    const changes: RawChange[] = batch.Changes?.Change ?? [];
    return {
        HostedZoneId: zoneId,
        ChangeBatch: {
            ...(batch.Comment !== undefined && { Comment: batch.Comment }),
            Changes: changes.map(({ Action, ResourceRecordSet: rrs }) => ({
                Action,
                ResourceRecordSet: {
                    Name: rrs.Name,
                    Type: rrs.Type,
                    ...(rrs.TTL !== undefined && { TTL: Number(rrs.TTL) }),
                    ...(rrs.ResourceRecords && { ResourceRecords: rrs.ResourceRecords.ResourceRecord.map((r) => ({ Value: r.Value })) }),
                },
            })),
        },
    };
}

function applyChanges(model: Route53Model, input: ChangeResourceRecordSetsInput): Reply {
    const changes = input.ChangeBatch.Changes.map(({ Action, ResourceRecordSet: rrs }) => {
        // Alias and traffic-policy records are out of scope: a plain record needs a TTL and values.
        if (!isChangeAction(Action) || rrs.TTL === undefined || !rrs.ResourceRecords?.length) {
            throw new AwsError("InvalidInput", `Invalid request: ${Action} of ${rrs.Name} needs an action, a TTL and ResourceRecords`);
        }
        const record: RecordSet = { name: rrs.Name, type: rrs.Type, ttl: rrs.TTL, values: rrs.ResourceRecords.map((r) => r.Value) };
        return { action: Action, record };
    });
    return success("ChangeResourceRecordSetsResponse", changeInfo(model.changeResourceRecordSets(input.HostedZoneId, changes)));
}

function changeInfo(info: ChangeInfo): XmlValue {
    return { ChangeInfo: { Id: info.id, Status: info.status, SubmittedAt: info.submittedAt.toISOString() } };
}

// ---- ListResourceRecordSets ----

function listInput(zoneId: string, query: URLSearchParams): ListResourceRecordSetsInput {
    const name = query.get("name");
    const type = query.get("type");
    const maxItems = query.get("maxitems");
    return {
        HostedZoneId: zoneId,
        ...(name !== null && { StartRecordName: name }),
        ...(type !== null && { StartRecordType: type }),
        ...(maxItems !== null && { MaxItems: Number(maxItems) }),
    };
}

function list(model: Route53Model, input: ListResourceRecordSetsInput): Reply {
    const page = model.listResourceRecordSets(input.HostedZoneId, {
        name: input.StartRecordName,
        type: input.StartRecordType,
        maxItems: input.MaxItems,
    });
    return success("ListResourceRecordSetsResponse", {
        ResourceRecordSets: page.records.map((r) => ({
            ResourceRecordSet: { Name: r.name, Type: r.type, TTL: r.ttl, ResourceRecords: r.values.map((Value) => ({ ResourceRecord: { Value } })) },
        })),
        IsTruncated: page.next !== undefined,
        NextRecordName: page.next?.name,
        NextRecordType: page.next?.type,
        MaxItems: page.maxItems,
    });
}
