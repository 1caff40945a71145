// Inspector panel: every field of the selected node, tensor or group, as text at the current step.
// A trace keeps each tensor as it was at the end of the run; fields known only then are labelled "at the end".
import type { GraphModel, Group } from "../graph/model";
import type { ReplayState } from "../graph/replay";
import type { GraphView } from "../graph/view";
import type { TraceNode, TraceTensor } from "../api/types";
import { displayName, fmtShape, fmtValue } from "../graph/format";
import { clear, h } from "./dom";
import { gradFnAt, tensorTimeline, writesAfter } from "./tensorAtStep";

export interface InspectorActions {
  /** Hosts without `seek`: go to the step the item is drawn from. */
  jumpToCreation: (itemId: string) => void;
  /** Go to a step: "Jump to its creation" then goes where a tensor was made, which for one
   *  changed in place can be before its final grad_fn (the step it is drawn from) exists. */
  seek?: (step: number) => void;
  toggleGroup: (key: string) => void;
  select: (elId: string) => void;
}

function row(k: string, v: string | Node | null | undefined, field?: string): HTMLElement {
  const dd = h("dd", { "data-field": field });
  if (v instanceof Node) dd.append(v); else dd.textContent = v == null ? "—" : v;
  return h("div", { class: "kv" }, h("dt", { text: k }), dd);
}

const yesNo = (b: boolean | null | undefined): string => (b == null ? "—" : b ? "yes" : "no");

/** "yes" once the node ran in a backward pass; the node a pass failed in only started (its
 *  backward raised: no gradient came out of it), which "yes" would hide. */
function executedText(model: GraphModel, id: string, s: ReplayState): string {
  if (!s.executed.has(id)) return "no";
  return model.trace.backward_passes.some((p) => p.error?.node === id) ? "started; its backward raised" : "yes";
}

type Saved = NonNullable<TraceNode["saved"]>[number];
/** A saved tensor's version after the step's events (a saved view no event names: its end-of-run version). */
const savedVersionAt = (sv: Saved, s: ReplayState): number | null | undefined =>
  sv.tensor ? s.versions.get(sv.tensor) ?? sv.version_at_save : sv.version_now;
/** Written in place since it was saved, as of this step. */
const savedStaleAt = (sv: Saved, s: ReplayState): boolean => sv.kind !== "value" && (savedVersionAt(sv, s) ?? 0) > (sv.version_at_save ?? 0);

const pre = (s: string): HTMLElement => h("pre", { class: "value", text: s });

export function renderInspector(root: HTMLElement, model: GraphModel | null, view: GraphView | null, s: ReplayState | null, elId: string | null, act: InspectorActions): void {
  clear(root);
  root.append(h("h2", { text: "Inspector" }));
  if (!model || !view || !s || !elId) {
    root.append(h("p", { class: "muted", text: "Click a node or tensor in the graph to inspect it. Double-click jumps to the step that created it." }));
    return;
  }
  if (elId.startsWith("G:")) {
    const g = model.groups.get(elId.slice(2));
    if (g) renderGroup(root, g, view, act);
    return;
  }
  const item = model.items.get(elId);
  if (!item) return;
  if (item.node) renderNode(root, item.node, model, s, act, item.appearAt);
  else if (item.tensor) renderTensor(root, item.tensor, model, s, act);
  const seek = act.seek;
  const made = item.tensor && seek ? creationStep(model, item.tensor.id, item.appearAt) : item.appearAt;
  const jump = h("button", { type: "button", class: "btn", text: `Jump to its creation (step ${made})` });
  jump.addEventListener("click", () => (seek ? seek(made) : act.jumpToCreation(item.id)));
  root.append(jump);
}

/** Where a tensor was made: its first event, else the step it is drawn from. */
function creationStep(model: GraphModel, tid: string, drawnFrom: number): number {
  const created = tensorTimeline(model, tid).created;
  return created !== null ? Math.min(created, drawnFrom) : drawnFrom;
}

function renderGroup(root: HTMLElement, g: Group, view: GraphView, act: InspectorActions): void {
  const collapsed = view.collapsed.has(g.key);
  root.append(h("h3", { text: `module ${g.key}` }));
  root.append(h("dl", {}, row("nodes inside", String(g.size)), row("submodules", String(g.children.length)), row("state", collapsed ? "collapsed" : "expanded")));
  const b = h("button", { type: "button", class: "btn", text: `${collapsed ? "Expand" : "Collapse"} group ${g.key}` });
  b.addEventListener("click", () => act.toggleGroup(g.key));
  root.append(b);
}

function tensorLink(model: GraphModel, tid: string | null | undefined, act: InspectorActions): Node | string {
  if (!tid) return "—";
  const t = model.tensorById.get(tid);
  const name = t?.names?.length ? t.names.join(", ") : tid;
  const target = model.tensorItem.get(tid);
  if (!target) return name;
  const b = h("button", { type: "button", class: "linklike", text: name });
  b.addEventListener("click", () => act.select(target));
  return b;
}

/** A node id as a button that selects it (undrawn at this step, it still fills the inspector, whose "Jump to its creation" goes there). */
function nodeLink(model: GraphModel, id: string, act: InspectorActions): HTMLElement | string {
  const n = model.nodeById.get(id);
  if (!n) return id;
  const b = h("button", { type: "button", class: "linklike", text: `${n.name} (${id})` });
  b.addEventListener("click", () => act.select(id));
  return b;
}

function renderNode(root: HTMLElement, n: TraceNode, model: GraphModel, s: ReplayState, act: InspectorActions, appearAt: number): void {
  // Readable names here ("AccumulateGrad", not "torch::autograd::AccumulateGrad"); the id row and the trace keep the exact one.
  root.append(h("h3", { text: displayName(n.name) }));
  // Not made yet at this step: what it will be, and how it ends, not what it holds now (the
  // state rows belong to the steps where it exists).
  const future = s.step < appearAt;
  if (future) {
    root.append(h("p", { class: "muted not-yet", "data-field": "not-yet", text: `At step ${s.step} this node is not created yet: it is created at step ${appearAt}${n.line != null ? ` (line ${n.line})` : ""}.` }));
  }
  const nexts = (model.nextEdges.get(n.id) ?? []).map((ei) => {
    const next = model.nodeById.get(model.trace.edges[ei]!.target);
    return next ? displayName(next.name) : "?";
  });
  const freed = s.freed.has(n.id);
  const replaced = model.replaces.get(n.id);
  const successor = model.replacedBy.get(n.id);
  root.append(h("dl", {},
    row("id", n.id), row("kind", n.kind), row("op", n.op ?? null), row("created at line", n.line != null ? String(n.line) : null),
    row("module", n.module ?? null), row("creation order (seq)", String(n.seq)), row("sequence_nr", n.sequence_nr != null ? String(n.sequence_nr) : null),
    n.kind === "accumulate_grad" ? row("accumulates into", tensorLink(model, n.variable, act)) : row("output tensor", tensorLink(model, n.output, act)),
    row("next_functions", nexts.length ? nexts.join(", ") : "none", "next_functions"),
    future ? null : row("executed in backward", executedText(model, n.id, s), "executed"),
    future ? null : row("saved buffers freed", yesNo(freed)),
    // At this step: from the in-place write on (versions so far, or the trace's stale event),
    // not before; n.stale is the end of the run's fact, its own row.
    future ? null : row("stale saved tensor", yesNo(s.stale.has(n.id) || (n.saved ?? []).some((sv) => savedStaleAt(sv, s))), "stale"),
    row("stale saved tensor (at the end)", yesNo(n.stale), "stale-end"),
    n.created_by_pass != null ? row("built by backward pass", String(n.created_by_pass)) : null,
    // A loop's iterations: which consumed node this one took the place of, and which took its own.
    replaced ? row("built in place of", nodeLink(model, replaced, act)) : null,
    successor ? row("replaced by", nodeLink(model, successor, act)) : null,
    row("alive at the end", yesNo(n.alive)),
  ));
  if (future) return;
  const recv = s.received.get(n.id);
  if (recv) {
    root.append(h("h4", { text: "Gradient received (grad_outputs)" }));
    root.append(h("dl", {}, ...recv.map((g, i) => h("div", { class: "kv" }, h("dt", { text: `#${i}` }), h("dd", {}, pre(fmtValue(g)))))));
  }
  if (n.saved?.length) {
    root.append(h("h4", { text: `Saved for backward (${n.saved.length})` }));
    const table = h("table", { class: "saved" },
      h("thead", {}, h("tr", {}, ...["name", "shape / value", "version at save", "version now", "state"].map((c) => h("th", { scope: "col", text: c })))));
    const body = h("tbody");
    for (const sv of n.saved) {
      const now = savedVersionAt(sv, s);
      const isStale = savedStaleAt(sv, s);
      const held = sv.packed ? "held by a saved-tensor hook" : "saved";
      const state = sv.kind === "value" ? "value" : [isStale ? "STALE (modified in place)" : held, freed ? "freed" : ""].filter(Boolean).join(", ");
      body.append(h("tr", { class: freed ? "freed" : isStale ? "stale" : "" },
        h("td", { text: sv.name + (sv.is_output ? " (output)" : "") }),
        h("td", { text: sv.kind === "value" ? sv.repr ?? "" : `${fmtShape(sv.shape)} ${sv.dtype ?? ""}` }),
        h("td", { text: sv.version_at_save != null ? String(sv.version_at_save) : "—" }),
        h("td", { text: now != null ? String(now) : "—" }),
        h("td", { text: state })));
    }
    table.append(body);
    root.append(table);
  }
  if (n.kind === "accumulate_grad" && n.variable) {
    const t = model.tensorById.get(n.variable);
    if (t) renderTensorValues(root, t, model, s);
  }
}

function renderTensor(root: HTMLElement, t: TraceTensor, model: GraphModel, s: ReplayState, act: InspectorActions): void {
  root.append(h("h3", { text: t.names?.length ? t.names.join(", ") : t.id }));
  const tl = tensorTimeline(model, t.id);
  const version = s.versions.get(t.id) ?? 0;
  const history = (t.versions ?? []).map((seq) => {
    const i = model.trace.events.findIndex((e) => e.seq === seq);
    const ev = model.trace.events[i];
    return ev ? `v${ev.version_after ?? "?"} at line ${ev.line ?? "?"}${ev.op ? ` (${ev.op})` : ""}${i >= s.step ? " [later]" : ""}` : `event ${seq}`;
  });
  const gradFn = (id: string | null | undefined): Node | string => (id ? nodeLink(model, id, act) : "None");
  root.append(h("dl", {},
    row("id", t.id), row("shape", fmtShape(t.shape)), row("dtype", t.dtype), row("device", t.device ?? "cpu"),
    row("parameter", yesNo(t.is_parameter)), t.inference ? row("inference tensor", "yes") : null,
  ));
  // What the timeline knows at this step.
  const now = gradFnAt(model, t.id, s.step);
  const exists = now !== undefined;
  const createdText = tl.created === null ? null : `step ${tl.created}${tl.createdLine != null ? `, line ${tl.createdLine}` : ""}`;
  root.append(h("h4", { text: `At step ${s.step}` }), h("dl", {},
    row("created", createdText === null ? null : exists ? createdText : `not yet (at ${createdText})`, "created"),
    exists ? row("version", String(version), "version") : null,
    exists ? row("grad_fn", gradFn(now), "grad_fn") : null,
  ));
  root.append(h("h4", { text: "At the end of the run" }), h("dl", {},
    row("requires_grad", yesNo(t.requires_grad)), row("is_leaf", yesNo(t.is_leaf)), row("retains_grad", yesNo(t.retains_grad)),
    row("version", String(t.version ?? "—")),
    row("version history", history.length ? history.join("; ") : "never modified in place"),
    row("grad_fn", gradFn(t.grad_fn), "grad_fn-end"),
  ));
  renderTensorValues(root, t, model, s);
}

/** The value (kept at the end only, so labelled so and warned about when it changes later), and .grad now and at the end. */
function renderTensorValues(root: HTMLElement, t: TraceTensor, model: GraphModel, s: ReplayState): void {
  root.append(h("h4", { text: "value (at the end)" }), pre(fmtValue(t.value)));
  const later = writesAfter(model, t.id, s.step).map((i) => model.trace.events[i]!);
  if (later.length) {
    const where = later.slice(0, 3).map((ev) => `line ${ev.line ?? "?"}${ev.op ? ` (${ev.op})` : ""}`).join(", ") + (later.length > 3 ? ", …" : "");
    root.append(h("p", { class: "muted", "data-field": "value-note", text: `Changed in place later (${where}): at this step it held other values, which the trace does not keep.` }));
  }
  const g = s.grads.has(t.id) ? s.grads.get(t.id) ?? null : null;
  root.append(h("h4", { text: ".grad (at this step)" }), pre(g ? fmtValue(g) : "None"));
  if (t.grad) root.append(h("h4", { text: ".grad (at the end)" }), pre(fmtValue(t.grad)));
}
