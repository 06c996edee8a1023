// EC2 access for the binder: the instance, the pool, moving addresses, and what
// EC2 says about an instance that a drain signal names.
import {
    AssociateAddressCommand,
    AssociateAddressCommandInput,
    AssociateAddressCommandOutput,
    DescribeAddressesCommand,
    DescribeInstancesCommand,
    DescribeInstanceStatusCommand,
    DescribeSpotInstanceRequestsCommand,
    DisassociateAddressCommand,
    EC2Client,
    Filter,
    Address as SdkAddress,
    Instance as SdkInstance,
    Tag,
} from "@aws-sdk/client-ec2";
import type { FinalizeRequestMiddleware } from "@smithy/types";
import { errorCode } from "./clients";
import { Tags } from "../config";
import { namedError } from "../errors";
import { OWNER_TAG } from "../schema";

/** An association not asked of EC2 because its lock was written too long ago (see Ec2.associate). */
export const TOO_LATE_TO_ASSOCIATE = "TooLateToAssociateError";

/** Where an address is attached: a network interface's private IP. */
export interface Attachment {
    networkInterfaceId: string;
    privateIpAddress: string;
}

export interface Instance {
    instanceId: string;
    state: string;
    tags: Tags;
    /** The primary private IP of the primary interface, device index 0 on network card 0 (not simply the first one listed). */
    primary?: Attachment;
    /** The Elastic IP on the primary private IP, if EC2 shows one (an address of the account's, not one Amazon assigned). */
    elasticIp?: string;
    /** When the instance last started (ISO 8601): a stop and start renews it, so it names the run a row belongs to. */
    launchedAt?: string;
    instanceType?: string;
    availabilityZone?: string;
    /** A Spot Instance (`InstanceLifecycle: spot`); absent for On-Demand. */
    spot?: true;
}

export interface Address {
    allocationId: string;
    publicIp: string;
    /** The stack and pool the address's owner tag names, if it has one. */
    owner?: string;
    tags?: Tags;
    association?: Attachment & { associationId: string; instanceId?: string };
}

const toTags = (tags: Tag[] = []): Tags => Object.fromEntries(tags.map(tag => [tag.Key ?? "", tag.Value ?? ""]));

const tagFilters = (tags: Tags): Filter[] => Object.entries(tags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] }));

function toInstance(found: SdkInstance): Instance {
    // Each network card has its own device 0; the primary interface is the one on card 0 (absent means 0).
    const eni = found.NetworkInterfaces?.find(n => n.Attachment?.DeviceIndex === 0 && (n.Attachment.NetworkCardIndex ?? 0) === 0);
    const primaryIp = eni?.PrivateIpAddresses?.find(ip => ip.Primary);
    const privateIp = primaryIp?.PrivateIpAddress ?? eni?.PrivateIpAddress;
    // An address Amazon assigned at launch is owned by "amazon"; an Elastic IP by the account that allocated it.
    const publicIp = primaryIp?.Association ?? eni?.Association;
    const elastic = publicIp?.PublicIp && publicIp.IpOwnerId !== "amazon" ? publicIp.PublicIp : undefined;
    return {
        instanceId: found.InstanceId ?? "",
        state: found.State?.Name ?? "unknown",
        tags: toTags(found.Tags),
        primary: eni?.NetworkInterfaceId && privateIp ? { networkInterfaceId: eni.NetworkInterfaceId, privateIpAddress: privateIp } : undefined,
        ...(elastic !== undefined && { elasticIp: elastic }),
        launchedAt: found.LaunchTime?.toISOString(),
        instanceType: found.InstanceType,
        availabilityZone: found.Placement?.AvailabilityZone,
        ...(found.InstanceLifecycle === "spot" && { spot: true as const }),
    };
}

/**
 * What EC2 itself says about instances a drain signal names, beyond their state:
 * the two reads that confirm a Spot interruption warning and a scheduled change.
 */
export interface DrainWitness {
    /** Instance id → its Spot request's status code, for the Spot Instances among `ids`. */
    spotRequestStatus(ids: string[]): Promise<Map<string, string>>;
    /** Instance id → the codes of its scheduled events that are not over, for each of `ids` (instances EC2 has just shown). */
    scheduledEvents(ids: string[]): Promise<Map<string, string[]>>;
}

/** DescribeInstanceStatus keeps an event up to a week after it is over, its description then starting so (EC2 API reference, InstanceStatusEvent). */
const OVER = /^\[(Completed|Canceled)\]/;

/** The most instance ids one request names (DescribeInstanceStatus takes up to 100). */
const IDS_PER_REQUEST = 100;

function toAddress(address: SdkAddress): Address {
    const { AllocationId, PublicIp, AssociationId, NetworkInterfaceId, PrivateIpAddress, InstanceId } = address;
    const tags = toTags(address.Tags);
    const owner = tags[OWNER_TAG];
    return {
        allocationId: AllocationId ?? "",
        publicIp: PublicIp ?? "",
        ...(owner !== undefined && { owner }),
        tags,
        association: AssociationId && NetworkInterfaceId && PrivateIpAddress
            ? { associationId: AssociationId, networkInterfaceId: NetworkInterfaceId, privateIpAddress: PrivateIpAddress, instanceId: InstanceId }
            : undefined,
    };
}

/** Whether an address sits on exactly this interface and private IP. */
export function isAttachedTo(address: Address | undefined, target: Attachment): boolean {
    return address?.association?.networkInterfaceId === target.networkInterfaceId
        && address.association.privateIpAddress === target.privateIpAddress;
}

export class Ec2 implements DrainWitness {
    constructor(private readonly client: EC2Client) {}

    /** Instances among `ids` that EC2 still knows (a filter, so unknown ids are simply absent). */
    async instances(ids: string[]): Promise<Instance[]> {
        const found: Instance[] = [];
        for (let i = 0; i < ids.length; i += 100) {
            found.push(...await this.describe([{ Name: "instance-id", Values: ids.slice(i, i + 100) }]));
        }
        return found;
    }

    /** Running instances carrying all of `tags`. */
    async runningTargets(tags: Tags): Promise<Instance[]> {
        return this.describe([{ Name: "instance-state-name", Values: ["running"] }, ...tagFilters(tags)]);
    }

    private async describe(Filters: Filter[]): Promise<Instance[]> {
        const found: Instance[] = [];
        let NextToken: string | undefined;
        do {
            const out = await this.client.send(new DescribeInstancesCommand({ Filters, NextToken }));
            found.push(...(out.Reservations ?? []).flatMap(r => r.Instances ?? []).map(toInstance));
            NextToken = out.NextToken;
        } while (NextToken);
        return found;
    }

    async spotRequestStatus(ids: string[]): Promise<Map<string, string>> {
        const status = new Map<string, string>();
        for (let i = 0; i < ids.length; i += IDS_PER_REQUEST) {
            let NextToken: string | undefined;
            do {
                const out = await this.client.send(new DescribeSpotInstanceRequestsCommand({ Filters: [{ Name: "instance-id", Values: ids.slice(i, i + IDS_PER_REQUEST) }], NextToken }));
                for (const request of out.SpotInstanceRequests ?? []) {
                    if (request.InstanceId && request.Status?.Code) status.set(request.InstanceId, request.Status.Code);
                }
                NextToken = out.NextToken;
            } while (NextToken);
        }
        return status;
    }

    async scheduledEvents(ids: string[]): Promise<Map<string, string[]>> {
        const events = new Map<string, string[]>();
        for (let i = 0; i < ids.length; i += IDS_PER_REQUEST) {
            // Without IncludeAllInstances only running instances are described; a stopped one can have an event too.
            const out = await this.client.send(new DescribeInstanceStatusCommand({ InstanceIds: ids.slice(i, i + IDS_PER_REQUEST), IncludeAllInstances: true }));
            for (const status of out.InstanceStatuses ?? []) {
                const pending = (status.Events ?? []).filter(event => event.Code && !OVER.test(event.Description ?? "")).map(event => event.Code!);
                if (status.InstanceId) events.set(status.InstanceId, pending);
            }
        }
        return events;
    }

    /** Every address carrying all of `tags`, associated or not. */
    async pool(tags: Tags): Promise<Address[]> {
        const out = await this.client.send(new DescribeAddressesCommand({ Filters: tagFilters(tags) }));
        return (out.Addresses ?? []).map(toAddress);
    }

    /** One address by allocation id, or undefined when it has been released from the account. */
    async address(allocationId: string): Promise<Address | undefined> {
        try {
            const out = await this.client.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }));
            return out.Addresses?.[0] && toAddress(out.Addresses[0]);
        } catch (err) {
            if (errorCode(err) === "InvalidAllocationID.NotFound") return undefined;
            throw err;
        }
    }

    /**
     * Associates a free address; returns the association id, or "taken" when the
     * address is already associated (to anything: EC2 checks this atomically).
     * `mayAsk` is asked before each attempt, the SDK's retries included: once it
     * says no, no request leaves (an invocation frozen and thawed later, or one
     * that has held its lock too long, must not replace what another did since).
     */
    async associate(allocationId: string, target: Attachment, mayAsk: () => boolean): Promise<string | "taken"> {
        const command = new AssociateAddressCommand({
            AllocationId: allocationId,
            NetworkInterfaceId: target.networkInterfaceId,
            PrivateIpAddress: target.privateIpAddress,
            AllowReassociation: false,
        });
        const guard: FinalizeRequestMiddleware<AssociateAddressCommandInput, AssociateAddressCommandOutput> = next => async args => {
            if (!mayAsk()) throw namedError(TOO_LATE_TO_ASSOCIATE, `${allocationId} was locked too long ago to be associated now; nothing was asked of EC2`);
            return next(args);
        };
        // Below the retry middleware (finalizeRequest, high priority): it runs before every attempt.
        command.middlewareStack.add(guard, { step: "finalizeRequest", priority: "low", name: "associateOnlyInTime" });
        try {
            const out = await this.client.send(command);
            return out.AssociationId ?? "";
        } catch (err) {
            if (errorCode(err) === "Resource.AlreadyAssociated") return "taken";
            throw err;
        }
    }

    /** Ends one association; an association that is already gone counts as ended. */
    async disassociate(associationId: string): Promise<void> {
        try {
            await this.client.send(new DisassociateAddressCommand({ AssociationId: associationId }));
        } catch (err) {
            if (errorCode(err) !== "InvalidAssociationID.NotFound") throw err;
        }
    }
}
