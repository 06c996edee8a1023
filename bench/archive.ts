// `npm run bench:archive`: the shipped archive's size and cold start (process
// start → handler ready, median of fresh processes) next to an empty handler.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { captureArchives, writeArchive, zipArchive } from "../tools/archive";
import { startLambda } from "../tools/lambda-process";

const RUNS = 15;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function coldStarts(dir: string, env: Record<string, string>): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
        const lambda = await startLambda(dir, "__index.handler", env);
        times.push(lambda.readyMs);
        await lambda.close();
    }
    return times;
}

async function main(): Promise<void> {
    const archive = (await captureArchives("dev")).binder;
    const shipped = fs.mkdtempSync(path.join(os.tmpdir(), "bench-archive-"));
    writeArchive(archive, shipped);
    const empty = { files: new Map([["__index.js", Buffer.from("exports.handler = async () => {};\n")]]) };
    const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-empty-"));
    writeArchive(empty, emptyDir);

    const env = { ...archive.environment, AWS_REGION: "us-west-2", AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench" };
    const binder = await coldStarts(shipped, env);
    const baseline = await coldStarts(emptyDir, env);
    const figures = {
        date: new Date().toISOString(),
        machine: `${os.cpus()[0]?.model ?? "unknown"} x${os.cpus().length}, Node ${process.version}`,
        archive: { files: archive.files.size, zippedBytes: zipArchive(archive).length, coldStartMedianMs: median(binder) },
        emptyHandler: { files: empty.files.size, zippedBytes: zipArchive(empty).length, coldStartMedianMs: median(baseline) },
        coldStartRatio: median(binder) / median(baseline),
        runs: RUNS,
    };
    console.log(`                 files  zipped KiB  cold start (median of ${RUNS})`);
    console.log(`binder archive   ${String(figures.archive.files).padStart(5)}  ${(figures.archive.zippedBytes / 1024).toFixed(1).padStart(10)}  ${figures.archive.coldStartMedianMs.toFixed(1)} ms`);
    console.log(`empty handler    ${String(figures.emptyHandler.files).padStart(5)}  ${(figures.emptyHandler.zippedBytes / 1024).toFixed(1).padStart(10)}  ${figures.emptyHandler.coldStartMedianMs.toFixed(1)} ms`);
    console.log(`cold-start ratio ${figures.coldStartRatio.toFixed(2)}x (the binder loads the AWS SDK v3 clients from the runtime; the empty handler loads nothing)`);
    fs.writeFileSync(path.join(__dirname, "archive.json"), `${JSON.stringify(figures, null, 2)}\n`);
}

main().catch(err => {
    console.error(err);
    process.exit(1);
});
