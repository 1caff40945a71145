// Plain-text formatting of node names, shapes, dtypes and value summaries for labels and the inspector.
import type { ValueSummary } from "../api/types";

/**
 * A grad_fn node's name as shown in the graph, captions and lists: "torch::autograd::AccumulateGrad"
 * -> "AccumulateGrad" (the namespace adds width, not meaning). The trace's `name` stays exactly
 * grad_fn.name(); everything that shows it to a reader goes through here.
 */
export function displayName(name: string): string {
  return name.replace(/^torch::autograd::/, "");
}

/** "[2, 3]"; a nested tensor's ragged dimension (-1 in the trace) shows as "*". */
export function fmtShape(shape: readonly number[] | null | undefined): string {
  if (!shape) return "";
  return "[" + shape.map((d) => (d < 0 ? "*" : String(d))).join(", ") + "]";
}

/** "torch.float32" -> "" (the default, not worth a label), others -> "int64". */
export function shortDtype(dtype: string | null | undefined): string {
  if (!dtype) return "";
  const d = dtype.replace(/^torch\./, "");
  return d === "float32" ? "" : d;
}

export function fmtNumber(v: number | string | boolean): string {
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
    return String(Number(v.toPrecision(5)));
  }
  return String(v);
}

/** Small tensors as their numbers (row-major, nested by shape when 2-D), big ones as stats. */
export function fmtValue(v: ValueSummary | null | undefined): string {
  if (!v) return "None";
  if (v.values && v.values.length === v.numel) {
    const vals = v.values.map(fmtNumber);
    if (v.shape.length === 0) return vals[0] ?? "";
    if (v.shape.length === 2) {
      const cols = v.shape[1] ?? 1;
      const rows: string[] = [];
      for (let i = 0; i < vals.length; i += cols) rows.push("[" + vals.slice(i, i + cols).join(", ") + "]");
      return "[" + rows.join(",\n ") + "]";
    }
    return "[" + vals.join(", ") + "]";
  }
  // A lazy layer's parameter before the first forward call: a placeholder, not data.
  if (v.layout === "uninitialized") return "uninitialized (a lazy layer: shaped by its first forward call)";
  const parts = [`shape ${fmtShape(v.shape)}`];
  if (v.layout) parts.push(v.layout);
  if (v.min != null) parts.push(`min ${fmtNumber(v.min)}`);
  if (v.max != null) parts.push(`max ${fmtNumber(v.max)}`);
  if (v.mean != null) parts.push(`mean ${fmtNumber(v.mean)}`);
  if (v.std != null) parts.push(`std ${fmtNumber(v.std)}`);
  return parts.join(", ");
}

/** One short line for a gradient on an edge label. */
export function fmtGradShort(v: ValueSummary | null | undefined): string {
  if (!v) return "";
  if (v.values && v.numel === 1 && v.values[0] !== undefined) return fmtNumber(v.values[0]);
  return fmtShape(v.shape);
}
