// /diff page: two snippets traced side by side; nodes added / removed / changed get a coloured outline and a list.
import "../style.css";
import "./embed.css";
import type { Trace } from "../api/types";
import { ApiError, createTrace, getExample } from "../api/client";
import { byId, h } from "../view/dom";
import { decodeCode, isEncodedCode } from "./codec";
import { parseOptions } from "./options";
import { Viewer } from "./viewer";
import { diffSummary, diffTraces, type TraceDiff } from "./diff";
import { displayName } from "../graph/format";

const params = new URLSearchParams(location.search);
const opts = { ...parseOptions(params), panes: new Set(["code", "graph", "timeline"] as const), predict: false, autoplay: false, autoplayHeld: false, step: "end" as const, height: Number(params.get("height")) || 520 };
document.documentElement.dataset["theme"] = opts.theme;
const root = byId("diff");
const summary = h("p", { class: "gt-diff-summary", role: "status", text: "Tracing both snippets…" });
const colA = h("section", { "aria-label": "Snippet A" }, h("h2", { text: "A" }));
const colB = h("section", { "aria-label": "Snippet B" }, h("h2", { text: "B" }));
root.append(summary, h("div", { class: "gt-diff" }, colA, colB));
const va = new Viewer(colA, opts);
const vb = new Viewer(colB, opts);
// Each widget labels its panes "Code", "Autograd graph", ...: say which snippet they belong to.
for (const [col, name] of [[colA, "A"], [colB, "B"]] as const) {
  for (const el of col.querySelectorAll<HTMLElement>(".gt-embed [aria-label]")) el.setAttribute("aria-label", `${name}: ${el.getAttribute("aria-label") ?? ""}`);
}
let diff: TraceDiff | null = null;

/** `z...`/`u...` = encoded code (as in #code=), `example:NAME`, or plain text code. */
async function resolve(v: string): Promise<string> {
  if (v.startsWith("example:")) return (await getExample(v.slice(8))).source;
  if (isEncodedCode(v)) return decodeCode(v);
  return v;
}

const STYLE = [
  { selector: 'node[diff = "added"]', style: { "border-width": 4, "border-color": "#16a34a", "border-style": "solid" } },
  { selector: 'node[diff = "removed"]', style: { "border-width": 4, "border-color": "#dc2626", "border-style": "dashed" } },
  { selector: 'node[diff = "changed"]', style: { "border-width": 4, "border-color": "#d97706", "border-style": "double" } },
];

function mark(v: Viewer, statuses: Map<string, string>): void {
  const cy = v.canvas?.cy;
  if (!cy) return;
  for (const [id, st] of statuses) if (st !== "same") cy.getElementById(id).data("diff", st);
  const s = cy.style() as unknown as { selector(s: string): { style(o: Record<string, unknown>): unknown }; update(): void };
  for (const rule of STYLE) s.selector(rule.selector).style(rule.style);
  s.update();
}

/** A snippet's trace, or why there is none (said in its pane and in the summary). */
async function one(v: Viewer, raw: string | null, label: "a" | "b"): Promise<{ trace: Trace } | { problem: string }> {
  if (!raw) {
    const problem = `Give ?${label}=… (compressed code, example:NAME, or code).`;
    v.message("no-source", problem);
    return { problem };
  }
  try {
    const source = await resolve(raw);
    v.setSource(source);
    const res = await createTrace(source);
    await v.load(res.trace, source);
    return { trace: res.trace };
  } catch (e) {
    // The page is read by learners too: an unknown example is said plainly, not as the API says it.
    const why = e instanceof ApiError && e.code === "example_not_found" && raw.startsWith("example:")
      ? `there is no built-in example called "${raw.slice(8)}".`
      : e instanceof Error ? e.message : String(e);
    const problem = `Could not trace ${label.toUpperCase()}: ${why}`;
    v.message("unreachable", problem);
    return { problem };
  }
}

async function start(): Promise<void> {
  const [ra, rb] = await Promise.all([one(va, params.get("a"), "a"), one(vb, params.get("b"), "b")]);
  if (!("trace" in ra) || !("trace" in rb)) {
    summary.textContent = [ra, rb].flatMap((r) => ("problem" in r ? [r.problem] : [])).join(" ");
    root.dataset["ready"] = "error";
    return;
  }
  const ta = ra.trace, tb = rb.trace;
  diff = diffTraces(ta, tb);
  mark(va, diff.a);
  mark(vb, diff.b);
  const name = (t: Trace, id: string): string => displayName(t.nodes.find((n) => n.id === id)?.name ?? id);
  summary.textContent = `B vs A: ${diffSummary(diff)}.`;
  const list = h("ul", { class: "gt-diff-list" });
  for (const id of diff.added) list.append(h("li", { "data-diff": "added", text: `+ ${name(tb, id)} (only in B)` }));
  for (const id of diff.removed) list.append(h("li", { "data-diff": "removed", text: `− ${name(ta, id)} (only in A)` }));
  for (const [a] of diff.changed) list.append(h("li", { "data-diff": "changed", text: `~ ${name(ta, a)} (inputs or saved tensors differ)` }));
  summary.after(list);
  root.dataset["ready"] = "true";
}

declare global {
  interface Window { __gradtrace: Record<string, unknown> }
}
window.__gradtrace = {
  get diff() { return diff ? { added: diff.added, removed: diff.removed, changed: diff.changed } : null; },
  a: va,
  b: vb,
};
void start();
