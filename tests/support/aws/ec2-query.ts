// EC2's Query protocol: form-encoded `Action=...&Version=2016-11-15&...` in, EC2-shaped XML out.
// Element names are the `xmlName`s the SDK's XmlShapeDeserializer reads (note `ipAddress` for the public IP).
import { randomUUID } from "node:crypto";
import { isPrimary, type Ec2Model, type Filter, type ModelAddress, type ModelInstance, type Tags } from "./ec2";
import { AwsError, type Reply, type ServiceRequest } from "./wire";
import { xmlDocument, type XmlValue } from "./xml";

const NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/";
const STATE_CODES = { pending: 0, running: 16, "shutting-down": 32, terminated: 48, stopping: 64, stopped: 80 } as const;

/** The flat form map exactly as sent, e.g. { Action: "DescribeAddresses", "Filter.1.Name": "tag:pool", ... }. */
export type Ec2Params = Record<string, string>;

export function ec2Request(model: Ec2Model, body: string): ServiceRequest {
    const input: Ec2Params = Object.fromEntries(new URLSearchParams(body));
    const action = input.Action ?? "";
    return {
        service: "ec2",
        action,
        input,
        apply: () => success(action, perform(model, action, input)),
        error: ec2Error,
    };
}

function ec2Error(error: AwsError): Reply {
    const body = xmlDocument("Response", {
        Errors: { Error: { Code: error.code, Message: error.message } },
        RequestID: randomUUID(),
    });
    return { status: error.status, headers: { "content-type": "text/xml;charset=UTF-8" }, body, errorCode: error.code };
}

function success(action: string, content: Record<string, XmlValue>): Reply {
    const body = xmlDocument(`${action}Response`, { requestId: randomUUID(), ...content }, NAMESPACE);
    return { status: 200, headers: { "content-type": "text/xml;charset=UTF-8" }, body };
}

function perform(model: Ec2Model, action: string, params: Ec2Params): Record<string, XmlValue> {
    switch (action) {
        case "DescribeInstances": {
            const instances = model.describeInstances({ instanceIds: memberList(params, "InstanceId"), filters: filters(params) });
            // An instance's public IPs come from the addresses as this read sees them, which may lag too.
            const byPrivateIp = addressesByPrivateIp(model.describeAddresses({ allocationIds: [], publicIps: [], filters: [] }));
            return { reservationSet: items(instances.map((i) => reservation(model.accountId, i, byPrivateIp))) };
        }
        case "DescribeAddresses": {
            const addresses = model.describeAddresses({
                allocationIds: memberList(params, "AllocationId"),
                publicIps: memberList(params, "PublicIp"),
                filters: filters(params),
            });
            return { addressesSet: items(addresses.map((a) => address(model.accountId, a))) };
        }
        case "DescribeSpotInstanceRequests": {
            const requests = model.describeSpotInstanceRequests({ filters: filters(params) });
            return { spotInstanceRequestSet: items(requests.map(spotRequest)) };
        }
        case "DescribeInstanceStatus": {
            const statuses = model.describeInstanceStatus({ instanceIds: memberList(params, "InstanceId"), includeAllInstances: params.IncludeAllInstances === "true" });
            return { instanceStatusSet: items(statuses.map(instanceStatus)) };
        }
        case "AssociateAddress":
            return {
                associationId: model.associateAddress({
                    allocationId: params.AllocationId,
                    instanceId: params.InstanceId,
                    networkInterfaceId: params.NetworkInterfaceId,
                    privateIpAddress: params.PrivateIpAddress,
                    allowReassociation: params.AllowReassociation === "true",
                }),
            };
        case "DisassociateAddress":
            model.disassociateAddress({ associationId: params.AssociationId, publicIp: params.PublicIp });
            return { return: true };
        default:
            throw new AwsError("InvalidAction", `The action ${action} is not valid for this web service.`);
    }
}

// ---- request decoding: lists are `Name.1`, `Name.2`, ... ----

function memberList(params: Ec2Params, prefix: string): string[] {
    const pattern = new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.(\\d+)$`);
    return Object.entries(params)
        .flatMap(([key, value]) => {
            const match = pattern.exec(key);
            return match ? [{ index: Number(match[1]), value }] : [];
        })
        .sort((a, b) => a.index - b.index)
        .map((entry) => entry.value);
}

function filters(params: Ec2Params): Filter[] {
    return Object.keys(params)
        .flatMap((key) => /^Filter\.(\d+)\.Name$/.exec(key)?.[1] ?? [])
        .sort((a, b) => Number(a) - Number(b))
        .map((n) => ({ name: params[`Filter.${n}.Name`], values: memberList(params, `Filter.${n}.Value`) }));
}

// ---- response shapes ----

const items = (values: XmlValue[]): XmlValue => values.map((item) => ({ item }));

// Real EC2 omits an empty tagSet, so the SDK returns `Tags: undefined` rather than [].
const tagSet = (tags: Tags): XmlValue =>
    Object.keys(tags).length ? items(Object.entries(tags).map(([key, value]) => ({ key, value }))) : undefined;

function addressesByPrivateIp(addresses: ModelAddress[]): Map<string, ModelAddress> {
    return new Map(addresses.flatMap((a) => (a.association ? [[a.association.privateIpAddress, a] as const] : [])));
}

function reservation(accountId: string, instance: ModelInstance, byPrivateIp: Map<string, ModelAddress>): XmlValue {
    // A terminated instance's ENIs are gone: no interfaces and no private IP in the description.
    const enis = instance.state === "terminated" ? [] : instance.networkInterfaces;
    const primary = enis.find(isPrimary);
    const association = (privateIp: string): XmlValue => {
        const eip = byPrivateIp.get(privateIp);
        return eip && { publicIp: eip.publicIp, ipOwnerId: accountId };
    };
    return {
        reservationId: `r-${instance.instanceId.slice(2)}`,
        ownerId: accountId,
        instancesSet: items([
            {
                instanceId: instance.instanceId,
                instanceState: { code: STATE_CODES[instance.state], name: instance.state },
                instanceType: instance.instanceType,
                // Only a Spot Instance carries these (Instance, EC2 API reference).
                instanceLifecycle: instance.spotRequest && "spot",
                spotInstanceRequestId: instance.spotRequest?.spotInstanceRequestId,
                placement: { availabilityZone: instance.availabilityZone, tenancy: "default" },
                launchTime: new Date(instance.launchTime).toISOString(),
                privateIpAddress: primary?.privateIpAddress,
                ipAddress: primary && byPrivateIp.get(primary.privateIpAddress)?.publicIp,
                tagSet: tagSet(instance.tags),
                networkInterfaceSet: items(
                    enis.map((eni) => ({
                        networkInterfaceId: eni.networkInterfaceId,
                        ownerId: accountId,
                        status: "in-use",
                        privateIpAddress: eni.privateIpAddress,
                        attachment: { deviceIndex: eni.deviceIndex, networkCardIndex: eni.networkCardIndex, status: "attached" },
                        association: association(eni.privateIpAddress),
                        privateIpAddressesSet: items([
                            { privateIpAddress: eni.privateIpAddress, primary: true, association: association(eni.privateIpAddress) },
                        ]),
                    })),
                ),
            },
        ]),
    };
}

/** SpotInstanceRequest (EC2 API reference): the request's state follows its status code (EC2 User Guide, Spot request status). */
function spotRequest(request: NonNullable<ModelInstance["spotRequest"]> & { instanceId: string }): XmlValue {
    const closed = /^instance-terminated-/.test(request.statusCode);
    const disabled = /^instance-stopped-/.test(request.statusCode);
    return {
        spotInstanceRequestId: request.spotInstanceRequestId,
        instanceId: request.instanceId,
        state: closed ? "closed" : disabled ? "disabled" : "active",
        status: { code: request.statusCode, updateTime: new Date(request.updateTime).toISOString(), message: `Spot request status ${request.statusCode}` },
        type: "one-time",
        instanceInterruptionBehavior: "terminate",
    };
}

/** InstanceStatus (EC2 API reference): the instance's state and its scheduled events, in `eventsSet`. */
function instanceStatus(instance: ModelInstance): XmlValue {
    return {
        instanceId: instance.instanceId,
        availabilityZone: instance.availabilityZone,
        instanceState: { code: STATE_CODES[instance.state], name: instance.state },
        eventsSet: instance.scheduledEvents.length
            ? items(instance.scheduledEvents.map((e) => ({ instanceEventId: e.instanceEventId, code: e.code, description: e.description, notBefore: new Date(e.notBefore).toISOString() })))
            : undefined,
        systemStatus: { status: "ok", details: items([{ name: "reachability", status: "passed" }]) },
        instanceStatus: { status: "ok", details: items([{ name: "reachability", status: "passed" }]) },
    };
}

function address(accountId: string, a: ModelAddress): XmlValue {
    return {
        publicIp: a.publicIp,
        allocationId: a.allocationId,
        domain: "vpc",
        associationId: a.association?.associationId,
        instanceId: a.association?.instanceId,
        networkInterfaceId: a.association?.networkInterfaceId,
        networkInterfaceOwnerId: a.association && accountId,
        privateIpAddress: a.association?.privateIpAddress,
        tagSet: tagSet(a.tags),
    };
}
