// Plain-text layout for the reports: aligned columns, short ages, counted nouns.

/** Columns padded to their widest cell, two spaces apart, with no trailing blanks. */
export function table(header: string[], rows: string[][]): string[] {
    const all = [header, ...rows];
    const widths = header.map((_, column) => Math.max(...all.map(row => row[column].length)));
    return all.map(row => row.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd());
}

/** "45s", "3m", "2h", "5d": the largest whole unit, as `ls` and `kubectl` show ages. */
export function age(ms: number): string {
    const seconds = Math.max(0, Math.floor(ms / 1000));
    if (seconds < 60) return `${seconds}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
    return `${Math.floor(seconds / 86400)}d`;
}

const UNITS: [number, string][] = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];

/** "45s", "1m 30s", "2h", "3d 4h": the two largest units, for a time still to come. */
export function span(ms: number): string {
    const seconds = Math.max(0, Math.ceil(ms / 1000));
    const largest = UNITS.findIndex(([size]) => seconds >= size);
    const i = largest < 0 ? UNITS.length - 1 : largest;
    const [size, unit] = UNITS[i];
    const whole = `${Math.floor(seconds / size)}${unit}`;
    if (i === UNITS.length - 1) return whole;
    const [next, nextUnit] = UNITS[i + 1];
    const rest = Math.floor((seconds % size) / next);
    return rest === 0 ? whole : `${whole} ${rest}${nextUnit}`;
}

/** "in 1m 30s" until a deadline, "passed" once it has. */
export const countdown = (ms: number) => (ms > 0 ? `in ${span(ms)}` : "passed");

export function count(n: number, singular: string, plural = `${singular}s`): string {
    return `${n} ${n === 1 ? singular : plural}`;
}

/** An empty cell. */
export const NONE = "-";

/** What `--json` prints. */
export const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
