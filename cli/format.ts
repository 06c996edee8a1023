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

export function count(n: number, singular: string, plural = `${singular}s`): string {
    return `${n} ${n === 1 ? singular : plural}`;
}

/** An empty cell. */
export const NONE = "-";

/** What `--json` prints. */
export const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
