// moto's server (python3 -m moto.server), for a second opinion on request and
// response shapes where moto implements an API: started on a free loopback port,
// skipped with a clear message when moto is not installed, required when CI=true.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

export interface Moto {
    endpoint: string;
    process: ChildProcess;
}

/** Whether moto can be imported; throws in CI, where it must be. */
export function motoAvailable(): boolean {
    if (spawnSync("python3", ["-c", "import moto"]).status === 0) return true;
    if (process.env.CI === "true") throw new Error("moto is required in CI: `python3 -c 'import moto'` fails");
    return false;
}

/** A free loopback port, as the system hands one out. */
async function freePort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", () => resolve()));
    const { port } = server.address() as { port: number };
    await new Promise<void>(resolve => server.close(() => resolve()));
    return port;
}

/** moto's server on 127.0.0.1 only, once it answers HTTP; gives up after 30 s. */
export async function startMoto(): Promise<Moto> {
    const port = await freePort();
    const child = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
    const endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`moto exited with ${child.exitCode}: ${stderr}`);
        try {
            await fetch(`${endpoint}/moto-api/`);
            return { endpoint, process: child };
        } catch {
            await new Promise(resolve => setTimeout(resolve, 100));
        }
    }
    await stopMoto(child);
    throw new Error(`moto did not answer on ${endpoint} within 30 s: ${stderr}`);
}

export async function stopMoto(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null) return;
    const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    await exited;
}
