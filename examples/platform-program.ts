// A platform team's own Pulumi program, with eip-dns-binder as a dependency: one
// EipDnsBinder per Karpenter node pool, next to whatever else the program declares,
// its outputs wired into the rest. The package is TypeScript source, which Pulumi
// compiles with the program only outside node_modules: add this repository as a git
// submodule and an npm workspace, which npm links (README, "In your own program"):
//
//   git submodule add <this repository> vendor/eip-dns-binder
//   npm pkg set 'workspaces[0]=vendor/eip-dns-binder' dependencies.eip-dns-binder='*'
//   npm install
//
// The pools' settings are the config keys of this repository's own stack, with the
// same rules and defaults (README, "Configure"); bad ones fail the preview by name.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { EipDnsBinder } from "eip-dns-binder";

const hostedZone = "live.example.com";
const vpcIds = ["vpc-0123456789abcdef0"];

// Media workers keep whitelisted addresses: forty allocated up front, kept through a
// `pulumi destroy`, each with its own name.
const media = new EipDnsBinder("media", {
    instanceTags: { "team": "live", "karpenter.sh/nodepool": "media" },
    addressTags: { team: "live", pool: "media" },
    poolSize: 40,
    hostedZone,
    suffix: `media.${hostedZone}`,
    protectAddresses: true,
    vpcIds,
    addressQuota: 60,
});

// Edge workers are named after the instance, and bind themselves at boot through the node hooks.
const edge = new EipDnsBinder("edge", {
    instanceTags: { "team": "live", "karpenter.sh/nodepool": "edge" },
    addressTags: { team: "live", pool: "edge" },
    poolSize: 8,
    hostedZone,
    suffix: `edge.${hostedZone}`,
    dnsRecords: "per-binding",
    dnsName: "{instance-id}.{suffix}",
    vpcIds,
    addressQuota: 60,
    nodeRoleArns: ["arn:aws:iam::123456789012:role/KarpenterNodeRole-edge"],
});

// The scheduler finds both pools' tables in one parameter.
const schedulerTables = new aws.ssm.Parameter("scheduler-tables", {
    type: "StringList",
    value: pulumi.interpolate`${media.serversTable},${edge.serversTable}`,
});

export const mediaAddresses = media.pool;
export const edgeHookUrl = edge.hookUrl;
export const schedulerTablesParameter = schedulerTables.name;
// `pulumi stack output mediaBinder --json | npx eip-dns-binder status` reads one pool's settings from its outputs.
export const mediaBinder = media.outputs();
export const edgeBinder = edge.outputs();
