// The Lambda archive exactly as the stack would upload it: captured from the
// CallbackFunction under mocks, expanded to files, zipped for inspection.
import * as fs from "fs";
import * as path from "path";
import { zipSync } from "fflate";
import { DEFAULT_POOL } from "../infra/pools";
import { runStack } from "./mock-stack";

export interface LambdaArchive {
    /** Archive path → contents, as the zip would hold them. */
    files: Map<string, Buffer>;
    /** The function's environment variables as the stack sets them. */
    environment: Record<string, string>;
    runtime: string;
    handler: string;
}

function addDirectory(files: Map<string, Buffer>, prefix: string, dir: string): void {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const source = path.join(dir, entry.name);
        const target = `${prefix}/${entry.name}`;
        if (entry.isDirectory()) addDirectory(files, target, source);
        else files.set(target, fs.readFileSync(source));
    }
}

/** The stack's functions, by resource name: the node hooks' only when nodeRoleArns is set. */
export const FUNCTIONS = ["binder", "reconciler", "hook"] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/** The functions every stack declares, whatever its config. */
const ALWAYS = ["binder", "reconciler"] as const;

/** A stack's archives: the binder's and the reconciler's, and the others it declares. */
export type Archives = Record<(typeof ALWAYS)[number], LambdaArchive> & Partial<Record<FunctionName, LambdaArchive>>;

/** Runs the stack under mocks and returns the archive each of its Lambdas would ship. */
export async function captureArchives(stack: string, overrides: Record<string, unknown> = {}): Promise<Archives> {
    // The stack file's one pool is the top-level one; its functions are named within it.
    const run = (await runStack(stack, overrides)).pool(DEFAULT_POOL);
    const archives: Partial<Record<FunctionName, LambdaArchive>> = {};
    for (const name of FUNCTIONS) {
        const fn = run.ofType("aws:lambda/function:Function").find(r => r.name === name);
        if (fn) archives[name] = await expand(fn.inputs);
        else if ((ALWAYS as readonly string[]).includes(name)) throw new Error(`the stack declares no function named ${name}`);
    }
    return archives as Archives;
}

async function expand(fn: Record<string, any>): Promise<LambdaArchive> {
    const assets: Record<string, any> = await fn.code.assets;
    const files = new Map<string, Buffer>();
    for (const [name, asset] of Object.entries(assets)) {
        if (asset.text !== undefined) files.set(name, Buffer.from(await asset.text));
        else if (fs.statSync(await asset.path).isDirectory()) addDirectory(files, name, await asset.path);
        else files.set(name, fs.readFileSync(await asset.path));
    }
    return { files, environment: fn.environment.variables, runtime: fn.runtime, handler: fn.handler };
}

/** Writes the archive's files under `dir`, as Lambda unpacks them into /var/task. */
export function writeArchive(archive: Pick<LambdaArchive, "files">, dir: string): void {
    for (const [name, contents] of archive.files) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), contents);
    }
}

/** The archive as a deflated zip, the form Lambda receives. */
export function zipArchive(archive: Pick<LambdaArchive, "files">): Uint8Array {
    const entries: Record<string, Uint8Array> = {};
    for (const [name, contents] of archive.files) entries[name] = new Uint8Array(contents);
    return zipSync(entries, { level: 9, mtime: new Date("2026-01-01T00:00:00Z") });
}

/** Packages the Lambda runtime provides, which must never be shipped. */
const RUNTIME_PROVIDED = /^node_modules\/(@aws-sdk|@smithy|aws-sdk)\//;
/** Test, build and deploy tooling, which has no business in the archive. */
const TOOLING = /^node_modules\/(@pulumi|@types|mocha|chai|ts-node|typescript|dynalite|node|fflate|js-yaml|fast-xml-parser)\//;

/** What is wrong with an archive's file list: runtime-provided or tooling packages inside it. */
export function archiveProblems(names: Iterable<string>): string[] {
    const problems = new Set<string>();
    for (const name of names) {
        const pkg = name.split("/").slice(0, name.startsWith("node_modules/@") ? 3 : 2).join("/");
        if (RUNTIME_PROVIDED.test(name)) problems.add(`${pkg} is provided by the Lambda runtime and must not be shipped`);
        else if (TOOLING.test(name)) problems.add(`${pkg} is tooling and must not be shipped`);
    }
    return [...problems];
}
