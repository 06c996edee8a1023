// Which binder was measured: the commit, and a digest of binder/ as it was on
// disk, since the working tree may hold changes not yet committed.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, sep } from "node:path";

export interface Revision {
    commit: string;
    binderModified: boolean;
    binderDigest: string;
}

const git = (...args: string[]) => {
    try {
        return execFileSync("git", args, { cwd: __dirname, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
        return "";
    }
};

export function binderRevision(): Revision {
    const dir = join(__dirname, "..", "binder");
    const hash = createHash("sha256");
    // Every .ts file under binder/, its AWS layer in binder/aws/ too, by its path inside binder/.
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter(f => f.endsWith(".ts")).map(f => f.split(sep).join("/")).sort();
    for (const file of files) hash.update(file).update(readFileSync(join(dir, file)));
    return {
        commit: git("rev-parse", "HEAD") || "unknown",
        binderModified: git("status", "--porcelain", "--", "../binder") !== "",
        binderDigest: hash.digest("hex").slice(0, 16),
    };
}
