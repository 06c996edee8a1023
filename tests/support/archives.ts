// The archives the dev stack ships with the node hooks on, captured once for every
// spec that runs them (capturing serializes each function, which takes seconds),
// and unpacked as Lambda unpacks them into /var/task.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { captureArchives, FUNCTIONS, FunctionName, LambdaArchive, writeArchive } from "../../tools/archive";
import { NODE_ROLE_ARN } from "./world";

export interface Shipped {
    archives: Record<FunctionName, LambdaArchive>;
    /** Each archive unpacked in a directory of its own. */
    dirs: Record<FunctionName, string>;
}

let shipped: Promise<Shipped> | undefined;

async function capture(): Promise<Shipped> {
    const captured = await captureArchives("dev", { nodeRoleArns: [NODE_ROLE_ARN] });
    const archives = {} as Record<FunctionName, LambdaArchive>;
    const dirs = {} as Record<FunctionName, string>;
    for (const name of FUNCTIONS) {
        const archive = captured[name];
        if (!archive) throw new Error(`the dev stack with nodeRoleArns ships no ${name} function`);
        archives[name] = archive;
        dirs[name] = fs.mkdtempSync(path.join(os.tmpdir(), `lambda-task-${name}-`));
        writeArchive(archive, dirs[name]);
    }
    return { archives, dirs };
}

/** Every function's archive, as the dev stack with nodeRoleArns would upload it. */
export function shippedArchives(): Promise<Shipped> {
    shipped ??= capture();
    return shipped;
}
