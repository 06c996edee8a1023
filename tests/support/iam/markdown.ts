// Policies kept in the docs are tested as written: the JSON block under a heading.
import * as fs from "fs";

/** The first ```json block after the line `heading` in `file`, parsed. */
export function jsonBlockAfter(file: string, heading: string): any {
    const text = fs.readFileSync(file, "utf8");
    const start = text.indexOf(`\n${heading}\n`);
    if (start < 0) throw new Error(`${file} has no heading '${heading}'`);
    const block = /```json\n([\s\S]*?)\n```/.exec(text.slice(start));
    if (!block) throw new Error(`${file} has no json block under '${heading}'`);
    return JSON.parse(block[1]);
}
