// Last good trace per snippet (in memory, and in localStorage where the browser allows it in a third-party frame), shown when the service is down.
import type { Trace } from "../api/types";

const PREFIX = "gradtrace.embed.trace.";

/** FNV-1a over the UTF-16 code units: a short, stable key for a snippet. */
export function sourceKey(source: string): string {
  let x = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) { x ^= source.charCodeAt(i); x = Math.imul(x, 0x01000193) >>> 0; }
  return x.toString(16).padStart(8, "0") + source.length.toString(16);
}

const memory = new Map<string, { id: string | null; trace: Trace }>();

export function cachePut(source: string, id: string | null, trace: Trace): void {
  memory.set(sourceKey(source), { id, trace });
  try { localStorage.setItem(PREFIX + sourceKey(source), JSON.stringify({ id, trace })); } catch { /* full, disabled or partitioned */ }
}

export function cacheGet(source: string): { id: string | null; trace: Trace } | null {
  const hit = memory.get(sourceKey(source));
  if (hit) return hit;
  try {
    const raw = localStorage.getItem(PREFIX + sourceKey(source));
    return raw ? (JSON.parse(raw) as { id: string | null; trace: Trace }) : null;
  } catch { return null; }
}
