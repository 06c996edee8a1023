// Which binder was measured: the commit, and a digest of binder/ as it was on
// disk, since the working tree may hold changes not yet committed.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

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
    for (const file of readdirSync(dir).filter(f => f.endsWith(".ts")).sort()) hash.update(file).update(readFileSync(join(dir, file)));
    return {
        commit: git("rev-parse", "HEAD") || "unknown",
        binderModified: git("status", "--porcelain", "--", "../binder") !== "",
        binderDigest: hash.digest("hex").slice(0, 16),
    };
}
