// Stack config validation: every bad value fails preview with a message naming its key.
import { expect } from "chai";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { binderSettingsFromEnv, DEFAULTS, eventQueueUrlFromEnv, nodeRolesFromEnv, parseSettings, reconcileConcurrencyFromEnv } from "../../binder/config";
import { runStack } from "../../tools/mock-stack";
import { configProblems, stackLookup } from "../support/config";

const settings = (overrides: Record<string, unknown>) => parseSettings(stackLookup("dev", overrides));
const problems = (overrides: Record<string, unknown>) => configProblems(() => settings(overrides));

describe("stack config", () => {
    it("reads the dev stack with the documented defaults", () => {
        expect(settings({})).to.deep.equal({
            instanceTags: { "team": "live", "karpenter.sh/nodepool": "media-dev" },
            addressTags: { team: "live", pool: "media-dev" },
            poolSize: 4,
            hostedZone: "live.example.com",
            suffix: "dev.live.example.com",
            dnsName: "{ip-dashed}.{suffix}",
            dnsTtl: 60,
            dnsRecords: "per-address",
            protectAddresses: false,
            deletionProtection: false,
            reconcileSchedule: "rate(5 minutes)",
            minFreeAddresses: 1,
            binderConcurrency: 10,
            hookConcurrency: 10,
            alarmEmail: undefined,
            vpcIds: ["vpc-0123456789abcdef0"],
            addressQuota: 10,
            drainOn: ["spot-interruption", "scheduled-change"],
            nodeRoleArns: undefined,
            kmsKeyArn: undefined,
        });
    });

    it("documents in Pulumi.yaml the same defaults the code applies", () => {
        const project = yaml.load(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.yaml"), "utf8")) as any;
        const declared = Object.fromEntries(Object.entries<any>(project.config).filter(([, spec]) => "default" in spec).map(([key, spec]) => [key, spec.default]));
        expect(declared).to.deep.equal(DEFAULTS);
    });

    it("defaults the suffix to the zone and normalizes names", () => {
        const s = settings({ suffix: undefined, hostedZone: "Live.Example.COM." });
        expect(s.hostedZone).to.equal("live.example.com");
        expect(s.suffix).to.equal("live.example.com");
    });

    const rejected: [string, Record<string, unknown>, RegExp][] = [
        ["a missing instanceTags", { instanceTags: undefined }, /eip-dns-binder:instanceTags must be a non-empty map.*every instance in the account/],
        ["an empty instanceTags", { instanceTags: {} }, /eip-dns-binder:instanceTags must be a non-empty map/],
        ["an instanceTags that is not a map", { instanceTags: "team=live" }, /eip-dns-binder:instanceTags must be a non-empty map/],
        ["an empty addressTags", { addressTags: {} }, /eip-dns-binder:addressTags must be a non-empty map/],
        ["a reserved tag name", { addressTags: { "aws:cloudformation:stack-name": "x" } }, /eip-dns-binder:addressTags has tag name 'aws:cloudformation:stack-name'/],
        ["a negative poolSize", { poolSize: -1 }, /eip-dns-binder:poolSize must be a whole number from 0 to 1000, not '-1'/],
        ["a fractional poolSize", { poolSize: 2.5 }, /eip-dns-binder:poolSize must be a whole number/],
        ["a poolSize that is not a number", { poolSize: "four" }, /eip-dns-binder:poolSize must be a whole number/],
        ["a missing hostedZone", { hostedZone: undefined }, /eip-dns-binder:hostedZone is required/],
        ["a hostedZone that is not a domain", { hostedZone: "live example" }, /eip-dns-binder:hostedZone 'live example' is not a valid domain name/],
        ["a suffix outside the zone", { suffix: "example.org" }, /eip-dns-binder:suffix 'example.org' must be the hosted zone 'live.example.com' or a name inside it/],
        ["an unknown placeholder", { dnsName: "{host}.{suffix}" }, /eip-dns-binder:dnsName uses unknown placeholder \{host\}; known placeholders are \{ip\}, \{ip-dashed\}, \{suffix\}, \{instance-id\}/],
        ["an unmatched brace", { dnsName: "{ip-dashed.{suffix}" }, /eip-dns-binder:dnsName has an unmatched/],
        ["a template without a per-server placeholder", { dnsName: "edge.{suffix}" }, /eip-dns-binder:dnsName must contain \{ip\}, \{ip-dashed\} or \{instance-id\}/],
        ["a template with an empty label", { dnsName: "{ip-dashed}..{suffix}" }, /eip-dns-binder:dnsName '\{ip-dashed\}\.\.\{suffix\}' cannot yield a valid DNS name: .*empty label/],
        ["a template with a character DNS forbids", { dnsName: "srv_{ip-dashed}.{suffix}" }, /eip-dns-binder:dnsName .*cannot yield a valid DNS name: .*label 'srv_255-255-255-255'/],
        ["a template whose label grows past 63 characters", { dnsName: `${"a".repeat(50)}-{ip-dashed}.{suffix}` }, /eip-dns-binder:dnsName .*cannot yield a valid DNS name/],
        ["a template outside the zone", { dnsName: "{ip-dashed}.example.org" }, /eip-dns-binder:dnsName .*not inside the hosted zone 'live.example.com'/],
        ["an instance placeholder with per-address records", { dnsName: "{instance-id}.{suffix}" }, /eip-dns-binder:dnsName uses \{instance-id\}, which per-address records cannot know at deploy time/],
        ["a zero TTL", { dnsTtl: 0 }, /eip-dns-binder:dnsTtl must be a whole number from 1 to 86400, not '0'/],
        ["a TTL above a day", { dnsTtl: 90000 }, /eip-dns-binder:dnsTtl must be a whole number from 1 to 86400/],
        ["an unknown DNS mode", { dnsRecords: "wildcard" }, /eip-dns-binder:dnsRecords must be one of per-address, per-binding, not 'wildcard'/],
        ["a schedule EventBridge cannot read", { reconcileSchedule: "every 5 minutes" }, /eip-dns-binder:reconcileSchedule must be an EventBridge schedule/],
        ["a negative minFreeAddresses", { minFreeAddresses: -1 }, /eip-dns-binder:minFreeAddresses must be a whole number from 0 to 1000/],
        ["a binderConcurrency below the event source mapping's minimum", { binderConcurrency: 1 }, /eip-dns-binder:binderConcurrency must be a whole number from 2 to 1000, not '1'/],
        ["a hookConcurrency of 0", { hookConcurrency: 0 }, /eip-dns-binder:hookConcurrency must be a whole number from 1 to 1000, not '0'/],
        ["a hookConcurrency that is not a number", { hookConcurrency: "many" }, /eip-dns-binder:hookConcurrency must be a whole number from 1 to 1000, not 'many'/],
        ["an alarmEmail that is not an address", { alarmEmail: "ops" }, /eip-dns-binder:alarmEmail must be an email address, not 'ops'/],
        ["a protectAddresses that is not a boolean", { protectAddresses: "yes" }, /eip-dns-binder:protectAddresses must be true or false, not 'yes'/],
        ["a vpcIds that is not a list", { vpcIds: "vpc-0123456789abcdef0" }, /eip-dns-binder:vpcIds must be a non-empty list of ids such as \["vpc-0123456789abcdef0"\], not 'vpc-0123456789abcdef0'/],
        ["an empty vpcIds", { vpcIds: [] }, /eip-dns-binder:vpcIds must be a non-empty list of ids/],
        ["a vpcIds entry that is not a VPC id", { vpcIds: ["vpc-0123456789abcdef0", "subnet-0123456789abcdef0"] }, /eip-dns-binder:vpcIds has 'subnet-0123456789abcdef0', not an id such as 'vpc-0123456789abcdef0'/],
        ["a drainOn that is not a list", { drainOn: "spot-interruption" }, /^eip-dns-binder:drainOn must be a list of spot-interruption, rebalance-recommendation, scheduled-change \(or \[\] for none\), such as \["spot-interruption"\], not 'spot-interruption'$/],
        ["a drainOn that is a map", { drainOn: { "spot-interruption": true } }, /^eip-dns-binder:drainOn must be a list of spot-interruption, rebalance-recommendation, scheduled-change/],
        ["a drainOn with an unknown signal", { drainOn: ["spot-interruption", "spot"] }, /^eip-dns-binder:drainOn has 'spot': it must be a list of spot-interruption, rebalance-recommendation, scheduled-change \(or \[\] for none\)$/],
        ["a drainOn with a state, which the state rule always sends", { drainOn: ["stopping", "stopped"] }, /^eip-dns-binder:drainOn has 'stopping', 'stopped': it must be a list of spot-interruption, rebalance-recommendation, scheduled-change/],
        ["an addressQuota of zero", { addressQuota: 0 }, /eip-dns-binder:addressQuota must be a whole number from 1 to 100000, not '0'/],
        ["a nodeRoleArns that is not a list", { nodeRoleArns: "arn:aws:iam::123456789012:role/KarpenterNodeRole-media" },
            /^eip-dns-binder:nodeRoleArns must be a non-empty list of IAM role ARNs such as \["arn:aws:iam::123456789012:role\/KarpenterNodeRole-media"\], not 'arn:aws:iam::123456789012:role\/KarpenterNodeRole-media'$/],
        ["an empty nodeRoleArns", { nodeRoleArns: [] }, /^eip-dns-binder:nodeRoleArns must be a non-empty list of IAM role ARNs/],
        ["a nodeRoleArns with an instance profile", { nodeRoleArns: ["arn:aws:iam::123456789012:instance-profile/KarpenterNodeInstanceProfile"] },
            /^eip-dns-binder:nodeRoleArns has 'arn:aws:iam::123456789012:instance-profile\/KarpenterNodeInstanceProfile', not an IAM role ARN such as 'arn:aws:iam::123456789012:role\/KarpenterNodeRole-media'$/],
        ["a nodeRoleArns with a role session", { nodeRoleArns: ["arn:aws:sts::123456789012:assumed-role/KarpenterNodeRole-media/i-0123456789abcdef0"] },
            /^eip-dns-binder:nodeRoleArns has 'arn:aws:sts::123456789012:assumed-role\/KarpenterNodeRole-media\/i-0123456789abcdef0', not an IAM role ARN/],
        ["a kmsKeyArn that is a key id", { kmsKeyArn: "1234abcd-12ab-34cd-56ef-1234567890ab" },
            /^eip-dns-binder:kmsKeyArn must be a KMS key ARN such as 'arn:aws:kms:us-west-2:123456789012:key\/1234abcd-12ab-34cd-56ef-1234567890ab' \(not a key id or an alias\), not '1234abcd-12ab-34cd-56ef-1234567890ab'$/],
        ["a kmsKeyArn that is an alias ARN", { kmsKeyArn: "arn:aws:kms:us-west-2:123456789012:alias/binder" }, /^eip-dns-binder:kmsKeyArn must be a KMS key ARN .*, not 'arn:aws:kms:us-west-2:123456789012:alias\/binder'$/],
        ["a kmsKeyArn with a key id cut short", { kmsKeyArn: "arn:aws:kms:us-west-2:123456789012:key/1234abcd" }, /^eip-dns-binder:kmsKeyArn must be a KMS key ARN/],
        ["a nodeRoleArns with a role name", { nodeRoleArns: ["KarpenterNodeRole-media"] }, /^eip-dns-binder:nodeRoleArns has 'KarpenterNodeRole-media', not an IAM role ARN/],
    ];
    for (const [what, overrides, message] of rejected) {
        it(`rejects ${what}`, () => {
            const found = problems(overrides);
            expect(found).to.have.length(1);
            expect(found[0]).to.match(message);
        });
    }

    it("drains on Spot interruption warnings and scheduled changes unless drainOn says otherwise", () => {
        expect(settings({ drainOn: undefined }).drainOn).to.deep.equal(["spot-interruption", "scheduled-change"]);
        expect(settings({ drainOn: [] }).drainOn).to.deep.equal([]);
        expect(settings({ drainOn: ["rebalance-recommendation"] }).drainOn).to.deep.equal(["rebalance-recommendation"]);
    });

    it("reads drainOn as `pulumi config set --path 'drainOn[0]'` stores it, duplicates collapsed, in a fixed order", () => {
        const stored = (value: unknown) => parseSettings(key => (key === "drainOn" ? JSON.stringify(value) : stackLookup("dev")(key)));
        expect(stored(["scheduled-change", "rebalance-recommendation", "spot-interruption", "scheduled-change"]).drainOn)
            .to.deep.equal(["spot-interruption", "rebalance-recommendation", "scheduled-change"]);
        expect(stored([]).drainOn).to.deep.equal([]);
    });

    it("reads nodeRoleArns as `pulumi config set --path 'nodeRoleArns[0]'` stores it, with paths, duplicates collapsed", () => {
        const roles = ["arn:aws:iam::123456789012:role/KarpenterNodeRole-media", "arn:aws:iam::123456789012:role/eks/nodes/KarpenterNodeRole-spot"];
        const stored = (value: unknown) => parseSettings(key => (key === "nodeRoleArns" ? JSON.stringify(value) : stackLookup("dev")(key)));
        expect(stored([...roles, roles[0]]).nodeRoleArns).to.deep.equal(roles);
        expect(stored(["arn:aws-cn:iam::123456789012:role/KarpenterNodeRole-media"]).nodeRoleArns).to.have.length(1);
    });

    it("takes a kmsKeyArn of a single-Region or a multi-Region key, in any partition", () => {
        const stored = (value: string) => parseSettings(key => (key === "kmsKeyArn" ? value : stackLookup("dev")(key))).kmsKeyArn;
        for (const arn of [
            "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-central-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ]) expect(stored(arn)).to.equal(arn);
    });

    it("leaves vpcIds unset when it is not configured, as before it existed", () => {
        expect(settings({ vpcIds: undefined }).vpcIds).to.equal(undefined);
    });

    it("accepts an instance placeholder with per-binding records", () => {
        expect(settings({ dnsRecords: "per-binding", dnsName: "{instance-id}.{suffix}" }).dnsName).to.equal("{instance-id}.{suffix}");
    });

    it("reports every bad key at once", () => {
        expect(problems({ instanceTags: {}, poolSize: -3, dnsTtl: 0 })).to.have.length(3);
    });

    it("fails the preview itself with the key in the message", async () => {
        let failure: unknown;
        try {
            await runStack("dev", { instanceTags: {} });
        } catch (err) {
            failure = err;
        }
        expect(String((failure as Error)?.message)).to.match(/eip-dns-binder:instanceTags must be a non-empty map/);
    });
});

describe("run-time settings", () => {
    const env = {
        BINDER_STACK: "dev",
        BINDER_INSTANCE_TAGS: '{"team":"live"}',
        BINDER_ADDRESS_TAGS: '{"pool":"media"}',
        BINDER_HOSTED_ZONE: "live.example.com",
        BINDER_HOSTED_ZONE_ID: "Z1",
        BINDER_DNS_SUFFIX: "dev.live.example.com",
        BINDER_DNS_NAME: "{ip-dashed}.{suffix}",
        BINDER_DNS_TTL: "60",
        BINDER_DNS_RECORDS: "per-address",
        BINDER_SERVERS_TABLE: "servers",
        BINDER_CLAIMS_TABLE: "claims",
    };

    it("reads the Lambda's environment", () => {
        expect(binderSettingsFromEnv(env)).to.deep.include({ instanceTags: { team: "live" }, dnsTtl: 60, claimsTable: "claims" });
    });

    it("names the variable that is wrong", () => {
        expect(() => binderSettingsFromEnv({ ...env, BINDER_INSTANCE_TAGS: "{}", BINDER_CLAIMS_TABLE: undefined }))
            .to.throw(/environment variable BINDER_INSTANCE_TAGS must be a non-empty map[\s\S]*environment variable BINDER_CLAIMS_TABLE is required/);
    });

    it("reads the hook function's node roles by name and account, and names the variable when it is missing or wrong", () => {
        const roles = JSON.stringify(["arn:aws:iam::123456789012:role/eks/nodes/KarpenterNodeRole-media"]);
        expect(nodeRolesFromEnv({ BINDER_NODE_ROLE_ARNS: roles })).to.deep.equal([{ partition: "aws", account: "123456789012", name: "KarpenterNodeRole-media" }]);
        expect(() => nodeRolesFromEnv({})).to.throw("Invalid configuration:\n  - environment variable BINDER_NODE_ROLE_ARNS is required");
        expect(() => nodeRolesFromEnv({ BINDER_NODE_ROLE_ARNS: '["KarpenterNodeRole-media"]' })).to.throw(/environment variable BINDER_NODE_ROLE_ARNS has 'KarpenterNodeRole-media', not an IAM role ARN/);
    });

    it("reads the reconciler's concurrency by binderConcurrency's rules, its default when unset", () => {
        expect(reconcileConcurrencyFromEnv({ BINDER_RECONCILE_CONCURRENCY: "25" })).to.equal(25);
        expect(reconcileConcurrencyFromEnv({})).to.equal(DEFAULTS.binderConcurrency);
        for (const bad of ["1", "1001", "2.5", "ten"]) {
            expect(() => reconcileConcurrencyFromEnv({ BINDER_RECONCILE_CONCURRENCY: bad }))
                .to.throw(`Invalid configuration:\n  - environment variable BINDER_RECONCILE_CONCURRENCY must be a whole number from 2 to 1000, not '${bad}'`);
        }
    });

    it("reads the binder's event queue, and names the variable when it is missing", () => {
        const url = "https://sqs.us-east-1.amazonaws.com/123456789012/instance-events";
        expect(eventQueueUrlFromEnv({ ...env, BINDER_EVENT_QUEUE_URL: url })).to.equal(url);
        for (const missing of [undefined, " "]) {
            expect(() => eventQueueUrlFromEnv({ ...env, BINDER_EVENT_QUEUE_URL: missing }))
                .to.throw("Invalid configuration:\n  - environment variable BINDER_EVENT_QUEUE_URL is required");
        }
    });
});
