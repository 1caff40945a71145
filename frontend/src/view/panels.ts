// Error/outcome panel and stdout/stderr console; all user-controlled text goes in as textContent.
import type { Trace } from "../api/types";
import { clear, h } from "./dom";
import { fmtShape, shortDtype } from "../graph/format";

/** Sandbox outcomes that are not the snippet's own exception. */
export const OUTCOMES: Record<string, { title: string; text: string }> = {
  timeout: { title: "Time limit reached", text: "The snippet ran longer than the sandbox allows and was stopped. The graph shows what was recorded before that. Look for an endless loop, a very long training loop or one operation on huge tensors, and make it smaller." },
  memory_limit: { title: "Memory limit reached", text: "The snippet tried to use more memory than the sandbox allows and was stopped. Use smaller tensors or fewer iterations." },
  output_limit: { title: "Output limit reached", text: "The snippet printed or built more than the sandbox keeps (output, events or graph size). What fit is shown; print less or build a smaller graph." },
  rejected: { title: "Snippet rejected", text: "The sandbox refused to run this snippet (for example, it tried something that is not allowed, such as network or file access, or it is too large)." },
};

export interface ErrorActions { showCulprit: () => void }

export function renderErrorPanel(root: HTMLElement, trace: Trace | null, act: ErrorActions): void {
  clear(root);
  root.hidden = true;
  if (!trace) return;
  const outcome = OUTCOMES[trace.status];
  const err = trace.error;
  if (!outcome && !err && !trace.truncated) return;
  root.hidden = false;
  if (outcome) {
    root.append(h("div", { class: `outcome outcome-${trace.status}`, role: "alert", "data-outcome": trace.status },
      h("h2", { text: outcome.title }), h("p", { text: outcome.text })));
  }
  if (err) {
    const ex = err.explanation;
    const box = h("div", { class: "error-box", role: outcome ? null : "alert", "data-kind": err.kind });
    box.append(h("h2", { class: "error-title", text: ex?.title ?? `${err.type}` }));
    box.append(h("p", { class: "error-message" }, h("code", { text: `${err.type}: ${err.message}` })));
    const where = errorWhere(err);
    if (where) box.append(h("p", { class: "error-where", text: where }));
    const call = failedCallText(trace);
    if (call) box.append(h("p", { class: "error-call" }, h("code", { text: call })));
    if (ex) {
      box.append(h("h3", { text: "What happened" }), h("p", { class: "error-what", text: ex.what }));
      box.append(h("h3", { text: "How to fix it" }), h("p", { class: "error-fix", text: ex.fix }));
    }
    if (err.node || err.tensor) {
      const b = h("button", { type: "button", class: "btn", text: "Show the culprit in the graph" });
      b.addEventListener("click", act.showCulprit);
      box.append(b);
    }
    root.append(box);
  }
  if (trace.truncated) {
    const t = trace.truncation;
    const bits = [`${t?.nodes_elided ?? 0} nodes and ${t?.events_elided ?? 0} events were left out`, ...(t?.reasons ?? [])];
    root.append(h("div", { class: "outcome outcome-truncated" }, h("h2", { text: "The trace was bounded" }), h("p", { text: bits.join("; ") })));
  }
}

/** The step from which a run's failure (or the sandbox's outcome) is explained: once the
 *  timeline has reached it, so stepping through shows the failure happen before the answer.
 *  Infinity when there is nothing to explain. */
export function explainFromStep(trace: Trace, total: number): number {
  const errIdx = trace.events.findIndex((e) => e.kind === "error");
  return errIdx >= 0 ? errIdx + 1 : trace.error || trace.status !== "ok" || trace.truncated ? total : Infinity;
}

/** Before the failure: that the run fails, and where, with a way straight there (the
 *  explanation itself waits until the timeline reaches it). */
export function renderPendingError(root: HTMLElement, trace: Trace, step: number, goToError: () => void): void {
  clear(root);
  root.hidden = false;
  const err = trace.error;
  const where = err?.line != null ? ` at line ${err.line}` : "";
  const b = h("button", { type: "button", class: "btn btn-small", text: "Go to the error" });
  b.addEventListener("click", goToError);
  root.append(h("div", { class: "outcome outcome-pending", "data-outcome": "pending" },
    h("p", { text: `The snippet fails${where} (step ${step}${err ? `, ${err.type}` : ""}). What went wrong is explained when the timeline gets there.` }), b));
}

/** "line 12 · caused at line 5": where the error is and where it comes from. In a loop the
 *  cause can be the same line, run in an earlier iteration: said so, not "line 12 · line 12". */
export function errorWhere(err: NonNullable<Trace["error"]>): string {
  const where: string[] = [];
  if (err.line != null) where.push(`line ${err.line}${err.column != null ? `, column ${err.column}` : ""}`);
  if (err.related_line != null) {
    where.push(err.related_line === err.line ? `caused by an earlier run of line ${err.related_line}` : `caused at line ${err.related_line}`);
  }
  if (err.version_at_save != null && err.version_now != null) where.push(`saved at version ${err.version_at_save}, now version ${err.version_now}`);
  return where.join(" · ");
}

/** "stack(a [2], b [3])": the torch call that raised, with what it was given (names where
 *  the snippet has them, else the tensor ids the inspector shows). */
export function failedCallText(trace: Trace): string {
  const call = trace.error?.call;
  if (!call) return "";
  const names = new Map(trace.tensors.map((t) => [t.id, t.names?.[0] ?? t.id]));
  const args = call.inputs.map((i) => {
    const dtype = shortDtype(i.dtype);
    return [i.tensor ? names.get(i.tensor) ?? i.tensor : "tensor", fmtShape(i.shape), dtype].filter(Boolean).join(" ");
  });
  if (call.inputs_elided) args.push(`… ${call.inputs_elided} more`);
  return `${call.op}(${args.join(", ")})`;
}

/** [line, what it says] for every warning with a line: PyTorch's own (first line of its text)
 *  and gradtrace's notes (their lesson's title). The editors underline these lines. */
export function warningMarks(trace: Trace): [number, string][] {
  return trace.events
    .filter((e) => e.kind === "warning" && e.line != null)
    .map((e) => [e.line!, e.hint?.title ?? (e.text ?? "").split("\n")[0]!.slice(0, 120)]);
}

export interface ConsoleActions {
  /** Show what a warning is about (its node or tensor, `trace.events[index]`) in the graph. */
  showWarning: (index: number) => void;
}

const MAX_WARNING_ITEMS = 200;

type Indexed = { e: Trace["events"][number]; index: number };

/** Warnings with the same line, category and text as one entry (the first), counted. */
export function groupWarnings(warnings: Indexed[]): (Indexed & { count: number })[] {
  const byKey = new Map<string, Indexed & { count: number }>();
  for (const w of warnings) {
    const key = `${w.e.line}\u0000${w.e.category ?? ""}\u0000${w.e.text ?? ""}`;
    const seen = byKey.get(key);
    if (seen) seen.count += 1;
    else byKey.set(key, { ...w, count: 1 });
  }
  return [...byKey.values()];
}

export function renderConsole(root: HTMLElement, trace: Trace | null, printsShown: number | null, act?: ConsoleActions): void {
  clear(root);
  root.append(h("h2", { text: "Output" }));
  if (!trace) { root.append(h("p", { class: "muted", text: "stdout and stderr of the run appear here." })); return; }
  const out = trace.stdout ?? "";
  const err = trace.stderr ?? "";
  const warnings = trace.events.map((e, index) => ({ e, index })).filter(({ e }) => e.kind === "warning");
  if (!out && !err && !warnings.length) { root.append(h("p", { class: "muted", text: "(no output)" })); return; }
  if (out) root.append(h("h3", { text: "stdout" }), h("pre", { class: "stdout", text: out }));
  if (err) root.append(h("h3", { text: "stderr" }), h("pre", { class: "stderr", text: err }));
  if (warnings.length) {
    const ul = h("ul", { class: "warnings" });
    // A warning repeated in a loop (warnings.simplefilter("always")) is listed once, with its count.
    const groups = groupWarnings(warnings);
    for (const { e: w, index, count } of groups.slice(0, MAX_WARNING_ITEMS)) {
      const li = h("li", { "data-hint": w.hint?.kind ?? null, "data-count": String(count) },
        h("span", { text: `line ${w.line ?? "?"}: ${w.category ? w.category + ": " : ""}${w.text ?? ""}${count > 1 ? ` (×${count})` : ""}` }));
      // What the warning means for the graph, for the ones PyTorch users meet most.
      if (w.hint) li.append(h("div", { class: "warning-hint" }, h("strong", { text: w.hint.title }), h("span", { text: ` ${w.hint.what} ` }), h("em", { text: w.hint.fix })));
      if (act && (w.node || w.tensor)) {
        const b = h("button", { type: "button", class: "btn btn-small", text: "Show in the graph", "aria-label": `Show in the graph (warning at line ${w.line ?? "?"})` });
        b.addEventListener("click", () => act.showWarning(index));
        li.append(b);
      }
      ul.append(li);
    }
    if (groups.length > MAX_WARNING_ITEMS) ul.append(h("li", { class: "muted", text: `… ${groups.length - MAX_WARNING_ITEMS} more distinct warnings` }));
    root.append(h("h3", { text: "warnings" }), ul);
  }
  if (printsShown != null) root.dataset["prints"] = String(printsShown);
}
