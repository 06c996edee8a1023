// The operator CLI against the same stand-ins as the binder: in-process through
// `main` with a fixed clock, and once as a real process through bin/.
import { ScanCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { createEventHandler, EventHandler } from "../../binder";
import { DnsRecordsMode, ENV } from "../../binder/config";
import { Inspection, Reconciliation } from "../../binder/reconcile";
import { drainKey } from "../../binder/schema";
import { Store } from "../../binder/aws/store";
import { COMMAND_HELP, USAGE } from "../../cli/args";
import { age, countdown } from "../../cli/format";
import { main } from "../../cli/main";
import { AwsCall } from "../support/aws/gateway";
import { stateChange, World } from "../support/world";

const BIN = path.join(__dirname, "..", "..", "bin", "eip-dns-binder.js");
const NOW = new Date();
const MINUTE = 60_000;

interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs the CLI in-process; `stdin` undefined stands for a terminal, and its clock says `now`. */
async function cli(argv: string[], stdin?: string, now = NOW): Promise<Run> {
    const run = { code: 0, stdout: "", stderr: "" };
    run.code = await main(argv, {
        stdin: async () => stdin,
        stdout: text => { run.stdout += text; },
        stderr: text => { run.stderr += text; },
        now: () => now,
    });
    return run;
}

/** `ms` after `at`. */
const after = (at: Date, ms: number) => new Date(at.getTime() + ms);

/** Calls that change something, in any service. */
const WRITES = ["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem", "AssociateAddress", "DisassociateAddress", "ChangeResourceRecordSets"];
const isWrite = (call: AwsCall) => WRITES.includes(call.action);

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

/** Runs `fn` with some environment variables set (or, undefined, unset), then puts them back. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.keys(vars).map(name => [name, process.env[name]]));
    const apply = (values: Record<string, string | undefined>) => {
        for (const [name, value] of Object.entries(values)) {
            if (value === undefined) delete process.env[name];
            else process.env[name] = value;
        }
    };
    apply(vars);
    try {
        return await fn();
    } finally {
        apply(saved);
    }
}

/** No profile files, so the SDK's chain finds only what the environment gives it. */
const NO_PROFILE = { AWS_PROFILE: undefined, AWS_CONFIG_FILE: "/nonexistent/config", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials" };

describe("the operator CLI", function () {
    this.timeout(120_000);

    describe("without settings or AWS", () => {
        it("prints its usage for --help and help", async () => {
            expect(await cli(["--help"])).to.deep.equal({ code: 0, stdout: USAGE, stderr: "" });
            expect(await cli(["help"])).to.deep.equal({ code: 0, stdout: USAGE, stderr: "" });
        });

        it("prints each command's own help for <command> --help and help <command>", async () => {
            const commands = ["status", "reconcile", "release", "drain", "undrain", "help"] as const;
            for (const command of commands) {
                const help = COMMAND_HELP[command];
                expect(help, command).to.match(new RegExp(`^Usage: eip-dns-binder ${command}`)).and.include("Example:\n").and.include(`eip-dns-binder ${command}`);
                const anyway = command === "help" ? [] : [[command, "i-0123456789abcdef0", "--help"]];
                for (const argv of [[command, "--help"], [command, "-h"], ["help", command], ...anyway]) {
                    expect(await cli(argv), argv.join(" ")).to.deep.equal({ code: 0, stdout: help, stderr: "" });
                }
            }
            expect(new Set(commands.map(command => COMMAND_HELP[command])).size, "two commands share a help").to.equal(commands.length);
            expect(COMMAND_HELP.release).to.include("--force");
            expect(COMMAND_HELP.reconcile).to.include("--dry-run");
        });

        it("fails a wrong command line with one line and exit code 2", async () => {
            const cases: [string[], string][] = [
                [[], "missing command (see eip-dns-binder --help)"],
                [["deploy"], "unknown command 'deploy': the commands are status, reconcile, release, drain, undrain, help (see eip-dns-binder --help)"],
                [["stauts"], "unknown command 'stauts': did you mean status? (see eip-dns-binder --help)"],
                [["relase", "i-0123456789abcdef0"], "unknown command 'relase': did you mean release? (see eip-dns-binder --help)"],
                [["help", "drian"], "unknown command 'drian': did you mean drain? (see eip-dns-binder --help)"],
                [["help", "status", "now"], "unexpected argument 'now' (see eip-dns-binder --help)"],
                [["status", "--bogus"], "unknown option '--bogus' (see eip-dns-binder --help)"],
                [["status", "--force"], "--force does not apply to status (see eip-dns-binder status --help)"],
                [["status", "--dry-run"], "--dry-run does not apply to status (see eip-dns-binder status --help)"],
                [["status", "--timeout", "0"], "--timeout must be a number of seconds from 1 to 300, not '0' (see eip-dns-binder --help)"],
                [["status", "--timeout", "soon"], "--timeout must be a number of seconds from 1 to 300, not 'soon' (see eip-dns-binder --help)"],
                [["reconcile", "now"], "unexpected argument 'now' (see eip-dns-binder reconcile --help)"],
                [["release"], "release needs an instance id (see eip-dns-binder release --help)"],
                [["release", "i-ZZZ"], "'i-ZZZ' is not an instance id: expected i- and 8 to 17 hex digits (see eip-dns-binder release --help)"],
                [["release", "web-1"], "'web-1' is not an instance id: expected i- and 8 to 17 hex digits (see eip-dns-binder release --help)"],
                [["drain"], "drain needs an instance id (see eip-dns-binder drain --help)"],
                [["undrain"], "undrain needs an instance id (see eip-dns-binder undrain --help)"],
                [["drain", "web-1"], "'web-1' is not an instance id: expected i- and 8 to 17 hex digits (see eip-dns-binder drain --help)"],
                [["undrain", "i-0123"], "'i-0123' is not an instance id: expected i- and 8 to 17 hex digits (see eip-dns-binder undrain --help)"],
                [["drain", "i-0123456789abcdef0", "i-0123456789abcdef1"], "unexpected argument 'i-0123456789abcdef1' (see eip-dns-binder drain --help)"],
                [["undrain", "i-0123456789abcdef0", "now"], "unexpected argument 'now' (see eip-dns-binder undrain --help)"],
                [["drain", "--json", "i-0123456789abcdef0"], "--json does not apply to drain (see eip-dns-binder drain --help)"],
                [["drain", "--force", "i-0123456789abcdef0"], "--force does not apply to drain (see eip-dns-binder drain --help)"],
                [["undrain", "--dry-run", "i-0123456789abcdef0"], "--dry-run does not apply to undrain (see eip-dns-binder undrain --help)"],
            ];
            for (const [argv, message] of cases) {
                expect(await cli(argv, "{}"), argv.join(" ")).to.deep.equal({
                    code: 2,
                    stdout: "",
                    stderr: `eip-dns-binder: ${message}\n`,
                });
            }
        });

        it("says how to provide settings when it has none, or they are not a stack output", async () => {
            const cases: [string | undefined, string][] = [
                [undefined, "no stack settings: pipe `pulumi stack output --json` into this command, or pass --settings <file>"],
                ["  \n", "no stack settings: pipe `pulumi stack output --json` into this command, or pass --settings <file>"],
                ["Current stack outputs (2):", "standard input is not JSON: expected the output of `pulumi stack output --json`"],
                ['{"serversTable": "servers"}', "standard input has no binderSettings object: expected the output of `pulumi stack output --json` from a stack that exports it"],
                [JSON.stringify({ binderSettings: { [ENV.stack]: "dev" } }), "bad settings in standard input: binderSettings.BINDER_INSTANCE_TAGS must be"],
                [JSON.stringify({ pools: { edge: { binderSettings: { [ENV.stack]: "dev" } } } }), "bad settings in standard input: pools.edge.binderSettings.BINDER_INSTANCE_TAGS must be"],
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

        it("counts down to a deadline in its two largest units", () => {
            const left = [-1, 0, 1, 45_000, 60_000, 90_000, 89_001, 60 * MINUTE + 5 * MINUTE + 7_000, 2 * 60 * MINUTE, 27 * 60 * MINUTE].map(countdown);
            expect(left).to.deep.equal(["passed", "passed", "in 1s", "in 45s", "in 1m", "in 1m 30s", "in 1m 30s", "in 1h 5m", "in 2h", "in 1d 3h"]);
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

        async function open(poolSize: number, dnsRecords?: DnsRecordsMode): Promise<World> {
            world = await World.create({ poolSize, dnsRecords });
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

        async function bind(w: World, spot = false): Promise<string> {
            const { instanceId } = spot ? w.launchSpot() : w.launch();
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

        /** Every item of the claims table: claims, locks, drain marks and the waitlist. */
        async function claimsTable(w: World): Promise<Record<string, unknown>[]> {
            const out = await w.dynamodb.send(new ScanCommand({ TableName: w.settings.claimsTable, ConsistentRead: true }));
            return (out.Items ?? []).map(item => Object.fromEntries(Object.entries(item).map(([name, value]) => [name, value.S ?? value.BOOL ?? value.N])));
        }

        /** Everything the binder keeps, to prove that a command changed nothing. */
        async function snapshot(w: World) {
            return { addresses: w.ec2.addresses(), servers: await w.servers(), claims: await claimsTable(w), records: w.route53.records("A") };
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
            expect(inspection).to.have.all.keys("pool", "free", "drift", "draining", "waiting");
            expect(inspection.free).to.equal(3);
            expect([inspection.draining, inspection.waiting]).to.deep.equal([[], []]);
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

        it("refuses to release a worker EC2 shows live, or whose row is allocated, saying what --force would do, and writes nothing", async () => {
            const { w, fresh, busy } = await knownState();
            const stopped = await bind(w);
            w.ec2.setState(stopped, "stopped");
            // Allocated, though EC2 shows it going: a stream is still on its row.
            const leaving = await bind(w);
            const [leavingAddress] = w.addressesOf(leaving);
            await w.allocate(leavingAddress.publicIp, w.nameOf(leavingAddress.publicIp, leaving));
            w.ec2.setState(leaving, "shutting-down");
            const before = await snapshot(w);
            const seen = w.gateway.calls.length;

            const cases: [string, string][] = [
                [fresh, "EC2 shows it running"],
                [busy, "EC2 shows it running; its row is allocated to a stream"],
                [stopped, "EC2 shows it stopped"],
                [leaving, "its row is allocated to a stream"],
            ];
            for (const [instanceId, reasons] of cases) {
                const [address] = w.addressesOf(instanceId);
                const name = w.nameOf(address.publicIp, instanceId);
                expect(await cli(["release", instanceId], stackOutput(w)), instanceId).to.deep.equal({
                    code: 2,
                    stdout: "",
                    stderr: `eip-dns-binder: not released: ${instanceId} is a live worker (${reasons}); nothing written. `
                        + `With --force, release would take ${address.publicIp} off it (its name ${name} stays with the address), `
                        + `and delete its row (${address.publicIp}, ${name}) from ${w.settings.serversTable} and its claim, while the worker runs on; `
                        + `to stop new streams on it instead: eip-dns-binder drain ${instanceId}\n`,
                });
            }
            expect(w.gateway.calls.slice(seen).filter(isWrite), "a refused release wrote").to.deep.equal([]);
            expect(await snapshot(w)).to.deep.equal(before);

            expect(await cli(["release", "--force", busy], stackOutput(w))).to.deep.equal({
                code: 0,
                stdout: `released 198.51.100.4 (198-51-100-4.live.example.com) from ${busy}\n`,
                stderr: "",
            });
            expect(w.addressesOf(busy)).to.deep.equal([]);
            expect((await w.servers()).map(r => r.InstanceId)).not.to.include(busy);
        });

        it("takes the Region from the stack output's serversStream when the environment has none, and says when neither has one", async () => {
            const w = await open(2);
            await bind(w);
            const withStream = (region: string) => JSON.stringify({ ...JSON.parse(stackOutput(w)), serversStream: `arn:aws:dynamodb:${region}:123456789012:table/servers/stream/2026-01-01T00:00:00.000` });
            await withEnv({ ...NO_PROFILE, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined }, async () => {
                const run = await cli(["status"], withStream("eu-west-1"));
                expect(run.stderr).to.equal("");
                expect(run.stdout).to.match(/\n2 addresses, 1 free, 0 drift\n$/);
                expect(await cli(["status"], stackOutput(w))).to.deep.equal({
                    code: 2,
                    stdout: "",
                    stderr: "eip-dns-binder: no AWS region: set AWS_REGION, or pipe in a stack output that has serversStream (its ARN names the stack's Region)\n",
                });
            });
        });

        it("gives up on an endpoint that never answers within --timeout, naming it", async () => {
            const w = await open(1);
            // Accepts every connection and never says a word.
            const silent = net.createServer(() => {});
            const sockets: net.Socket[] = [];
            silent.on("connection", socket => sockets.push(socket));
            await new Promise<void>(resolve => silent.listen(0, "127.0.0.1", resolve));
            const { port } = silent.address() as net.AddressInfo;
            try {
                const started = Date.now();
                const run = await withEnv({ AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` }, () => cli(["status", "--timeout", "1"], stackOutput(w)));
                const took = Date.now() - started;
                expect(run.code).to.equal(1);
                expect(run.stdout).to.equal("");
                expect(run.stderr).to.match(new RegExp(`^eip-dns-binder: http://127\\.0\\.0\\.1:${port} did not answer within 1s \\(timed out\\), calling (EC2|DynamoDB) \\w+\n$`));
                expect(took, "took longer than one timeout and a margin").to.be.below(4000);
            } finally {
                for (const socket of sockets) socket.destroy();
                await new Promise(resolve => silent.close(resolve));
            }
        });

        it("says there are no credentials when the SDK's chain finds none", async () => {
            const w = await open(1);
            const none = { ...NO_PROFILE, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_EC2_METADATA_DISABLED: "true",
                AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_WEB_IDENTITY_TOKEN_FILE: undefined };
            const run = await withEnv(none, () => cli(["status"], stackOutput(w)));
            expect(run.code).to.equal(1);
            expect(run.stderr).to.match(/^eip-dns-binder: no AWS credentials: the SDK's default chain found none \(.*\); set AWS_PROFILE, log in with aws sso login, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n$/);
        });

        /** The stack's bookkeeping as the binder's own store reads it. */
        const storeOf = (w: World) => new Store(w.dynamodb, w.settings.serversTable, w.settings.claimsTable);

        /** The item that marks `instanceId` draining, as stored. */
        async function markOf(w: World, instanceId: string): Promise<Record<string, unknown> | undefined> {
            return (await claimsTable(w)).find(item => item.Id === drainKey(instanceId));
        }

        /** The one line `drain` prints for a bound worker. */
        function drained(w: World, instanceId: string, what = `drained ${instanceId}`): string {
            const [address] = w.addressesOf(instanceId);
            return `${what}: not on the servers table while it drains; it keeps ${address.publicIp} (${w.nameOf(address.publicIp, instanceId)}) `
                + `and its claim until it terminates; undo with: eip-dns-binder undrain ${instanceId}\n`;
        }

        /** An EC2 Spot Instance Interruption Warning, as AWS sends it, sent at `time`. */
        function spotWarning(instanceId: string, time: Date): Record<string, unknown> {
            return {
                "version": "0",
                "id": `evt-${instanceId}-spot`,
                "detail-type": "EC2 Spot Instance Interruption Warning",
                "source": "aws.ec2",
                "account": "123456789012",
                "time": time.toISOString().replace(/\.\d+Z$/, "Z"),
                "region": "us-east-1",
                "resources": [`arn:aws:ec2:us-east-1a:instance/${instanceId}`],
                "detail": { "instance-id": instanceId, "instance-action": "terminate" },
            };
        }

        for (const dnsRecords of ["per-address", "per-binding"] as const) {
            it(`drains a bound worker: its row goes; its address, name, claim and lock stay (${dnsRecords})`, async () => {
                const w = await open(2, dnsRecords);
                const worker = await bind(w);
                const other = await bind(w);
                const [address] = w.addressesOf(worker);
                const name = w.nameOf(address.publicIp, worker);
                const records = w.route53.records("A");
                const at = new Date();

                expect(await cli(["drain", worker], stackOutput(w), at)).to.deep.equal({ code: 0, stdout: drained(w, worker), stderr: "" });
                expect((await w.servers()).map(row => row.InstanceId)).to.deep.equal([other]);
                expect(w.addressesOf(worker)).to.deep.equal([address]);
                expect((await w.claims()).find(claim => claim.Id === worker)).to.include({ AllocationId: address.allocationId, DnsName: name });
                expect((await w.locks()).find(lock => lock.Id === address.allocationId)).to.include({ InstanceId: worker });
                expect(w.route53.records("A"), "a name changed").to.deep.equal(records);
                if (dnsRecords === "per-binding") expect(records.map(r => [r.name, r.values])).to.deep.include([`${name}.`, [address.publicIp]]);
                expect(await markOf(w, worker)).to.deep.equal({ Id: drainKey(worker), OperatorSignalledAt: at.toISOString(), OperatorRecordedAt: at.toISOString() });
            });
        }

        it("drains a worker once: a second drain says it is already draining and writes nothing", async () => {
            const w = await open(1);
            const worker = await bind(w);
            const at = new Date();
            expect((await cli(["drain", worker], stackOutput(w), at)).code).to.equal(0);
            const before = await snapshot(w);
            const seen = w.gateway.calls.length;

            const again = await cli(["drain", worker], stackOutput(w), after(at, 5 * MINUTE));
            expect(again).to.deep.equal({ code: 0, stdout: drained(w, worker, `${worker} is already draining (operator, signalled 5m ago)`), stderr: "" });
            expect(await snapshot(w)).to.deep.equal(before);
            expect((await markOf(w, worker))?.OperatorRecordedAt, "the first mark was replaced").to.equal(at.toISOString());
            const writes = w.gateway.calls.slice(seen).filter(isWrite);
            expect(writes.filter(call => call.outcome === "ok"), "a write took effect").to.deep.equal([]);
        });

        it("refuses to drain an instance EC2 does not show, one that is not a worker, or one stopped or going away, and writes nothing", async () => {
            const w = await open(4);
            const stranger = w.launch({ team: "other" }).instanceId;
            const [leaving, gone, stopped, ahead] = [await bind(w), await bind(w), await bind(w), await bind(w)];
            w.ec2.setState(leaving, "shutting-down");
            w.ec2.setState(gone, "terminated");
            w.ec2.setState(stopped, "stopped");
            const launched = new Date(w.ec2.instance(ahead)!.launchTime).toISOString();
            const before = await snapshot(w);
            const seen = w.gateway.calls.length;

            const cases: [string, string, Date][] = [
                ["i-0123456789abcdef0", "EC2 does not show i-0123456789abcdef0 in this account and region; nothing drained", new Date()],
                [stranger, `${stranger} is not one of this stack's workers: it lacks the instance tags team=live, karpenter.sh/nodepool=media; nothing drained`, new Date()],
                [leaving, `${leaving} is shutting-down: it is going away already; the binder releases it`, new Date()],
                [gone, `${gone} is terminated: it is going away already; the binder releases it`, new Date()],
                [stopped, `${stopped} is stopped: the binder withdraws its row while it is stopped, and a drain would not outlast its next start; nothing drained`, new Date()],
                // A clock behind EC2's: by it, the worker has not started yet.
                [ahead, `${ahead} started at ${launched}, later than this machine's clock says it is (${NOW.toISOString()}): check the clock; nothing drained`, NOW],
            ];
            for (const [instanceId, message, now] of cases) {
                expect(await cli(["drain", instanceId], stackOutput(w), now), instanceId).to.deep.equal({ code: 1, stdout: "", stderr: `eip-dns-binder: ${message}\n` });
            }
            expect(await snapshot(w)).to.deep.equal(before);
            expect(w.gateway.calls.slice(seen).filter(isWrite), "a refused drain wrote").to.deep.equal([]);
        });

        it("undrains a worker: its row is published again, and says so when it was not draining", async () => {
            const w = await open(2);
            const worker = await bind(w);
            const [address] = w.addressesOf(worker);
            const at = new Date();
            await cli(["drain", worker], stackOutput(w), at);
            expect(await w.servers()).to.deep.equal([]);

            expect(await cli(["undrain", worker], stackOutput(w), after(at, 10 * MINUTE))).to.deep.equal({
                code: 0,
                stdout: `undrained ${worker} (operator, signalled 10m ago): ${address.publicIp} (${w.nameOf(address.publicIp, worker)}) is on the servers table again\n`,
                stderr: "",
            });
            expect(await markOf(w, worker)).to.equal(undefined);
            expect((await w.servers()).map(row => [row.InstanceId, row.EIP, row.allocated])).to.deep.equal([[worker, address.publicIp, false]]);
            expect((await w.checkInvariants()).bound).to.equal(1);

            const idle = w.launch().instanceId;
            for (const instanceId of [worker, idle, "i-0123456789abcdef0"]) {
                expect(await cli(["undrain", instanceId], stackOutput(w))).to.deep.equal({ code: 0, stdout: `${instanceId} is not draining\n`, stderr: "" });
            }
            expect(await w.servers()).to.have.length(1);
        });

        it("undrains a worker when the drain item's delete took effect but its answer was lost", async () => {
            const w = await open(2);
            const worker = await bind(w);
            const [address] = w.addressesOf(worker);
            const at = new Date();
            await cli(["drain", worker], stackOutput(w), at);
            // The delete takes effect, the answer is a 500; the SDK's retry then finds its condition false.
            w.gateway.inject({ service: "dynamodb", action: "DeleteItem", when: "after", code: "InternalError", status: 500, match: call => JSON.stringify(call.input).includes(`drain/${worker}`) });
            const run = await cli(["undrain", worker], stackOutput(w), after(at, 10 * MINUTE));
            expect(run.stdout, "the operator was told the drain stands").to.match(/^undrained /);
            expect(await markOf(w, worker)).to.equal(undefined);
            expect((await w.servers()).map(row => [row.InstanceId, row.EIP])).to.deep.equal([[worker, address.publicIp]]);
        });

        it("undrains a stopped worker without publishing it, and exits 1 when publishing fails", async () => {
            const w = await open(2);
            const [stopped, failing] = [await bind(w), await bind(w)];
            const at = new Date();
            for (const instanceId of [stopped, failing]) expect((await cli(["drain", instanceId], stackOutput(w), at)).code).to.equal(0);
            w.ec2.setState(stopped, "stopped");
            expect(await cli(["undrain", stopped], stackOutput(w), at)).to.deep.equal({
                code: 0,
                stdout: `undrained ${stopped} (operator, signalled 0s ago): not published, EC2 does not show it running\n`,
                stderr: "",
            });
            expect(await markOf(w, stopped)).to.equal(undefined);

            w.gateway.inject({ service: "ec2", action: "DescribeInstances", code: "UnauthorizedOperation", status: 403 });
            expect(await cli(["undrain", failing], stackOutput(w), at)).to.deep.equal({
                code: 1,
                stdout: `undrained ${failing} (operator, signalled 0s ago), but publishing it failed; the reconciler tries again on its next run\n`,
                stderr: "eip-dns-binder: UnauthorizedOperation: Injected fault (UnauthorizedOperation) for DescribeInstances\n",
            });
            expect(await markOf(w, failing)).to.equal(undefined);
            const fixed = await cli(["reconcile"], stackOutput(w), at);
            expect(fixed.stdout).to.include(`fixed   unpublished-binding  ${failing}`);
            expect((await w.servers()).map(row => row.InstanceId)).to.deep.equal([failing]);
        });

        it("shows draining and waiting workers in status, and in its JSON", async () => {
            const w = await open(3);
            const [spot, manual, busy] = [await bind(w, true), await bind(w), await bind(w)];
            const late = w.launch().instanceId;
            // The pool is exhausted: the bind fails, and the worker waits for an address.
            await w.handle(handler, stateChange(late, "running")).then(() => expect.fail("bound from an exhausted pool"), (err: Error) => expect(err.name).to.equal("PoolExhaustedError"));
            const gone = w.launch().instanceId;
            w.ec2.setState(gone, "terminated");
            // A whole second, at or after every launch: the time of an EventBridge event.
            const t0 = new Date(Math.ceil(Date.now() / 1000) * 1000);
            // EC2 marks the Spot request before it warns: the binder confirms the warning with it.
            w.ec2.interruptSpot(spot);
            await w.handle(handler, spotWarning(spot, t0));
            expect((await cli(["drain", manual], stackOutput(w), after(t0, 10_000))).code).to.equal(0);
            await storeOf(w).wait([busy], after(t0, -2 * 60 * MINUTE).toISOString());
            await storeOf(w).wait([gone], after(t0, -10 * MINUTE).toISOString());
            const lateSince = (await storeOf(w).waiting()).find(entry => entry.instanceId === late)!.since;
            const ip = (instanceId: string) => w.addressesOf(instanceId)[0].publicIp;

            const now = after(t0, 30_000);
            const run = await cli(["status"], stackOutput(w), now);
            expect(run.code).to.equal(0);
            expect(run.stderr).to.equal("");
            const sections = run.stdout.split("\n\n");
            expect(sections.slice(1)).to.deep.equal([
                [
                    "INSTANCE             ADDRESS       CAUSE              AGE  DEADLINE   STATE",
                    `${spot}  ${ip(spot)}  spot-interruption  30s  in 1m 30s  running`,
                    `${manual}  ${ip(manual)}  operator           20s  -          running`,
                ].join("\n"),
                [
                    "INSTANCE             WAITING  NOTE",
                    `${busy}  2h       holds an address`,
                    `${gone}  10m      no longer a running target`,
                    `${late}  ${age(now.getTime() - Date.parse(lateSince)).padEnd(7)}  -`,
                ].join("\n"),
                [
                    "KIND            INSTANCE             ADDRESS  DETAIL",
                    `unbound-target  ${late}  -        running target without a pool address`,
                ].join("\n"),
                "3 addresses, 0 free, 1 drift, 2 draining, 3 waiting\n",
            ]);
            // Drained workers keep their addresses and names, but have no row to say whether or how long they have served.
            const pool = sections[0].split("\n");
            for (const instanceId of [spot, manual]) {
                const name = `${ip(instanceId).replace(/\./g, "-")}\\.live\\.example\\.com`;
                expect(pool.find(line => line.includes(instanceId))).to.match(new RegExp(`^${ip(instanceId).replace(/\./g, "\\.")}\\s+${name}\\s+${instanceId}\\s+running\\s+-\\s+-$`));
            }

            const later = (await cli(["status"], stackOutput(w), after(t0, 3 * MINUTE))).stdout.split("\n\n")[1].split("\n");
            expect(later.slice(1)).to.deep.equal([
                `${spot}  ${ip(spot)}  spot-interruption  3m   passed    running`,
                `${manual}  ${ip(manual)}  operator           2m   -         running`,
            ]);

            const inspection: Inspection = JSON.parse((await cli(["status", "--json"], stackOutput(w), now)).stdout);
            expect(inspection.draining.map(({ instanceId, signals, state }) => ({ instanceId, signals: signals.map(({ cause, signalledAt, deadline }) => ({ cause, signalledAt, deadline })), state }))).to.have.deep.members([
                { instanceId: spot, signals: [{ cause: "spot-interruption", signalledAt: t0.toISOString(), deadline: after(t0, 2 * MINUTE).toISOString() }], state: "running" },
                { instanceId: manual, signals: [{ cause: "operator", signalledAt: after(t0, 10_000).toISOString(), deadline: undefined }], state: "running" },
            ]);
            expect(inspection.waiting.map(({ instanceId, holds, running }) => [instanceId, holds, running])).to.deep.equal([[busy, true, true], [gone, false, false], [late, false, true]]);
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
