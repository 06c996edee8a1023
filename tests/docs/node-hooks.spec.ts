// docs/node-hooks.md's examples work as written: its shell blocks and the scripts in
// its YAML parse, its YAML parses into what it says, a request signed the way the
// examples sign it is accepted, and the scripts themselves, run with bash and sh
// against a node's metadata and the function URL (tests/support/function-url.ts) in
// front of the shipped hook function, bind, wait, drain and give up as the page says.
import { SignatureV4 } from "@smithy/signature-v4";
import { expect } from "chai";
import { execFile, spawnSync } from "node:child_process";
import { request } from "node:http";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { LambdaProcess, startLambda } from "../../tools/lambda-process";
import { shippedArchives, Shipped } from "../support/archives";
import { NodeView, Sha256 } from "../support/function-url";
import { callers } from "../support/hooks";
import { NODE_ROLE, World } from "../support/world";

const DOC = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "node-hooks.md"), "utf8");

/** The page's fenced blocks of one language. */
const blocks = (...languages: string[]) => [...DOC.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].filter(m => languages.includes(m[1])).map(m => m[2]);

const documents = blocks("yaml").flatMap(block => yaml.loadAll(block) as any[]);
const nodeClass = documents.find(d => d.kind === "EC2NodeClass");
const deployment = documents.find(d => d.kind === "Deployment");
const pod = deployment?.spec.template.spec;
const userData: string = nodeClass?.spec.userData ?? "";
const waitScript: string = pod?.initContainers[0].command[2] ?? "";
const preStopScript: string = pod?.containers[0].lifecycle.preStop.exec.command[2] ?? "";
const hookUrl: string = pod?.containers[0].env.find((e: { name: string }) => e.name === "HOOK_URL").value ?? "";
const host = new URL(hookUrl || "https://missing").host;

/** `text` with `from` replaced by `to`; fails when the page no longer has `from`, so a test cannot drift from it. */
function replaced(text: string, from: string, to: string): string {
    expect(text, `the example no longer says ${from}`).to.include(from);
    return text.split(from).join(to);
}

/** Syntax errors `shell -n` finds in `script` (none: ""). */
const syntaxErrors = (shell: string, script: string) => spawnSync(shell, ["-n"], { input: script, encoding: "utf8" }).stderr;

/** Runs `script` with `shell`, with nothing in its environment but a PATH, the proxy and `env`. */
function run(shell: string, script: string, proxy: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
    return new Promise(resolve => {
        execFile(shell, ["-c", script], { env: { PATH: process.env.PATH ?? "", http_proxy: proxy, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
            resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` });
        });
    });
}

describe("docs/node-hooks.md", function () {
    this.timeout(180_000);

    it("has shell blocks that parse", () => {
        const shells = blocks("sh", "bash");
        expect(shells.length).to.be.at.least(3);
        for (const block of shells) expect(syntaxErrors("bash", block), block).to.equal("");
    });

    it("has YAML that parses into an EC2NodeClass with bash user data and a hostNetwork Deployment with the two pod hooks", () => {
        expect(documents.map(d => d.kind)).to.deep.equal(["EC2NodeClass", "Deployment"]);
        expect(nodeClass.apiVersion).to.equal("karpenter.k8s.aws/v1");
        expect(nodeClass.spec.metadataOptions).to.deep.include({ httpTokens: "required", httpPutResponseHopLimit: 1 });
        expect(userData.startsWith("#!/bin/bash\n")).to.equal(true);
        expect(pod.hostNetwork).to.equal(true);
        expect(pod.containers[0].ports[0]).to.deep.include({ hostPort: 1935 });
        expect(pod.initContainers[0].command.slice(0, 2)).to.deep.equal(["/bin/sh", "-c"]);
        expect(pod.containers[0].lifecycle.preStop.exec.command.slice(0, 2)).to.deep.equal(["/bin/sh", "-c"]);
        expect(host).to.match(/^[a-z0-9]{32}\.lambda-url\.us-west-2\.on\.aws$/);
        expect(userData).to.include(`HOOK_URL="${hookUrl}"`);
    });

    it("has scripts in its YAML that parse: the user data with bash, the pod's with a POSIX sh (dash)", () => {
        expect(syntaxErrors("bash", userData)).to.equal("");
        for (const script of [waitScript, preStopScript]) {
            expect(script.length).to.be.greaterThan(100);
            expect(syntaxErrors("dash", script), script).to.equal("");
        }
        expect(syntaxErrors("dash", "if then fi"), "dash -n finds nothing wrong").to.not.equal("");
    });

    describe("against a node's metadata and the hook function", () => {
        let shipped: Shipped;
        let world: World;
        let hook: LambdaProcess;
        let view: NodeView;
        let invocations: number;

        before(async () => { shipped = await shippedArchives(); });

        beforeEach(async () => {
            world = await World.create({ poolSize: 1 });
            hook = await startLambda(shipped.dirs.hook, shipped.archives.hook.handler, world.environment());
            invocations = 0;
            view = await NodeView.start(event => { invocations++; return hook.invoke(event); });
        });

        afterEach(async () => {
            await view.close();
            await hook.close();
            await world.close();
        });

        /** The node is `worker`, with its instance profile's credentials. */
        const become = (instanceId: string, role = NODE_ROLE) => view.become(role, callers.instance(instanceId, role));

        /** Sends a request signed by the SDK's signer to the function URL, as the proxy's client. */
        async function signedRequest(method: string, pathAndQuery: string, signer: SignatureV4): Promise<{ status: number; body: any }> {
            const url = new URL(pathAndQuery, `https://${host}`);
            const signed = await signer.sign({
                method, protocol: "https:", hostname: host, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: { host },
            });
            return new Promise((resolve, reject) => {
                const proxy = new URL(view.proxy);
                const req = request({ host: proxy.hostname, port: proxy.port, method, path: `http://${host}${url.pathname}${url.search}`, headers: signed.headers }, res => {
                    let text = "";
                    res.on("data", chunk => { text += chunk; });
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
                });
                req.on("error", reject);
                req.end();
            });
        }

        it("accepts a request signed as the examples sign it (the SDK's SigV4 signer, service lambda, the session token), and refuses others before the function", async () => {
            const service = /--aws-sigv4 "aws:amz:\$\w+:(\w+)"/.exec(userData)?.[1];
            const bindPath = /ask POST "([^"]+)"/.exec(userData)?.[1];
            expect(service).to.equal("lambda");
            // The credentials reach curl on its standard input (-K -), never on its command line, where any process could read them.
            for (const script of [userData, waitScript, preStopScript, ...blocks("sh", "bash")].filter(text => text.includes("--aws-sigv4"))) {
                expect(script).to.include('header = "x-amz-security-token: %s"').and.include("-K -");
                expect(script).to.not.match(/--user |-u "|-H "x-amz-security-token/);
            }
            const worker = world.launch();
            const credentials = become(worker.instanceId);
            const region = "us-west-2";
            const answer = await signedRequest("POST", bindPath!, new SignatureV4({ service: service!, region, credentials, sha256: Sha256, applyChecksum: false }));
            expect(answer.status).to.equal(200);
            expect(answer.body).to.deep.include({ instanceId: worker.instanceId, allocationId: world.addressesOf(worker.instanceId)[0].allocationId });
            expect(invocations).to.equal(1);

            // The stand-in checks signatures: another service's scope, or another secret, never reaches the function.
            const refused = [
                await signedRequest("GET", "/self", new SignatureV4({ service: "execute-api", region, credentials, sha256: Sha256, applyChecksum: false })),
                await signedRequest("GET", "/self", new SignatureV4({ service: "lambda", region, credentials: { ...credentials, secretAccessKey: "guessed" }, sha256: Sha256, applyChecksum: false })),
            ];
            expect(refused.map(r => r.status)).to.deep.equal([403, 403]);
            expect(refused[1].body.Message).to.equal("Forbidden: the signature does not match");
            expect(invocations).to.equal(1);
        });

        it("the user data, run as written, binds the node, says so and exits", async () => {
            const worker = world.launch();
            become(worker.instanceId);
            const { code, out } = await run("bash", replaced(userData, 'HOOK_URL="https://', 'HOOK_URL="http://'), view.proxy);
            expect(code, out).to.equal(0);
            const [address] = world.addressesOf(worker.instanceId);
            expect(out).to.include(`eip-dns-binder: bound: {"instanceId":"${worker.instanceId}","publicIp":"${address.publicIp}"`);
            expect(view.exchanges.filter(e => e.host === host).map(e => `${e.method} ${e.path} ${e.status}`)).to.deep.equal(["POST /bind?wait=55 200"]);
            await world.checkInvariants();
        });

        it("the user data retries a throttled call and a failed one with backoff, then binds", async () => {
            const worker = world.launch();
            become(worker.instanceId);
            view.failNext(429, 502);
            const { code, out } = await run("bash", replaced(userData, 'HOOK_URL="https://', 'HOOK_URL="http://'), view.proxy);
            expect(code, out).to.equal(0);
            expect(view.exchanges.filter(e => e.host === host).map(e => e.status)).to.deep.equal([429, 502, 200]);
            expect(out).to.include("eip-dns-binder: bound: ");
        });

        it("the user data gives up and lets the node join when the pool stays exhausted; the worker waits for the next release", async () => {
            const holder = world.launch();
            become(holder.instanceId); // it takes the only address
            expect((await run("bash", replaced(userData, 'HOOK_URL="https://', 'HOOK_URL="http://'), view.proxy)).code).to.equal(0);
            const worker = world.launch();
            become(worker.instanceId);
            const script = replaced(replaced(userData, 'HOOK_URL="https://', 'HOOK_URL="http://'), "GIVE_UP_AFTER=600", "GIVE_UP_AFTER=0");
            const { code, out } = await run("bash", script, view.proxy);
            expect(code, out).to.equal(0);
            expect(out).to.match(/eip-dns-binder: no binding after 0s \(last answer 503: .*pool-exhausted.*\); joining anyway, its event binds it/);
            expect(Object.keys(await world.waitlist())).to.deep.equal([worker.instanceId]);
        });

        it("the user data lets a node the hooks refuse join at once", async () => {
            const worker = world.launch();
            view.become("SomeOtherRole", callers.instance(worker.instanceId, "SomeOtherRole"));
            const { code, out } = await run("bash", replaced(userData, 'HOOK_URL="https://', 'HOOK_URL="http://'), view.proxy);
            expect(code, out).to.equal(0);
            expect(out).to.match(/eip-dns-binder: the hook will not bind this node \(403\): .*not one of the node roles.*; joining without it/);
            expect(world.addressesOf(worker.instanceId)).to.deep.equal([]);
        });

        it("the pod's hooks, run as written with sh: the init container waits until the node is published, the preStop hook drains it, the next pod's init container publishes it again", async () => {
            const worker = world.launch();
            become(worker.instanceId);
            const env = { HOOK_URL: replaced(hookUrl, "https://", "http://") };
            const wait = await run("dash", waitScript, view.proxy, env);
            expect(wait.code, wait.out).to.equal(0);
            expect(wait.out).to.include(`this node is bound and published: {"instanceId":"${worker.instanceId}"`);
            expect(await world.servers()).to.have.length(1);

            const stop = await run("dash", preStopScript, view.proxy, env);
            expect(stop.code, stop.out).to.equal(0);
            expect(await world.servers()).to.deep.equal([]);
            expect((await world.drains()).map(d => Object.keys(d).filter(name => name.endsWith("SignalledAt")))).to.deep.equal([["NodeSignalledAt"]]);
            await world.checkInvariants([worker.instanceId]);

            const again = await run("dash", waitScript, view.proxy, env);
            expect(again.code, again.out).to.equal(0);
            expect(await world.drains()).to.deep.equal([]);
            await world.checkInvariants();
        });
    });
});
