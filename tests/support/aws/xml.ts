// Tiny XML writer: objects become elements in key order, arrays are concatenated,
// undefined is omitted. Enough for the response shapes the SDK deserializers read.

export type XmlValue = string | number | boolean | undefined | XmlValue[] | { [tag: string]: XmlValue };

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

export function toXml(value: XmlValue): string {
    if (value === undefined) return "";
    if (Array.isArray(value)) return value.map(toXml).join("");
    if (typeof value === "object") {
        return Object.entries(value)
            .map(([tag, child]) => (child === undefined ? "" : `<${tag}>${toXml(child)}</${tag}>`))
            .join("");
    }
    return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

export function xmlDocument(root: string, content: XmlValue, namespace?: string): string {
    const xmlns = namespace ? ` xmlns="${namespace}"` : "";
    return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${xmlns}>${toXml(content)}</${root}>`;
}
