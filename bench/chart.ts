// The burst chart: workers bound over time, one step line per binder, and the
// floor: the most associations EC2's mutating bucket allows by each second.
import { LIMITS } from "./buckets";
import { el, points, svgDocument, text } from "./svg";

export interface Series {
    label: string;
    color: string;
    /** Seconds at which each worker was bound, sorted. */
    boundAt: number[];
}

const W = 900, H = 460;
const M = { left: 60, right: 320, top: 70, bottom: 50 };

/** Associations the bucket allows by `t` seconds: the burst at once, then the refill rate. */
export const floorCount = (t: number, n: number) => Math.min(n, LIMITS.ec2Mutating.burst + LIMITS.ec2Mutating.rate * t);

/** Seconds the bucket needs for `n` associations. */
export const floorSeconds = (n: number) => Math.max(0, (n - LIMITS.ec2Mutating.burst) / LIMITS.ec2Mutating.rate);

function niceStep(range: number, ticks: number): number {
    const raw = range / ticks;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    return [1, 2, 5, 10].map(m => m * magnitude).find(step => step >= raw) ?? raw;
}

/** `note` is a line or two under the title. */
export function burstChart(title: string, note: string[], target: number, series: Series[]): string {
    const tMax = Math.max(floorSeconds(target) * 1.1, ...series.map(s => s.boundAt[s.boundAt.length - 1] ?? 0)) || 1;
    const x = (t: number) => M.left + (t / tMax) * (W - M.left - M.right);
    const y = (n: number) => H - M.bottom - (n / target) * (H - M.top - M.bottom);
    const parts: string[] = [text(M.left, 22, title, { "font-size": 15, "font-weight": "bold" })];
    note.forEach((line, i) => parts.push(text(M.left, 40 + i * 14, line, { "font-size": 11, fill: "#555" })));

    const xStep = niceStep(tMax, 8), yStep = niceStep(target, 5);
    for (let t = 0; t <= tMax; t += xStep) {
        parts.push(el("line", { x1: x(t), x2: x(t), y1: y(0), y2: y(target), stroke: "#eee" }));
        parts.push(text(x(t), y(0) + 16, String(t), { "text-anchor": "middle" }));
    }
    for (let n = 0; n <= target; n += yStep) {
        parts.push(el("line", { x1: x(0), x2: x(tMax), y1: y(n), y2: y(n), stroke: "#eee" }));
        parts.push(text(x(0) - 6, y(n) + 4, String(n), { "text-anchor": "end" }));
    }
    parts.push(el("line", { x1: x(0), x2: x(tMax), y1: y(0), y2: y(0), stroke: "#333" }));
    parts.push(el("line", { x1: x(0), x2: x(0), y1: y(0), y2: y(target), stroke: "#333" }));
    parts.push(text((x(0) + x(tMax)) / 2, H - 12, "seconds since the burst", { "text-anchor": "middle" }));
    parts.push(text(16, (y(0) + y(target)) / 2, "workers bound", { "text-anchor": "middle", transform: `rotate(-90 16 ${(y(0) + y(target)) / 2})` }));

    const floor: [number, number][] = [[x(0), y(0)], [x(0), y(floorCount(0, target))], [x(floorSeconds(target)), y(target)], [x(tMax), y(target)]];
    const lines = [{ label: "floor", detail: `EC2 ${LIMITS.ec2Mutating.rate}/s, burst ${LIMITS.ec2Mutating.burst}`, color: "#999", xy: floor, dash: "6 4" }];
    for (const s of series) {
        // A step line: the count rises at each bind and holds until the next.
        const xy: [number, number][] = [[x(0), y(0)]];
        s.boundAt.forEach((t, i) => xy.push([x(t), y(i)], [x(t), y(i + 1)]));
        xy.push([x(tMax), y(s.boundAt.length)]);
        lines.push({ label: s.label, detail: `${s.boundAt.length} bound`, color: s.color, xy, dash: "" });
    }
    lines.forEach((line, i) => {
        parts.push(el("polyline", { points: points(line.xy), fill: "none", stroke: line.color, "stroke-width": 2, "stroke-dasharray": line.dash || undefined }));
        const ly = M.top + 10 + i * 36;
        parts.push(el("line", { x1: W - M.right + 14, x2: W - M.right + 40, y1: ly, y2: ly, stroke: line.color, "stroke-width": 2, "stroke-dasharray": line.dash || undefined }));
        parts.push(text(W - M.right + 46, ly + 4, line.label, { "font-size": 11 }));
        parts.push(text(W - M.right + 46, ly + 18, line.detail, { "font-size": 11, fill: "#555" }));
    });
    return svgDocument(W, H, el("rect", { width: W, height: H, fill: "white" }), ...parts);
}
