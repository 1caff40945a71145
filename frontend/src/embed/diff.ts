// Structural diff of two traces: grad_fn nodes matched by (name, line, occurrence), then added / removed / changed.
import type { Trace } from "../api/types";

export type DiffStatus = "same" | "added" | "removed" | "changed";

export interface TraceDiff {
  /** Status of every node of trace A (same / removed / changed). */
  a: Map<string, DiffStatus>;
  /** Status of every node of trace B (same / added / changed). */
  b: Map<string, DiffStatus>;
  added: string[];
  removed: string[];
  changed: Array<[string, string]>;
}

/** Stable keys: the same op on the same line, counted in creation order. Line-number shifts are absorbed by name order. */
export function nodeKeys(t: Trace): Map<string, string> {
  const count = new Map<string, number>();
  const out = new Map<string, string>();
  const nodes = [...t.nodes].sort((x, y) => x.seq - y.seq);
  for (const n of nodes) {
    const variable = n.kind === "accumulate_grad" && n.variable ? t.tensors.find((x) => x.id === n.variable)?.names?.[0] ?? "" : "";
    const base = `${n.name}|${variable}`;
    const k = count.get(base) ?? 0;
    count.set(base, k + 1);
    out.set(n.id, `${base}#${k}`);
  }
  return out;
}

function signature(t: Trace, keys: Map<string, string>, id: string): string {
  const n = t.nodes.find((x) => x.id === id);
  const next = t.edges.filter((e) => e.source === id).sort((x, y) => x.index - y.index).map((e) => keys.get(e.target) ?? "?");
  const saved = (n?.saved ?? []).map((s) => `${s.name}:${s.stale ? "stale" : ""}`).join(",");
  return `${next.join(";")}|${saved}|${n?.stale ? "stale" : ""}`;
}

export function diffTraces(a: Trace, b: Trace): TraceDiff {
  const ka = nodeKeys(a), kb = nodeKeys(b);
  const byKeyA = new Map([...ka].map(([id, k]) => [k, id] as const));
  const byKeyB = new Map([...kb].map(([id, k]) => [k, id] as const));
  const res: TraceDiff = { a: new Map(), b: new Map(), added: [], removed: [], changed: [] };
  for (const [id, k] of ka) {
    const other = byKeyB.get(k);
    if (other === undefined) { res.a.set(id, "removed"); res.removed.push(id); continue; }
    const same = signature(a, ka, id) === signature(b, kb, other);
    res.a.set(id, same ? "same" : "changed");
    res.b.set(other, same ? "same" : "changed");
    if (!same) res.changed.push([id, other]);
  }
  for (const [id, k] of kb) {
    if (!byKeyA.has(k)) { res.b.set(id, "added"); res.added.push(id); }
  }
  return res;
}

/** One-line human summary, e.g. "2 added, 0 removed, 1 changed". */
export function diffSummary(d: TraceDiff): string {
  return `${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed`;
}
