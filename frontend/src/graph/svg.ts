// A standalone SVG of the drawn graph (rects, arrows, text-escaped labels) from plain positions.
export interface SvgNode { id: string; x: number; y: number; w: number; h: number; label: string; fill: string; stroke: string; dashed?: boolean; group?: boolean }
export interface SvgEdge { x1: number; y1: number; x2: number; y2: number; color: string; label?: string }

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

export function toSvg(nodes: SvgNode[], edges: SvgEdge[], bg: string, fg: string): string {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const n of nodes) {
    minX = Math.min(minX, n.x - n.w / 2); minY = Math.min(minY, n.y - n.h / 2);
    maxX = Math.max(maxX, n.x + n.w / 2); maxY = Math.max(maxY, n.y + n.h / 2);
  }
  if (!nodes.length) { minX = minY = 0; maxX = maxY = 10; }
  const pad = 20;
  const w = maxX - minX + 2 * pad, h = maxY - minY + 2 * pad;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${w.toFixed(0)}" height="${h.toFixed(0)}" viewBox="${(minX - pad).toFixed(1)} ${(minY - pad).toFixed(1)} ${w.toFixed(1)} ${h.toFixed(1)}" font-family="monospace" font-size="11">`);
  out.push(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="context-stroke"/></marker></defs>`);
  out.push(`<rect x="${(minX - pad).toFixed(1)}" y="${(minY - pad).toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="${escapeXml(bg)}"/>`);
  for (const n of nodes.filter((n) => n.group)) out.push(rect(n, fg));
  for (const e of edges) {
    out.push(`<line x1="${e.x1.toFixed(1)}" y1="${e.y1.toFixed(1)}" x2="${e.x2.toFixed(1)}" y2="${e.y2.toFixed(1)}" stroke="${escapeXml(e.color)}" stroke-width="1.5" marker-end="url(#arrow)"/>`);
    if (e.label) out.push(`<text x="${((e.x1 + e.x2) / 2).toFixed(1)}" y="${((e.y1 + e.y2) / 2).toFixed(1)}" fill="${escapeXml(e.color)}">${escapeXml(e.label)}</text>`);
  }
  for (const n of nodes.filter((n) => !n.group)) out.push(rect(n, fg));
  out.push("</svg>");
  return out.join("\n");
}

function rect(n: SvgNode, fg: string): string {
  const lines = n.label.split("\n");
  const parts = [`<g><rect x="${(n.x - n.w / 2).toFixed(1)}" y="${(n.y - n.h / 2).toFixed(1)}" width="${n.w.toFixed(1)}" height="${n.h.toFixed(1)}" rx="4" fill="${escapeXml(n.fill)}" stroke="${escapeXml(n.stroke)}"${n.dashed ? ' stroke-dasharray="4 3"' : ""}${n.group ? ' fill-opacity="0.5"' : ""}/>`];
  const y0 = n.group ? n.y - n.h / 2 + 12 : n.y - ((lines.length - 1) * 13) / 2 + 4;
  lines.forEach((l, i) => parts.push(`<text x="${n.x.toFixed(1)}" y="${(y0 + i * 13).toFixed(1)}" text-anchor="middle" fill="${escapeXml(fg)}">${escapeXml(l)}</text>`));
  parts.push("</g>");
  return parts.join("");
}
