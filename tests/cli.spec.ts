// The operator CLI against the same stand-ins as the binder: in-process through
// `main` with a fixed clock, and once as a real process through bin/.
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createEventHandler, EventHandler } from "../binder";
import { ENV } from "../binder/config";
import { Inspection, Reconciliation } from "../binder/reconcile";
import { USAGE } from "../cli/args";
import { age } from "../cli/format";
import { main } from "../cli/main";
import { stateChange, World } from "./support/world";

const BIN = path.join(__dirname, "..", "bin", "eip-dns-binder.js");
const NOW = new Date();
const MINUTE = 60_000;

interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs the CLI in-process; `stdin` undefined stands for a terminal. */
async function cli(argv: string[], stdin?: string): Promise<Run> {
    const run = { code: 0, stdout: "", stderr: "" };
    run.code = await main(argv, {
        stdin: async () => stdin,
        stdout: text => { run.stdout += text; },
        stderr: text => { run.stderr += text; },
        now: () => NOW,
    });
    return run;
}

/** Runs bin/eip-dns-binder.js in its own Node process, `stdin` piped in. */
function cliProcess(argv: string[], stdin = "", env: Record<string, string> = {}): Promise<Run> {
    const child = spawn(process.execPath, [BIN, ...argv], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    const run = { code: -1, stdout: "", stderr: "" };
    child.stdout.on("data", chunk => { run.stdout += chunk; });
    child.stderr.on("data", chunk => { run.stderr += chunk; });
    child.stdin.end(stdin);
    return new Promise((resolve, reject) => {
        child.once("error", reject);
        child.once("close", code => resolve({ ...run, code: code ?? -1 }));
    });
}

describe("the operator CLI", function () {
    this.timeout(120_000);

    describe("without settings or AWS", () => {
        it("prints its usage for --help", async () => {
            expect(await cli(["--help"])).to.deep.equal({ code: 0, stdout: USAGE, stderr: "" });
            expect((await cli(["release", "-h"])).stdout).to.equal(USAGE);
        });

        it("fails a wrong command line with one line and exit code 2", async () => {
            const cases: [string[], string][] = [
                [[], "missing command"],
                [["deploy"], "unknown command 'deploy'"],
                [["status", "--force"], "unknown option '--force'"],
                [["status", "--dry-run"], "--dry-run does not apply to status"],
                [["reconcile", "now"], "unexpected argument 'now'"],
                [["release"], "release needs an instance id"],
                [["release", "i-ZZZ"], "'i-ZZZ' is not an instance id: expected i- and 8 to 17 hex digits"],
                [["release", "web-1"], "'web-1' is not an instance id: expected i- and 8 to 17 hex digits"],
            ];
            for (const [argv, message] of cases) {
                expect(await cli(argv, "{}"), argv.join(" ")).to.deep.equal({
                    code: 2,
                    stdout: "",
                    stderr: `eip-dns-binder: ${message} (see eip-dns-binder --help)\n`,
                });
            }
        });

        it("says how to provide settings when it has none, or they are not a stack output", async () => {
            const cases: [string | undefined, string][] = [
                [undefined, "no stack settings: pipe `pulumi stack output --json` into this command, or pass --settings <file>"],
                ["  \n", "no stack settings: pipe `pulumi stack output --json` into this command, or pass --settings <file>"],
                ["Current stack outputs (2):", "standard input is not JSON: expected the output of `pulumi stack output --json`"],
                ['{"serversTable": "servers"}', "standard input has no binderSettings object: expected the output of `pulumi stack output --json` from a stack that exports it"],
                [JSON.stringify({ binderSettings: { [ENV.stack]: "dev" } }), "bad settings in standard input: environment variable BINDER_INSTANCE_TAGS must be"],
            ];
            for (const [stdin, message] of cases) {
                const run = await cli(["status"], stdin);
                expect(run.code, String(stdin)).to.equal(2);
                expect(run.stdout).to.equal("");
                expect(run.stderr).to.match(/^eip-dns-binder: [^\n]*\n$/).and.include(`eip-dns-binder: ${message}`);
            }
        });

        it("shows ages in the largest whole unit", () => {
            const ages = [-5_000, 0, 59_999, 60_000, 59 * MINUTE + 59_999, 60 * MINUTE, 24 * 60 * MINUTE - 1, 3 * 24 * 60 * MINUTE].map(age);
            expect(ages).to.deep.equal(["0s", "0s", "59s", "1m", "59m", "1h", "23h", "3d"]);
        });

        it("runs as a process through bin/eip-dns-binder.js", async () => {
            expect(await cliProcess(["--help"])).to.deep.equal({ code: 0, stdout: USAGE, stderr: "" });
        });
    });

    describe("against the stand-ins", () => {
        let world: World | undefined;
        let handler: EventHandler;
        /** A scratch folder for a test's files. */
        let dir: string | undefined;

        async function open(poolSize: number): Promise<World> {
            world = await World.create({ poolSize });
            world.useEnvironment();
            handler = createEventHandler();
            return world;
        }

        afterEach(async () => {
            await world?.close();
            world = undefined;
            if (dir) fs.rmSync(dir, { recursive: true, force: true });
            dir = undefined;
        });

        /** What `pulumi stack output --json` prints for the world's stack. */
        function stackOutput(w: World, overrides: Record<string, string> = {}): string {
            const env = { ...w.environment(), ...overrides };
            return JSON.stringify({
                serversTable: env[ENV.serversTable],
                claimsTable: env[ENV.claimsTable],
                zoneId: env[ENV.hostedZoneId],
                functionName: "binder-test-1a2b3c",
                pool: Object.fromEntries(w.ec2.addresses().map(a => [a.publicIp, w.nameOf(a.publicIp, "")])),
                binderSettings: Object.fromEntries(Object.values(ENV).map(name => [name, env[name]])),
            });
        }

        async function bind(w: World): Promise<string> {
            const { instanceId } = w.launch();
            await w.handle(handler, stateChange(instanceId, "running"));
            return instanceId;
        }

        /** Backdates an instance's row, so its age in `status` is known. */
        async function boundAgo(w: World, instanceId: string, ms: number): Promise<void> {
            const row = (await w.servers()).find(r => r.InstanceId === instanceId)!;
            await w.dynamodb.send(new UpdateItemCommand({
                TableName: w.settings.serversTable,
                Key: { EIP: { S: row.EIP }, DNS_Record: { S: row.DNS_Record } },
                UpdateExpression: "SET BoundAt = :at",
                ExpressionAttributeValues: { ":at": { S: new Date(NOW.getTime() - ms).toISOString() } },
            }));
        }

        /**
         * Five addresses: one bound 3 minutes ago, one bound 2 hours ago and handed to a
         * stream, one whose instance terminated without its event, and a running target
         * whose launch event never came.
         */
        async function knownState(): Promise<{ w: World; fresh: string; busy: string; gone: string; lost: string }> {
            const w = await open(5);
            const fresh = await bind(w);
            const busy = await bind(w);
            const gone = await bind(w);
            await boundAgo(w, fresh, 3 * MINUTE + 20_000);
            await boundAgo(w, busy, 2 * 60 * MINUTE + 5 * MINUTE);
            const [busyAddress] = w.addressesOf(busy);
            await w.allocate(busyAddress.publicIp, w.nameOf(busyAddress.publicIp, busy));
            w.ec2.setState(gone, "terminated");
            const lost = w.launch().instanceId;
            return { w, fresh, busy, gone, lost };
        }

        /** Everything the binder keeps, to prove that a command changed nothing. */
        async function snapshot(w: World) {
            return { addresses: w.ec2.addresses(), servers: await w.servers(), claims: await w.claims() };
        }

        it("shows the pool, the drift and a summary", async () => {
            const { w, fresh, busy, gone, lost } = await knownState();
            const written = { logs: w.logs.length, metrics: w.metrics.length };
            const run = await cli(["status"], stackOutput(w));
            expect(run).to.deep.equal({
                code: 0,
                stderr: "",
                stdout: [
                    "ADDRESS       NAME                           INSTANCE             STATE    ALLOCATED  AGE",
                    "198.51.100.1  -                              -                    -        -          -",
                    "198.51.100.2  -                              -                    -        -          -",
                    "198.51.100.3  -                              -                    -        -          -",
                    `198.51.100.4  198-51-100-4.live.example.com  ${busy}  running  yes        2h`,
                    `198.51.100.5  198-51-100-5.live.example.com  ${fresh}  running  no         3m`,
                    "",
                    "KIND            INSTANCE             ADDRESS       DETAIL",
                    `unbound-target  ${lost}  -             running target without a pool address`,
                    `stale-binding   ${gone}  198.51.100.3  instance is terminated`,
                    "",
                    "5 addresses, 3 free, 2 drift",
                    "",
                ].join("\n"),
            });
            expect({ logs: w.logs.length, metrics: w.metrics.length }, "the CLI wrote logs or metrics to standard output").to.deep.equal(written);
        });

        it("prints the inspection as JSON with --json", async () => {
            const { w, fresh, gone, lost } = await knownState();
            const run = await cli(["status", "--json"], stackOutput(w));
            expect(run.code).to.equal(0);
            const inspection: Inspection = JSON.parse(run.stdout);
            expect(inspection).to.have.all.keys("pool", "free", "drift");
            expect(inspection.free).to.equal(3);
            const [address] = w.addressesOf(fresh);
            expect(inspection.pool.find(entry => entry.instanceId === fresh)).to.deep.equal({
                allocationId: address.allocationId,
                publicIp: address.publicIp,
                instanceId: fresh,
                state: "running",
                dnsName: w.nameOf(address.publicIp, fresh),
                allocated: false,
                boundAt: new Date(NOW.getTime() - 3 * MINUTE - 20_000).toISOString(),
            });
            expect(inspection.drift.map(d => [d.kind, d.instanceId])).to.deep.equal([["unbound-target", lost], ["stale-binding", gone]]);
        });

        it("reports drift with --dry-run and changes nothing, then fixes it", async () => {
            const { w, gone, lost } = await knownState();
            const before = await snapshot(w);
            const dry = await cli(["reconcile", "--dry-run"], stackOutput(w));
            expect(dry).to.deep.equal({
                code: 0,
                stderr: "",
                stdout: [
                    "RESULT     KIND            INSTANCE             ADDRESS       DETAIL",
                    `would fix  unbound-target  ${lost}  -             running target without a pool address`,
                    `would fix  stale-binding   ${gone}  198.51.100.3  instance is terminated`,
                    "",
                    "2 drift: dry run, nothing changed",
                    "",
                ].join("\n"),
            });
            expect(await snapshot(w)).to.deep.equal(before);

            const fixed = await cli(["reconcile"], stackOutput(w));
            expect(fixed.code).to.equal(0);
            expect(fixed.stdout.split("\n").slice(1)).to.deep.equal([
                `fixed   unbound-target  ${lost}  -             running target without a pool address`,
                `fixed   stale-binding   ${gone}  198.51.100.3  instance is terminated`,
                "",
                "2 drift: 2 fixed, 0 failed",
                "",
            ]);
            expect(w.addressesOf(lost)).to.have.length(1);
            expect((await w.checkInvariants()).bound).to.equal(3);
            expect(await cli(["reconcile"], stackOutput(w))).to.deep.equal({ code: 0, stdout: "no drift\n", stderr: "" });
        });

        it("exits 1 when a drift could not be fixed, and prints JSON with --json", async () => {
            const w = await open(2);
            const lost = w.launch().instanceId;
            // Refused on both addresses: the bind lets each go and fails.
            w.gateway.inject({ service: "ec2", action: "AssociateAddress", times: 2 });
            const run = await cli(["reconcile", "--json"], stackOutput(w));
            expect(run.code).to.equal(1);
            const result: Reconciliation = JSON.parse(run.stdout);
            expect(result.fixed).to.deep.equal([]);
            expect(result.failed).to.deep.equal([{
                drift: { kind: "unbound-target", state: "running", instanceId: lost, detail: "running target without a pool address" },
                error: "InjectedFault: Injected fault (InjectedFault) for AssociateAddress",
            }]);
        });

        it("writes the binder's logs to standard error only with --verbose", async () => {
            const w = await open(1);
            const lost = w.launch().instanceId;
            const run = await cli(["reconcile", "--dry-run", "--verbose"], stackOutput(w));
            expect(run.code).to.equal(0);
            const lines = run.stderr.trim().split("\n").map(line => JSON.parse(line));
            expect(lines.map(line => line.message)).to.deep.equal(["drift found (dry run)", "reconciled"]);
            expect(lines[0]).to.include({ kind: "unbound-target", instanceId: lost });
        });

        it("releases an instance's binding, and says so when there is none", async () => {
            const { w, gone, lost } = await knownState();
            expect(await cli(["release", gone], stackOutput(w))).to.deep.equal({
                code: 0,
                stdout: `released 198.51.100.3 (198-51-100-3.live.example.com) from ${gone}\n`,
                stderr: "",
            });
            expect((await w.claims()).map(c => c.Id)).not.to.include(gone);
            expect((await w.servers()).map(r => r.InstanceId)).not.to.include(gone);
            expect((await w.checkInvariants()).bound).to.equal(2);
            for (const id of [gone, lost, "i-0123456789abcdef0"]) {
                expect(await cli(["release", id], stackOutput(w))).to.deep.equal({ code: 0, stdout: `nothing bound to ${id}\n`, stderr: "" });
            }
        });

        it("fails with the AWS error's code and message, exit code 1", async () => {
            const w = await open(2);
            w.gateway.inject({ service: "ec2", action: "DescribeAddresses", code: "UnauthorizedOperation", status: 403 });
            expect(await cli(["status"], stackOutput(w))).to.deep.equal({
                code: 1,
                stdout: "",
                stderr: "eip-dns-binder: UnauthorizedOperation: Injected fault (UnauthorizedOperation) for DescribeAddresses\n",
            });
        });

        it("reads --settings from a file, with the tables and zone overridable by flags", async () => {
            const w = await open(2);
            await bind(w);
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "binder-cli-"));
            const file = path.join(dir, "outputs.json");
            fs.writeFileSync(file, stackOutput(w, { [ENV.serversTable]: "old-servers", [ENV.claimsTable]: "old-claims", [ENV.hostedZoneId]: "ZOLD" }));

            const stale = await cli(["status", "--settings", file]);
            expect(stale.code).to.equal(1);
            expect(stale.stderr).to.match(/^eip-dns-binder: ResourceNotFoundException: .*\n$/);

            const { serversTable, claimsTable, hostedZoneId } = w.settings;
            const flags = ["--servers-table", serversTable, "--claims-table", claimsTable, "--zone-id", hostedZoneId];
            const run = await cli(["status", "--settings", file, ...flags], "not read: --settings wins");
            expect(run.stderr).to.equal("");
            expect(run.stdout).to.match(/\n2 addresses, 1 free, 0 drift\n$/);

            const missing = path.join(dir, "missing.json");
            expect(await cli(["status", "--settings", missing])).to.deep.equal({
                code: 2,
                stdout: "",
                stderr: `eip-dns-binder: cannot read --settings ${missing}: ENOENT: no such file or directory, open '${missing}'\n`,
            });
        });

        it("reads the stack output piped into the real process", async () => {
            const w = await open(3);
            await bind(w);
            const run = await cliProcess(["status"], stackOutput(w), w.environment());
            expect(run.stderr).to.equal("");
            expect(run.code).to.equal(0);
            expect(run.stdout).to.match(/\n3 addresses, 2 free, 0 drift\n$/);
        });
    });
});
