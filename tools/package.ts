// `npm run package -- --stack dev`: writes the exact Lambda archive the stack
// would upload to dist/, so it can be inspected before `pulumi up`.
import * as fs from "fs";
import * as path from "path";
import { archiveProblems, captureArchives, zipArchive } from "./archive";

function option(name: string, fallback: string): string {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

async function main(): Promise<void> {
    const stack = option("stack", "dev");
    const out = option("out", path.join(__dirname, "..", "dist"));
    if (!fs.existsSync(path.join(__dirname, "..", `Pulumi.${stack}.yaml`))) {
        throw new Error(`no Pulumi.${stack}.yaml: name a stack of this project with --stack`);
    }
    fs.mkdirSync(out, { recursive: true });
    for (const [name, archive] of Object.entries(await captureArchives(stack))) {
        const problems = archiveProblems(archive.files.keys());
        if (problems.length > 0) throw new Error(`the ${name} archive is not fit to ship:\n  ${problems.join("\n  ")}`);
        const zip = zipArchive(archive);
        const file = path.join(out, `eip-dns-binder-${stack}-${name}.zip`);
        fs.writeFileSync(file, zip);
        console.log(`${path.relative(process.cwd(), file)}: ${archive.files.size} file(s), ${(zip.length / 1024).toFixed(1)} KiB zipped, runtime ${archive.runtime}, handler ${archive.handler}`);
    }
}

main().catch(err => {
    console.error(`package: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
});
