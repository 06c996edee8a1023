// In-memory EC2 of one account/region: instances, their ENIs and Elastic IPs,
// with the association rules of the real API. Wire format lives in ec2-query.ts.
import { AwsError } from "./wire";

export type Tags = Record<string, string>;
export type InstanceState = "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated";
export interface ModelInterface { networkInterfaceId: string; deviceIndex: number; privateIpAddress: string }
export interface ModelInstance { instanceId: string; state: InstanceState; tags: Tags; networkInterfaces: ModelInterface[] }
export interface ModelAssociation { associationId: string; instanceId: string; networkInterfaceId: string; privateIpAddress: string }
export interface ModelAddress { allocationId: string; publicIp: string; tags: Tags; association?: ModelAssociation }

export interface Filter { name: string; values: string[] }
export interface AssociateRequest {
    allocationId?: string;
    instanceId?: string;
    networkInterfaceId?: string;
    privateIpAddress?: string;
    allowReassociation: boolean;
}

// Documentation ranges first (TEST-NET-2, TEST-NET-3, TEST-NET-1), then the 198.18.0.0/15 benchmark range.
const PUBLIC_BLOCKS = ["198.51.100", "203.0.113", "192.0.2"];
const publicBlock = (b: number) =>
    PUBLIC_BLOCKS[b] ?? `198.${18 + ((b - PUBLIC_BLOCKS.length) >> 8)}.${(b - PUBLIC_BLOCKS.length) & 255}`;

// Multiplying by an odd constant is a bijection modulo 2^68, so ids are unique yet look random.
const ID_SPACE = 1n << 68n;
const hex17 = (n: number) => ((BigInt(n) * 0x9e3779b97f4a7c15n) % ID_SPACE).toString(16).padStart(17, "0");

export class Ec2Model {
    readonly accountId: string;
    private readonly instanceMap = new Map<string, ModelInstance>();
    private readonly addressMap = new Map<string, ModelAddress>();
    private idSeq = 0;
    private privateIpSeq = 0;
    private publicIpSeq = 0;

    constructor(options: { accountId?: string } = {}) {
        this.accountId = options.accountId ?? "123456789012";
    }

    // ---- seeding and inspection (tests and invariant checks) ----

    addInstance(options: { tags?: Tags; state?: InstanceState; instanceId?: string; secondaryInterfaceFirst?: boolean } = {}): ModelInstance {
        const instanceId = options.instanceId ?? this.newId("i-");
        if (this.instanceMap.has(instanceId)) throw new Error(`instance ${instanceId} already exists`);
        const networkInterfaces = [this.newInterface(0)];
        if (options.secondaryInterfaceFirst) networkInterfaces.unshift(this.newInterface(1));
        const instance: ModelInstance = { instanceId, state: options.state ?? "running", tags: { ...options.tags }, networkInterfaces };
        this.instanceMap.set(instanceId, instance);
        return structuredClone(instance);
    }

    addAddress(options: { tags?: Tags; publicIp?: string } = {}): ModelAddress {
        const publicIp = options.publicIp ?? this.newPublicIp();
        if (this.addressByIp(publicIp)) throw new Error(`public IP ${publicIp} already allocated`);
        const address: ModelAddress = { allocationId: this.newId("eipalloc-"), publicIp, tags: { ...options.tags } };
        this.addressMap.set(address.allocationId, address);
        return structuredClone(address);
    }

    setState(instanceId: string, state: InstanceState): void {
        const instance = this.instanceMap.get(instanceId);
        if (!instance) throw new Error(`no instance ${instanceId}`);
        instance.state = state;
        // Termination deletes the ENIs, which releases every Elastic IP that sat on them.
        if (state === "terminated") {
            for (const address of this.addressMap.values()) {
                if (address.association?.instanceId === instanceId) delete address.association;
            }
        }
    }

    /** What an operator retagging an instance does. */
    setTags(instanceId: string, tags: Tags): void {
        const instance = this.instanceMap.get(instanceId);
        if (!instance) throw new Error(`no instance ${instanceId}`);
        instance.tags = { ...tags };
    }

    /** What an operator clicking "Associate" in the console does: reassociate onto the primary ENI. */
    associateOutOfBand(allocationId: string, instanceId: string): ModelAssociation {
        this.associateAddress({ allocationId, instanceId, allowReassociation: true });
        return structuredClone(this.addressMap.get(allocationId)!.association!);
    }

    instances(): ModelInstance[] {
        return structuredClone([...this.instanceMap.values()]);
    }

    addresses(): ModelAddress[] {
        return structuredClone([...this.addressMap.values()]);
    }

    instance(id: string): ModelInstance | undefined {
        return structuredClone(this.instanceMap.get(id));
    }

    address(allocationId: string): ModelAddress | undefined {
        return structuredClone(this.addressMap.get(allocationId));
    }

    // ---- API semantics (called by the Query protocol layer) ----

    describeInstances(request: { instanceIds: string[]; filters: Filter[] }): ModelInstance[] {
        const missing = request.instanceIds.filter((id) => !this.instanceMap.has(id));
        if (missing.length) throw new AwsError("InvalidInstanceID.NotFound", `The instance ID '${missing.join(", ")}' does not exist`);
        return this.instances().filter(
            (i) =>
                (request.instanceIds.length === 0 || request.instanceIds.includes(i.instanceId)) &&
                matchesFilters(request.filters, (name) => instanceAttribute(i, name)),
        );
    }

    describeAddresses(request: { allocationIds: string[]; publicIps: string[]; filters: Filter[] }): ModelAddress[] {
        const missing = request.allocationIds.filter((id) => !this.addressMap.has(id));
        if (missing.length) throw new AwsError("InvalidAllocationID.NotFound", `The allocation ID '${missing.join(", ")}' does not exist`);
        const unknownIp = request.publicIps.find((ip) => !this.addressByIp(ip));
        if (unknownIp) throw new AwsError("InvalidAddress.NotFound", `Address '${unknownIp}' not found.`);
        return this.addresses().filter(
            (a) =>
                (request.allocationIds.length === 0 || request.allocationIds.includes(a.allocationId)) &&
                (request.publicIps.length === 0 || request.publicIps.includes(a.publicIp)) &&
                matchesFilters(request.filters, (name) => addressAttribute(a, name)),
        );
    }

    associateAddress(request: AssociateRequest): string {
        if (!request.allocationId) throw new AwsError("MissingParameter", "The request must contain the parameter AllocationId");
        const address = this.requireAddress(request.allocationId);
        const { instance, eni } = this.resolveTarget(request);
        if (instance.state !== "running" && instance.state !== "stopped") {
            throw new AwsError("IncorrectInstanceState", `The instance '${instance.instanceId}' is not in a valid state for this operation.`);
        }
        const privateIpAddress = request.privateIpAddress ?? eni.privateIpAddress;
        if (privateIpAddress !== eni.privateIpAddress) {
            throw new AwsError("InvalidParameterValue", `Address ${privateIpAddress} does not belong to ${eni.networkInterfaceId}`);
        }
        if (address.association && !request.allowReassociation) {
            throw new AwsError(
                "Resource.AlreadyAssociated",
                `resource ${address.allocationId} is already associated with associate-id ${address.association.associationId}`,
            );
        }
        // One Elastic IP per private IP: AWS silently takes the previous one off.
        for (const other of this.addressMap.values()) {
            const held = other.association;
            if (held && held.networkInterfaceId === eni.networkInterfaceId && held.privateIpAddress === privateIpAddress) {
                delete other.association;
            }
        }
        address.association = {
            associationId: this.newId("eipassoc-"),
            instanceId: instance.instanceId,
            networkInterfaceId: eni.networkInterfaceId,
            privateIpAddress,
        };
        return address.association.associationId;
    }

    disassociateAddress(request: { associationId?: string; publicIp?: string }): void {
        if (request.associationId) {
            const address = [...this.addressMap.values()].find((a) => a.association?.associationId === request.associationId);
            if (!address) throw new AwsError("InvalidAssociationID.NotFound", `The association ID '${request.associationId}' does not exist`);
            delete address.association;
        } else if (request.publicIp) {
            const address = this.addressByIp(request.publicIp);
            if (!address) throw new AwsError("InvalidAddress.NotFound", `Address '${request.publicIp}' not found.`);
            delete address.association;
        } else {
            throw new AwsError("MissingParameter", "Either AssociationId or PublicIp must be specified");
        }
    }

    // ---- internals ----

    private resolveTarget(request: AssociateRequest): { instance: ModelInstance; eni: ModelInterface } {
        if (request.instanceId && request.networkInterfaceId) {
            throw new AwsError("InvalidParameterCombination", "Specify either an instance ID or a network interface ID, not both");
        }
        if (request.networkInterfaceId) {
            // ENIs of terminated instances have been deleted.
            for (const instance of this.instanceMap.values()) {
                const eni = instance.networkInterfaces.find((n) => n.networkInterfaceId === request.networkInterfaceId);
                if (eni && instance.state !== "terminated") return { instance, eni };
            }
            throw new AwsError("InvalidNetworkInterfaceID.NotFound", `The networkInterface ID '${request.networkInterfaceId}' does not exist`);
        }
        if (request.instanceId) {
            const instance = this.instanceMap.get(request.instanceId);
            if (!instance) throw new AwsError("InvalidInstanceID.NotFound", `The instance ID '${request.instanceId}' does not exist`);
            return { instance, eni: instance.networkInterfaces.find((n) => n.deviceIndex === 0)! };
        }
        throw new AwsError("MissingParameter", "Either InstanceId or NetworkInterfaceId must be specified");
    }

    private requireAddress(allocationId: string): ModelAddress {
        const address = this.addressMap.get(allocationId);
        if (!address) throw new AwsError("InvalidAllocationID.NotFound", `The allocation ID '${allocationId}' does not exist`);
        return address;
    }

    private addressByIp(publicIp: string): ModelAddress | undefined {
        return [...this.addressMap.values()].find((a) => a.publicIp === publicIp);
    }

    private newId(prefix: string): string {
        return prefix + hex17(++this.idSeq);
    }

    private newInterface(deviceIndex: number): ModelInterface {
        const n = this.privateIpSeq++;
        return { networkInterfaceId: this.newId("eni-"), deviceIndex, privateIpAddress: `10.0.${Math.floor(n / 250)}.${(n % 250) + 4}` };
    }

    private newPublicIp(): string {
        for (;;) {
            const n = this.publicIpSeq++;
            const ip = `${publicBlock(Math.floor(n / 254))}.${(n % 254) + 1}`;
            if (!this.addressByIp(ip)) return ip;
        }
    }
}

// ---- filters: AND across filters, OR across a filter's values, * and ? wildcards ----

function matchesFilters(filters: Filter[], attribute: (name: string) => string[] | undefined): boolean {
    return filters.every((filter) => {
        const actual = attribute(filter.name);
        if (!actual) throw new AwsError("InvalidParameterValue", `The filter '${filter.name}' is invalid`);
        return filter.values.some((pattern) => actual.some((value) => wildcard(pattern).test(value)));
    });
}

function wildcard(pattern: string): RegExp {
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    return new RegExp(`^${body}$`);
}

function tagAttribute(tags: Tags, name: string): string[] | undefined {
    if (name === "tag-key") return Object.keys(tags);
    if (name.startsWith("tag:")) {
        const value = tags[name.slice(4)];
        return value === undefined ? [] : [value];
    }
    return undefined;
}

function instanceAttribute(instance: ModelInstance, name: string): string[] | undefined {
    switch (name) {
        case "instance-id":
            return [instance.instanceId];
        case "instance-state-name":
            return [instance.state];
        default:
            return tagAttribute(instance.tags, name);
    }
}

function addressAttribute(address: ModelAddress, name: string): string[] | undefined {
    const optional = (value: string | undefined) => (value === undefined ? [] : [value]);
    switch (name) {
        case "domain":
            return ["vpc"];
        case "allocation-id":
            return [address.allocationId];
        case "public-ip":
            return [address.publicIp];
        case "instance-id":
            return optional(address.association?.instanceId);
        case "association-id":
            return optional(address.association?.associationId);
        case "network-interface-id":
            return optional(address.association?.networkInterfaceId);
        default:
            return tagAttribute(address.tags, name);
    }
}
