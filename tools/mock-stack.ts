// Runs the real Pulumi program under mocks with a stack's config, the way
// `pulumi preview` would, and records every resource it declares. Mocks are
// process-wide, so every spec goes through this one module.
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";

const ROOT = path.join(__dirname, "..");
const PROJECT = "eip-dns-binder";
/** The type of the component each pool's resources are children of. */
const COMPONENT_TYPE = "eip-dns-binder:index:EipDnsBinder";

export interface DeclaredResource {
    type: string;
    name: string;
    inputs: Record<string, any>;
    options: { protect?: boolean; retainOnDelete?: boolean };
    /** Its URN, as the engine makes it: the parents' types, then its own, then its name. */
    urn: string;
    /** The URNs its `aliases` option names, each as the engine resolves it. */
    aliases: string[];
    /** For a component, the names of the outputs it registered. */
    registeredOutputs?: string[];
}

export interface StackRun {
    resources: DeclaredResource[];
    /** The data-source calls the program made, in order. */
    lookups: { token: string; inputs: Record<string, any> }[];
    outputs: Record<string, any>;
    /** Resources of one type, e.g. "aws:ec2/eip:Eip". */
    ofType(type: string): DeclaredResource[];
    /** The one resource of a type; fails if there is not exactly one. */
    one(type: string): DeclaredResource;
    /** The resources of one pool (children of its component), named as within the pool (`default-servers` as `servers`); the outputs stay the stack's. */
    pool(name: string): StackRun;
}

/** Tagged Elastic IPs the mocked account already has, as `aws.ec2.getEips` would return them. */
export interface MockAccount {
    tagged: { allocationId: string; publicIp: string; tags: Record<string, string> }[];
    /** Roles' trust policies by role name, as `aws.iam.getRole` returns them; any other role trusts only EC2. */
    trustPolicies?: Record<string, string>;
}

/** A node role's usual trust policy: only EC2 may make its sessions. */
const EC2_ONLY_TRUST = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }] });

export const ZONE_ID = "Z0MOCKZONE";

/** The config `pulumi` would hand the program for a stack: project defaults, then the stack file. */
export function stackConfig(stack: string, overrides: Record<string, unknown> = {}): Record<string, string> {
    const project = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as any;
    const stackFile = yaml.load(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as any;
    const values: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries<any>(project.config ?? {})) {
        if (spec.default !== undefined) values[`${PROJECT}:${key}`] = spec.default;
    }
    Object.assign(values, stackFile.config);
    for (const [key, value] of Object.entries(overrides)) values[`${PROJECT}:${key}`] = value;
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) {
        if (value === undefined) continue;
        config[key] = typeof value === "object" ? JSON.stringify(value) : String(value);
    }
    return config;
}

/**
 * A resource's URN as the engine makes it: `urn:pulumi:<stack>::<project>::<type>::<name>`,
 * where the type is qualified by its parent's (itself qualified by its parent's), except
 * the root stack's. The mock monitor's own URNs keep only the nearest parent's type.
 */
export function urnOf(parentUrn: string, type: string, name: string, stack = pulumi.getStack(), project = pulumi.getProject()): string {
    const parentType = parentUrn === "" ? "" : parentUrn.split("::")[2];
    const qualified = parentType === "" || parentType === "pulumi:pulumi:Stack" ? type : `${parentType}$${type}`;
    return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

/** The URN an alias of a registration request names: given whole, or as a spec of what differs. */
function aliasUrn(alias: any, parentUrn: string, type: string, name: string): string {
    if (alias.getUrn()) return alias.getUrn();
    const spec = alias.getSpec();
    const parent = spec.getNoparent() ? "" : spec.getParenturn() || parentUrn;
    return urnOf(parent, spec.getType() || type, spec.getName() || name, spec.getStack() || undefined, spec.getProject() || undefined);
}

/** The mocks API passes neither resource options nor a component's outputs on, so read them off the requests. */
function recordOptions(recorded: DeclaredResource[]): void {
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request: any, callback: unknown) => {
        const [parent, type, name] = [request.getParent(), request.getType(), request.getName()];
        const options = { protect: request.getProtect(), retainOnDelete: request.getRetainondelete() };
        // The mock's newResource runs (and records) synchronously inside this call.
        const pending = register(request, callback);
        const match = recorded.find(r => r.name === name && r.type === type && r.urn === "");
        if (match) {
            match.options = options;
            match.urn = urnOf(parent, type, name);
            match.aliases = request.getAliasesList().map((alias: unknown) => aliasUrn(alias, parent, type, name));
        }
        return pending;
    };
    const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
    monitor.registerResourceOutputs = (request: any, callback: unknown) => {
        const component = recorded.find(r => r.urn === request.getUrn());
        if (component) component.registeredOutputs = Object.keys(request.getOutputs()?.toJavaScript() ?? {});
        return registerOutputs(request, callback);
    };
}

function mocks(recorded: DeclaredResource[], account: MockAccount, lookups: StackRun["lookups"]): pulumi.runtime.Mocks {
    let serial = 0;
    // Addresses are numbered apart, so that they do not depend on what else was declared first.
    let addresses = 0;
    return {
        newResource(args) {
            serial++;
            recorded.push({ type: args.type, name: args.name, inputs: args.inputs, options: {}, urn: "", aliases: [] });
            const state: Record<string, any> = { ...args.inputs, name: args.inputs.name ?? `${args.name}-${serial}` };
            state.arn = `arn:aws:mock:us-west-2:123456789012:${args.type}/${state.name}`;
            if (args.type === "aws:ec2/eip:Eip") {
                state.publicIp = `192.0.2.${++addresses}`;
                state.allocationId = `eipalloc-${String(serial).padStart(17, "0")}`;
            }
            if (args.type === "aws:lambda/function:Function") {
                state.arn = `arn:aws:lambda:us-west-2:123456789012:function:${state.name}`;
            }
            if (args.type === "aws:cloudwatch/logGroup:LogGroup") {
                state.arn = `arn:aws:logs:us-west-2:123456789012:log-group:${state.name}`;
            }
            if (args.type === "aws:sqs/queue:Queue") {
                state.url = `https://sqs.us-west-2.amazonaws.com/123456789012/${state.name}`;
                state.arn = `arn:aws:sqs:us-west-2:123456789012:${state.name}`;
            }
            if (args.type === "aws:cloudwatch/eventRule:EventRule") {
                state.arn = `arn:aws:events:us-west-2:123456789012:rule/${state.name}`;
            }
            if (args.type === "aws:lambda/functionUrl:FunctionUrl") {
                // Lambda makes up the URL's id; the region is the function's.
                state.functionUrl = `https://${"x".repeat(24)}${String(serial).padStart(8, "0")}.lambda-url.us-west-2.on.aws/`;
            }
            if (args.type === "aws:dynamodb/table:Table") {
                state.arn = `arn:aws:dynamodb:us-west-2:123456789012:table/${state.name}`;
                // A stream's ARN names its table and when it was enabled.
                if (state.streamEnabled) state.streamArn = `${state.arn}/stream/2026-12-02T00:00:00.000`;
            }
            return { id: `${args.name}-id`, state };
        },
        call(args) {
            lookups.push({ token: args.token, inputs: args.inputs });
            switch (args.token) {
                case "aws:route53/getZone:getZone":
                    return { zoneId: ZONE_ID, name: args.inputs.name, id: ZONE_ID };
                case "aws:ec2/getEips:getEips": {
                    const wanted = Object.entries<string>(args.inputs.tags ?? {});
                    const found = account.tagged.filter(a => wanted.every(([k, v]) => a.tags[k] === v));
                    return { allocationIds: found.map(a => a.allocationId), publicIps: found.map(a => a.publicIp), id: "eips" };
                }
                case "aws:index/getPartition:getPartition":
                    return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
                case "aws:index/getRegion:getRegion":
                    return { region: "us-west-2", name: "us-west-2", id: "us-west-2" };
                case "aws:iam/getRole:getRole":
                    return { name: args.inputs.name, assumeRolePolicy: account.trustPolicies?.[args.inputs.name] ?? EC2_ONLY_TRUST, id: args.inputs.name };
                case "aws:index/getCallerIdentity:getCallerIdentity":
                    return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/ci", userId: "ci", id: "ci" };
                default:
                    throw new Error(`unmocked invoke ${args.token}`);
            }
        },
    };
}

/** Fails the run under way; one listener for every run, which drops the later rejections of a failed run (by their message). */
let failRun: ((reason: unknown) => void) | undefined;
let listening = false;
const spent = new Set<string>();

async function settle(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        return new Promise(resolve => (value as pulumi.Output<unknown>).apply(v => { resolve(v); return v; }));
    }
    return value;
}

/**
 * Runs `program` (index.ts) as `pulumi preview` would for `stack` (its YAML plus `overrides`),
 * waits until every resource is registered, and returns what was declared.
 */
export async function runStack(stack: string, overrides: Record<string, unknown> = {}, account: MockAccount = { tagged: [] }, program = "index.ts"): Promise<StackRun> {
    const resources: DeclaredResource[] = [];
    const lookups: StackRun["lookups"] = [];
    pulumi.runtime.setAllConfig(stackConfig(stack, overrides));
    await pulumi.runtime.setMocks(mocks(resources, account, lookups), PROJECT, stack, false);
    recordOptions(resources);
    const entry = require.resolve(path.join(ROOT, program));
    delete require.cache[entry];
    // A program exports a function that returns its outputs, or exports them itself.
    const loaded: (() => Promise<Record<string, unknown>>) | Record<string, unknown> = require(entry);
    // An Output that fails after the program returned fails the run, as it fails `pulumi preview`;
    // the outputs it feeds would never settle.
    const failed = new Promise<never>((_, reject) => { failRun = reject; });
    if (!listening) {
        process.on("unhandledRejection", reason => {
            if (![...spent].some(message => String(reason).includes(message))) failRun?.(reason);
        });
    }
    listening = true;
    try {
        const raw = typeof loaded === "function" ? await Promise.race([loaded(), failed]) : loaded;
        const outputs: Record<string, any> = {};
        // pulumi.output unwraps Outputs nested in plain values too, such as each pool's under `pools`.
        for (const [key, value] of Object.entries(raw)) outputs[key] = await Promise.race([settle(pulumi.output(value)), failed]);
        await Promise.race([pulumi.runtime.disconnect(), failed]);
        return view(resources, outputs, lookups);
    } catch (err) {
        // What else a failed run rejects, then or during a later run, only follows from its failure: dropped.
        if (err instanceof Error) spent.add(err.message.replace(/^(error serializing property "\w+": )+/, ""));
        throw err;
    } finally {
        failRun = undefined;
    }
}

function view(resources: DeclaredResource[], outputs: Record<string, any>, lookups: StackRun["lookups"]): StackRun {
    const ofType = (type: string) => resources.filter(r => r.type === type);
    return {
        resources,
        lookups,
        outputs,
        ofType,
        one(type) {
            const found = ofType(type);
            if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
            return found[0];
        },
        pool(name) {
            const prefix = `${name}-`;
            const children = resources
                .filter(r => r.urn.includes(`::${COMPONENT_TYPE}$`) && r.name.startsWith(prefix))
                .map(r => ({ ...r, name: r.name.slice(prefix.length) }));
            return view(children, outputs, lookups);
        },
    };
}
