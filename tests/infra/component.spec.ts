// The EipDnsBinder component as another program uses it: examples/platform-program.ts,
// which imports the package by its name, run under mocks as `pulumi preview` would.
import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { EIP_DNS_BINDER_TYPE, EipDnsBinder } from "../../component";
import { runStack, StackRun } from "../../tools/mock-stack";

const ROOT = path.join(__dirname, "..", "..");
const EXAMPLE = "examples/platform-program.ts";

describe("the EipDnsBinder component", function () {
    this.timeout(120_000);

    describe(`used by another program (${EXAMPLE})`, () => {
        let run: StackRun;
        before(async () => { run = await runStack("dev", {}, undefined, EXAMPLE); });

        it("is a component of its own type token, once per pool", () => {
            expect(EIP_DNS_BINDER_TYPE).to.equal("eip-dns-binder:index:EipDnsBinder");
            expect(run.ofType(EIP_DNS_BINDER_TYPE).map(r => r.urn)).to.deep.equal([
                "urn:pulumi:dev::eip-dns-binder::eip-dns-binder:index:EipDnsBinder::media",
                "urn:pulumi:dev::eip-dns-binder::eip-dns-binder:index:EipDnsBinder::edge",
            ]);
        });

        it("declares every resource of a pool as the component's child, named after the pool", () => {
            const own = run.resources.filter(r => r.type !== EIP_DNS_BINDER_TYPE && r.name !== "scheduler-tables");
            for (const r of own) {
                const pool = r.name.split("-")[0];
                expect(["media", "edge"], r.name).to.include(pool);
                expect(r.urn, r.name).to.equal(`urn:pulumi:dev::eip-dns-binder::${EIP_DNS_BINDER_TYPE}$${r.type}::${r.name}`);
            }
            expect(run.pool("media").ofType("aws:ec2/eip:Eip")).to.have.length(40);
            expect(run.pool("edge").ofType("aws:ec2/eip:Eip")).to.have.length(8);
            // Per-binding names: no records up front, and a hook endpoint for the edge pool only.
            expect(run.pool("edge").ofType("aws:route53/record:Record")).to.have.length(0);
            expect(run.pool("edge").ofType("aws:lambda/functionUrl:FunctionUrl")).to.have.length(1);
            expect(run.pool("media").ofType("aws:lambda/functionUrl:FunctionUrl")).to.have.length(0);
            // The program's own resource stays at its top level.
            expect(run.resources.find(r => r.name === "scheduler-tables")!.urn).to.equal("urn:pulumi:dev::eip-dns-binder::aws:ssm/parameter:Parameter::scheduler-tables");
        });

        it("registers its outputs, which the program wires into its own resources", () => {
            for (const component of run.ofType(EIP_DNS_BINDER_TYPE)) {
                expect(component.registeredOutputs, component.name).to.have.members([
                    "serversTable", "serversStream", "claimsTable", "functionName", "reconcilerName", "zoneId", "eventQueue",
                    "failedEventsQueue", "undeliveredEventsQueue", "alarmTopic", "hookUrl", "pool", "binderSettings", "schedulerPolicy",
                ].filter(name => !(name === "alarmTopic" || (name === "hookUrl" && component.name === "media"))));
            }
            const parameter = run.resources.find(r => r.name === "scheduler-tables")!.inputs;
            // The provider keeps a parameter's value secret: the mocks see it wrapped.
            expect(parameter.value.value).to.match(/^media-servers-\d+,edge-servers-\d+$/);
            expect(run.outputs.mediaBinder.binderSettings.BINDER_STACK).to.equal("dev/media");
            expect(run.outputs.edgeHookUrl).to.match(/^https:\/\/\w+\.lambda-url\.us-west-2\.on\.aws\/$/);
            expect(Object.keys(run.outputs.mediaAddresses)).to.have.length(40);
        });
    });

    it("fails on a bad argument before it declares anything, naming the argument", async () => {
        await pulumi.runtime.setMocks({ newResource: () => { throw new Error("declared a resource"); }, call: () => ({}) }, "eip-dns-binder", "dev", false);
        expect(() => new EipDnsBinder("media", { instanceTags: { pool: "media" }, addressTags: {}, hostedZone: "live.example.com", poolSize: 1001, drainOn: ["reboot" as never], kmsKeyArn: "alias/binder" }))
            .to.throw(pulumi.RunError, /EipDnsBinder media: addressTags must be a non-empty map[\s\S]*EipDnsBinder media: poolSize must be a whole number from 0 to 1000, not '1001'[\s\S]*EipDnsBinder media: drainOn has 'reboot'[\s\S]*EipDnsBinder media: kmsKeyArn must be a KMS key ARN/);
        await pulumi.runtime.disconnect();
    });

    it("fails the preview of a program whose node role is of another account, naming the argument", async () => {
        // The check runs once the account is known, so the failure reaches Pulumi as the program's
        // unhandled error, as it would in `pulumi preview`, which fails the run: run the program in a process of its own.
        const script = `require("./tools/mock-stack").runStack("dev", {}, undefined, "tests/fixtures/programs/foreign-node-role.ts")`
            + `.then(() => console.log("declared"), err => { console.error(err); process.exit(1); })`;
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", chunk => { output += chunk; });
        child.stderr.on("data", chunk => { output += chunk; });
        const code = await new Promise(resolve => child.once("close", resolve));
        expect(code).to.equal(1);
        expect(output).to.not.include("declared");
        expect(output).to.include("RunError: EipDnsBinder media: nodeRoleArns has 'arn:aws:iam::999999999999:role/KarpenterNodeRole-media', "
            + "of another account than 123456789012, where the stack deploys");
    });

    it("is the package's entry point, and index.ts the project's program", () => {
        const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        expect([manifest.main, manifest.types, manifest.exports]).to.deep.equal(["component.ts", "component.ts", { ".": "./component.ts", "./scheduler": "./scheduler/index.ts" }]);
        expect((yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { main: string }).main).to.equal("index.ts");
        // The package resolves to the component by its own name, as the example imports it.
        expect(require("eip-dns-binder").EipDnsBinder).to.equal(EipDnsBinder);
        // The scheduler client has its own entry point, which a scheduler imports without Pulumi.
        expect(typeof require("eip-dns-binder/scheduler").SchedulerClient).to.equal("function");
        expect(typeof require("../../index")).to.equal("function");
    });
});
