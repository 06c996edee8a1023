// Runs an unpacked Lambda archive in a fresh Node process, the way the Lambda
// runtime would: the archive's own files, plus the AWS SDK v3 the runtime
// provides, and nothing else from this project's node_modules.
import { ChildProcess, fork } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const HOST = path.join(__dirname, "lambda-host.js");
const PROJECT_MODULES = path.join(__dirname, "..", "node_modules");

export interface InvokeResult {
    /** What the handler returned, when it did not throw. */
    value?: unknown;
    error?: { name: string; message: string };
}

export interface LambdaProcess {
    /** Milliseconds from spawning the process until the handler was loaded. */
    readyMs: number;
    /** Lines the function wrote to stdout. */
    logs: string[];
    /** Invokes the handler; its context says `timeLeftMs` (default: Lambda's longest timeout, 15 minutes) remain. */
    invoke(event: unknown, timeLeftMs?: number): Promise<InvokeResult>;
    close(): Promise<void>;
}

let runtimeModules: string | undefined;

/** A folder holding only what the Lambda Node.js runtime provides: the AWS SDK v3 (@aws-sdk, @smithy). */
export function runtimeProvidedModules(): string {
    if (runtimeModules) return runtimeModules;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambda-runtime-"));
    fs.mkdirSync(path.join(dir, "node_modules"));
    for (const scope of ["@aws-sdk", "@smithy"]) {
        fs.symlinkSync(path.join(PROJECT_MODULES, scope), path.join(dir, "node_modules", scope));
    }
    runtimeModules = path.join(dir, "node_modules");
    return runtimeModules;
}

/** Starts the archive in `dir` with `env`; rejects with the loader's error if the handler cannot load. */
export function startLambda(dir: string, handler: string, env: Record<string, string>): Promise<LambdaProcess> {
    const started = process.hrtime.bigint();
    const child: ChildProcess = fork(HOST, [dir, handler], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "", NODE_PATH: runtimeProvidedModules(), ...env },
        stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const logs: string[] = [];
    let buffered = "";
    let received = 0;
    // Results whose log lines have not all arrived yet, by how many bytes of stdout they wait for.
    let held: { written: number; settle: () => void }[] = [];
    const release = () => {
        const ready = held.filter(h => h.written <= received);
        held = held.filter(h => h.written > received);
        for (const h of ready) h.settle();
    };
    child.stdout!.on("data", (chunk: Buffer) => {
        received += chunk.length;
        buffered += chunk.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        logs.push(...lines);
        release();
    });
    let stderr = "";
    child.stderr!.on("data", chunk => { stderr += chunk.toString(); });

    const pending = new Map<string, (result: InvokeResult) => void>();
    let serial = 0;
    return new Promise((resolve, reject) => {
        child.once("exit", code => reject(new Error(`the Lambda process exited with ${code} before it was ready: ${stderr}`)));
        child.on("message", (message: any) => {
            if (message.type === "init-error") {
                reject(new Error(`the handler could not load: ${message.error.name}: ${message.error.message}`));
            } else if (message.type === "ready") {
                resolve({
                    readyMs: Number(process.hrtime.bigint() - started) / 1e6,
                    logs,
                    invoke(event, timeLeftMs = 900_000) {
                        const id = `invoke-${++serial}`;
                        return new Promise(done => {
                            pending.set(id, done);
                            child.send({ id, event, timeLeftMs });
                        });
                    },
                    close() {
                        return new Promise(closed => {
                            if (child.exitCode !== null) return closed();
                            child.removeAllListeners("exit");
                            child.once("exit", () => closed());
                            child.disconnect();
                        });
                    },
                });
            } else if (message.type === "result") {
                const done = pending.get(message.id);
                pending.delete(message.id);
                const result = message.error ? { error: message.error } : message.value === undefined ? {} : { value: message.value };
                held.push({ written: message.written ?? 0, settle: () => done?.(result) });
                release();
            }
        });
    });
}
