// In-memory EC2 of one account/region: instances, their ENIs and Elastic IPs,
// with the association rules of the real API and, optionally, its eventually
// consistent reads. Wire format lives in ec2-query.ts.
import { AwsError } from "./wire";

export type Tags = Record<string, string>;
export type InstanceState = "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated";
export interface ModelInterface { networkInterfaceId: string; deviceIndex: number; networkCardIndex: number; privateIpAddress: string }
/** `launchTime`: when the instance last started (ms by the model's clock); a stop and start renews it. */
export interface ModelInstance {
    instanceId: string; state: InstanceState; tags: Tags; networkInterfaces: ModelInterface[]; launchTime: number;
    instanceType: string; availabilityZone: string;
    /** A Spot Instance's request: its id and status code (`fulfilled` while it runs undisturbed). */
    spotRequest?: { spotInstanceRequestId: string; statusCode: string; updateTime: number };
    /** Its scheduled events (DescribeInstanceStatus), completed or canceled ones included. */
    scheduledEvents: ModelScheduledEvent[];
}
/** InstanceStatusEvent (EC2 API reference): `description` starts with `[Completed]` or `[Canceled]` once it is over. */
export interface ModelScheduledEvent { instanceEventId: string; code: ScheduledEventCode; description: string; notBefore: number }
export type ScheduledEventCode = "instance-reboot" | "system-reboot" | "system-maintenance" | "instance-retirement" | "instance-stop";
export interface ModelAssociation { associationId: string; instanceId: string; networkInterfaceId: string; privateIpAddress: string }
export interface ModelAddress { allocationId: string; publicIp: string; tags: Tags; association?: ModelAssociation }

export interface Ec2ModelOptions {
    accountId?: string;
    /** Clock in ms; default Date.now. The explorer passes a virtual clock. */
    clock?: () => number;
    /** Reads (DescribeInstances, DescribeAddresses) may lag writes by up to this many ms; 0 (default) = strongly consistent. */
    readLagMs?: number;
    /** Randomness in [0,1) for lags and remaps; default Math.random. Tests pass a seeded one. */
    random?: () => number;
    /** Where in the lag window each read looks, from 0 (now) to 1 (readLagMs ago); default `random`. */
    lagFraction?: () => number;
    /** Chance that AssociateAddress of an address onto the interface and private IP it is already on returns a new association id (the old one then stops existing). Default 1. */
    remapChance?: number;
    /** How long a terminated instance stays visible to DescribeInstances; default 3_600_000 (1 h). */
    terminatedVisibleMs?: number;
}

/** One state of an object, from `at` (by the model's clock) until the next version. */
interface Version<T> { at: number; value: T }

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

// The primary interface: "A primary network interface has a device index of 0" (EC2 API reference,
// InstanceNetworkInterfaceSpecification) and "must be assigned to network card index 0" (AttachNetworkInterface,
// NetworkCardIndex). Every network card numbers its own devices, so a card-1 interface can be device 0 too.
export const isPrimary = (eni: ModelInterface): boolean => eni.deviceIndex === 0 && eni.networkCardIndex === 0;

export class Ec2Model {
    readonly accountId: string;
    private readonly clock: () => number;
    private readonly readLagMs: number;
    private readonly random: () => number;
    private readonly lagFraction: () => number;
    private readonly remapChance: number;
    private readonly terminatedVisibleMs: number;
    private readonly instanceMap = new Map<string, ModelInstance>();
    private readonly addressMap = new Map<string, ModelAddress>();
    // What lagging reads can still see; only kept when readLagMs > 0.
    private readonly instanceVersions = new Map<string, Version<ModelInstance>[]>();
    private readonly addressVersions = new Map<string, Version<ModelAddress>[]>();
    private readonly terminatedAt = new Map<string, number>();
    private idSeq = 0;
    private privateIpSeq = 0;
    private publicIpSeq = 0;

    constructor(options: Ec2ModelOptions = {}) {
        this.accountId = options.accountId ?? "123456789012";
        this.clock = options.clock ?? Date.now;
        this.readLagMs = options.readLagMs ?? 0;
        this.random = options.random ?? Math.random;
        this.lagFraction = options.lagFraction ?? this.random;
        this.remapChance = options.remapChance ?? 1;
        this.terminatedVisibleMs = options.terminatedVisibleMs ?? 3_600_000;
    }

    // ---- seeding and inspection (tests and invariant checks); always the true current state ----

    addInstance(
        options: {
            tags?: Tags;
            state?: InstanceState;
            instanceId?: string;
            /** Default: one interface, device 0 on network card 0. */
            interfaces?: { deviceIndex: number; networkCardIndex?: number }[];
            secondaryInterfaceFirst?: boolean;
            instanceType?: string;
            availabilityZone?: string;
            /** A Spot Instance, with a fulfilled Spot request. */
            spot?: boolean;
        } = {},
    ): ModelInstance {
        const instanceId = options.instanceId ?? this.newId("i-");
        if (this.instanceMap.has(instanceId)) throw new Error(`instance ${instanceId} already exists`);
        const networkInterfaces = (options.interfaces ?? [{ deviceIndex: 0 }]).map((n) => this.newInterface(n.deviceIndex, n.networkCardIndex ?? 0));
        if (options.secondaryInterfaceFirst) networkInterfaces.unshift(this.newInterface(1, 0));
        if (!networkInterfaces.some(isPrimary)) throw new Error(`instance ${instanceId} needs an interface at device 0 on card 0`);
        const instance: ModelInstance = {
            instanceId, state: options.state ?? "running", tags: { ...options.tags }, networkInterfaces, launchTime: this.clock(),
            instanceType: options.instanceType ?? "c7i.2xlarge", availabilityZone: options.availabilityZone ?? "us-east-1a",
            // Named after the instance, so that a Spot Instance takes no id from the others' sequence.
            ...(options.spot && { spotRequest: { spotInstanceRequestId: `sir-${instanceId.slice(-8)}`, statusCode: "fulfilled", updateTime: this.clock() } }),
            scheduledEvents: [],
        };
        this.instanceMap.set(instanceId, instance);
        if (instance.state === "terminated") this.terminatedAt.set(instanceId, this.clock());
        this.record(this.instanceVersions, instanceId, instance);
        return structuredClone(instance);
    }

    addAddress(options: { tags?: Tags; publicIp?: string } = {}): ModelAddress {
        const publicIp = options.publicIp ?? this.newPublicIp();
        if (this.addressByIp(publicIp)) throw new Error(`public IP ${publicIp} already allocated`);
        const address: ModelAddress = { allocationId: this.newId("eipalloc-"), publicIp, tags: { ...options.tags } };
        this.addressMap.set(address.allocationId, address);
        this.record(this.addressVersions, address.allocationId, address);
        return structuredClone(address);
    }

    setState(instanceId: string, state: InstanceState): void {
        const instance = this.instanceMap.get(instanceId);
        if (!instance) throw new Error(`no instance ${instanceId}`);
        if (state === "terminated" && instance.state !== "terminated") this.terminatedAt.set(instanceId, this.clock());
        // Instance.LaunchTime (EC2 API reference): "The time that the instance was last launched"; a start renews it
        // (a start always passes through pending; a caller that goes from stopped straight to running starts it too).
        const starts = state === "pending" ? instance.state !== "pending" : state === "running" && instance.state !== "pending" && instance.state !== "running";
        if (starts) {
            instance.launchTime = this.clock();
            // "fulfilled | active | stopped → running" (EC2 User Guide, Spot request status); a stop and
            // start moves the instance to new hardware, which is what its scheduled events asked for.
            if (instance.spotRequest) instance.spotRequest = { ...instance.spotRequest, statusCode: "fulfilled", updateTime: this.clock() };
            instance.scheduledEvents = instance.scheduledEvents.map((e) => (/^\[/.test(e.description) ? e : { ...e, description: `[Completed] ${e.description}` }));
        }
        instance.state = state;
        this.record(this.instanceVersions, instanceId, instance);
        // Termination deletes the ENIs, which releases every Elastic IP that sat on them.
        if (state === "terminated") {
            for (const address of this.addressMap.values()) {
                if (address.association?.instanceId === instanceId) this.setAssociation(address, undefined);
            }
        }
    }

    /**
     * What EC2 does when it interrupts a Spot Instance: its request's status code becomes
     * `marked-for-termination` (or `marked-for-stop`, or at once `instance-terminated-no-capacity`,
     * EC2 User Guide, Spot request status) while the instance still runs for its two minutes.
     */
    interruptSpot(instanceId: string, statusCode = "marked-for-termination"): void {
        const instance = this.instanceMap.get(instanceId);
        if (!instance?.spotRequest) throw new Error(`${instanceId} is not a Spot Instance`);
        instance.spotRequest = { ...instance.spotRequest, statusCode, updateTime: this.clock() };
        this.record(this.instanceVersions, instanceId, instance);
    }

    /** What EC2 does when it schedules an event for an instance (the one AWS Health announces). */
    scheduleEvent(instanceId: string, code: ScheduledEventCode = "instance-retirement", notBefore = this.clock() + 14 * 24 * 3_600_000): void {
        const instance = this.instanceMap.get(instanceId);
        if (!instance) throw new Error(`no instance ${instanceId}`);
        const description = code === "instance-retirement" ? "The instance is running on degraded hardware" : `Scheduled ${code}`;
        const instanceEventId = `instance-event-${instanceId.slice(-9)}${String(instance.scheduledEvents.length).padStart(8, "0")}`;
        instance.scheduledEvents.push({ instanceEventId, code, description, notBefore });
        this.record(this.instanceVersions, instanceId, instance);
    }

    /** What an operator retagging an instance does. */
    setTags(instanceId: string, tags: Tags): void {
        const instance = this.instanceMap.get(instanceId);
        if (!instance) throw new Error(`no instance ${instanceId}`);
        instance.tags = { ...tags };
        this.record(this.instanceVersions, instanceId, instance);
    }

    /** What an operator retagging an address does (its association stays). */
    setAddressTags(allocationId: string, tags: Tags): void {
        const address = this.requireAddress(allocationId);
        address.tags = { ...tags };
        this.record(this.addressVersions, allocationId, address);
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

    // ---- API semantics (called by the Query protocol layer); reads may lag, mutations act on the true state ----

    describeInstances(request: { instanceIds: string[]; filters: Filter[] }): ModelInstance[] {
        const visible = this.read(this.instanceMap, this.instanceVersions).flatMap(({ value, at }) => (this.expired(value, at) ? [] : [value]));
        const missing = request.instanceIds.filter((id) => !visible.some((i) => i.instanceId === id));
        if (missing.length) throw new AwsError("InvalidInstanceID.NotFound", `The instance ID '${missing.join(", ")}' does not exist`);
        return structuredClone(
            visible.filter(
                (i) =>
                    (request.instanceIds.length === 0 || request.instanceIds.includes(i.instanceId)) &&
                    matchesFilters(request.filters, (name) => instanceAttribute(i, name)),
            ),
        );
    }

    /**
     * DescribeSpotInstanceRequests by the `instance-id` filter (the only way the binder asks):
     * the requests of the Spot Instances among them, as this read sees each instance.
     */
    describeSpotInstanceRequests(request: { filters: Filter[] }): (NonNullable<ModelInstance["spotRequest"]> & { instanceId: string })[] {
        const unsupported = request.filters.find((f) => f.name !== "instance-id");
        if (unsupported) throw new AwsError("InvalidParameterValue", `The filter '${unsupported.name}' is invalid`);
        const ids = request.filters.flatMap((f) => f.values);
        return this.read(this.instanceMap, this.instanceVersions).flatMap(({ value }) =>
            value.spotRequest && (ids.length === 0 || ids.includes(value.instanceId)) ? [{ ...structuredClone(value.spotRequest), instanceId: value.instanceId }] : [],
        );
    }

    /**
     * DescribeInstanceStatus by instance ids: "InvalidInstanceID.NotFound" for an id it does not
     * know; without IncludeAllInstances only running instances are described (EC2 API reference).
     */
    describeInstanceStatus(request: { instanceIds: string[]; includeAllInstances: boolean }): ModelInstance[] {
        const visible = this.describeInstances({ instanceIds: request.instanceIds, filters: [] });
        return visible.filter((i) => request.includeAllInstances || i.state === "running");
    }

    describeAddresses(request: { allocationIds: string[]; publicIps: string[]; filters: Filter[] }): ModelAddress[] {
        const visible = this.read(this.addressMap, this.addressVersions).map(({ value }) => value);
        const missing = request.allocationIds.filter((id) => !visible.some((a) => a.allocationId === id));
        if (missing.length) throw new AwsError("InvalidAllocationID.NotFound", `The allocation ID '${missing.join(", ")}' does not exist`);
        const unknownIp = request.publicIps.find((ip) => !visible.some((a) => a.publicIp === ip));
        if (unknownIp) throw new AwsError("InvalidAddress.NotFound", `Address '${unknownIp}' not found.`);
        return structuredClone(
            visible.filter(
                (a) =>
                    (request.allocationIds.length === 0 || request.allocationIds.includes(a.allocationId)) &&
                    (request.publicIps.length === 0 || request.publicIps.includes(a.publicIp)) &&
                    matchesFilters(request.filters, (name) => addressAttribute(a, name)),
            ),
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
        const held = address.association;
        if (held?.networkInterfaceId === eni.networkInterfaceId && held.privateIpAddress === privateIpAddress) {
            // AssociateAddress: "This is an idempotent operation. If you perform the operation more than once, Amazon EC2
            // doesn't return an error, and you may be charged for each time the Elastic IP address is remapped to the
            // same instance." A remap is a new association; the old id stops existing.
            if (this.random() >= this.remapChance) return held.associationId;
        } else if (held && !request.allowReassociation) {
            throw new AwsError(
                "Resource.AlreadyAssociated",
                `resource ${address.allocationId} is already associated with associate-id ${held.associationId}`,
            );
        }
        // One Elastic IP per private IP: AWS silently takes the previous one off.
        for (const other of this.addressMap.values()) {
            const on = other.association;
            if (other !== address && on?.networkInterfaceId === eni.networkInterfaceId && on.privateIpAddress === privateIpAddress) {
                this.setAssociation(other, undefined);
            }
        }
        const associationId = this.newId("eipassoc-");
        this.setAssociation(address, { associationId, instanceId: instance.instanceId, networkInterfaceId: eni.networkInterfaceId, privateIpAddress });
        return associationId;
    }

    disassociateAddress(request: { associationId?: string; publicIp?: string }): void {
        if (request.associationId) {
            const address = [...this.addressMap.values()].find((a) => a.association?.associationId === request.associationId);
            if (!address) throw new AwsError("InvalidAssociationID.NotFound", `The association ID '${request.associationId}' does not exist`);
            this.setAssociation(address, undefined);
        } else if (request.publicIp) {
            const address = this.addressByIp(request.publicIp);
            if (!address) throw new AwsError("InvalidAddress.NotFound", `Address '${request.publicIp}' not found.`);
            this.setAssociation(address, undefined);
        } else {
            throw new AwsError("MissingParameter", "Either AssociationId or PublicIp must be specified");
        }
    }

    // ---- internals ----

    /**
     * Every object as one read sees it, and the moment it is seen at. "The result of an API command you run that
     * affects your Amazon EC2 resources might not be immediately visible to all subsequent commands you run" (EC2
     * API reference, Eventual consistency in the Amazon EC2 API): with readLagMs each object is seen, on its own,
     * as it was up to readLagMs ago, and one created since is absent.
     */
    private read<T>(current: Map<string, T>, history: Map<string, Version<T>[]>): { value: T; at: number }[] {
        const now = this.clock();
        if (!this.readLagMs) return [...current.values()].map((value) => ({ value, at: now }));
        return [...history.values()].flatMap((versions) => {
            prune(versions, now - this.readLagMs);
            const at = now - this.lagFraction() * this.readLagMs;
            const seen = versionAt(versions, at);
            return seen ? [{ value: seen, at }] : [];
        });
    }

    private record<T>(history: Map<string, Version<T>[]>, id: string, value: T): void {
        if (!this.readLagMs) return;
        const now = this.clock();
        const versions = history.get(id) ?? [];
        versions.push({ at: now, value: structuredClone(value) });
        prune(versions, now - this.readLagMs);
        history.set(id, versions);
    }

    private setAssociation(address: ModelAddress, association: ModelAssociation | undefined): void {
        if (association) address.association = association;
        else delete address.association;
        this.record(this.addressVersions, address.allocationId, address);
    }

    /** TerminateInstances: "Terminated instances remain visible after termination (for approximately one hour)." */
    private expired(instance: ModelInstance, at: number): boolean {
        return instance.state === "terminated" && at - this.terminatedAt.get(instance.instanceId)! >= this.terminatedVisibleMs;
    }

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
            if (!instance || this.expired(instance, this.clock())) {
                throw new AwsError("InvalidInstanceID.NotFound", `The instance ID '${request.instanceId}' does not exist`);
            }
            return { instance, eni: instance.networkInterfaces.find(isPrimary)! };
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

    private newInterface(deviceIndex: number, networkCardIndex: number): ModelInterface {
        const n = this.privateIpSeq++;
        return {
            networkInterfaceId: this.newId("eni-"),
            deviceIndex,
            networkCardIndex,
            privateIpAddress: `10.0.${Math.floor(n / 250)}.${(n % 250) + 4}`,
        };
    }

    private newPublicIp(): string {
        for (;;) {
            const n = this.publicIpSeq++;
            const ip = `${publicBlock(Math.floor(n / 254))}.${(n % 254) + 1}`;
            if (!this.addressByIp(ip)) return ip;
        }
    }
}

// ---- versions for lagging reads ----

/** Drops the versions no read can pick any more: those before the last one at or before `horizon`. */
function prune<T>(versions: Version<T>[], horizon: number): void {
    let stale = 0;
    while (stale + 1 < versions.length && versions[stale + 1].at <= horizon) stale++;
    versions.splice(0, stale);
}

/** The object as it was at `at`; undefined if it did not exist yet. */
function versionAt<T>(versions: Version<T>[], at: number): T | undefined {
    for (let i = versions.length - 1; i >= 0; i--) if (versions[i].at <= at) return versions[i].value;
    return undefined;
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
