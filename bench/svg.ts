// A very small SVG writer: elements as strings, attributes escaped.

export type Attributes = Record<string, string | number | undefined>;

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;" };

export const escape = (text: string) => text.replace(/[&<>"]/g, c => ESCAPES[c]);

/** `<name attrs>children</name>`, or self-closing without children; undefined attributes are left out. */
export function el(name: string, attrs: Attributes = {}, ...children: string[]): string {
    const list = Object.entries(attrs)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => ` ${key}="${escape(String(typeof value === "number" ? round(value) : value))}"`)
        .join("");
    return children.length ? `<${name}${list}>${children.join("")}</${name}>` : `<${name}${list}/>`;
}

export const text = (x: number, y: number, content: string, attrs: Attributes = {}) => el("text", { x, y, ...attrs }, escape(content));

/** A polyline's points attribute. */
export const points = (xy: [number, number][]) => xy.map(([x, y]) => `${round(x)},${round(y)}`).join(" ");

export function svgDocument(width: number, height: number, ...children: string[]): string {
    return `${el("svg", { xmlns: "http://www.w3.org/2000/svg", width, height, viewBox: `0 0 ${width} ${height}`, "font-family": "sans-serif", "font-size": 12 }, ...children)}\n`;
}

function round(value: number): number {
    return Math.round(value * 100) / 100;
}
