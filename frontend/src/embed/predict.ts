// Predict mode: questions generated from the trace before a step is revealed (next backward node, x.grad None?, will it raise?).
import type { GraphModel } from "../graph/model";
import type { TraceEvent } from "../api/types";

export interface Choice { id: string; label: string }
export interface Question {
  /** Index of the event the question is about: answering reveals the state after it (step index + 1). */
  index: number;
  kind: "next_backward" | "grad_none" | "will_raise";
  prompt: string;
  choices: Choice[];
  answer: string;
  /** Shown after grading. */
  explain: string;
}

const MAX_CHOICES = 4;

function nodeLabel(model: GraphModel, id: string): string {
  const n = model.nodeById.get(id);
  if (!n) return id;
  if (n.kind === "accumulate_grad" && n.variable) {
    const t = model.tensorById.get(n.variable);
    const name = t?.names?.[0];
    if (name) return `${n.name} (${name})`;
  }
  return n.line != null ? `${n.name} (line ${n.line})` : n.name;
}

/** Deterministic pick of distractors: the nodes of the pass not yet executed, in trace order. */
function nextBackward(model: GraphModel, events: readonly TraceEvent[], i: number): Question | null {
  const ev = events[i]!;
  if (!ev.node) return null;
  const done = new Set<string>();
  for (let j = i - 1; j >= 0; j--) {
    const e = events[j]!;
    if (e.kind === "backward_begin") break;
    if ((e.kind === "execute" || e.kind === "accumulate") && e.node) done.add(e.node);
  }
  const pass = ev.backward_pass != null ? model.trace.backward_passes[ev.backward_pass] : undefined;
  const pool = (pass?.order?.length ? pass.order : model.trace.nodes.map((n) => n.id)).filter((id) => id !== ev.node && !done.has(id));
  const extra = [...new Set(pool)].slice(0, MAX_CHOICES - 1);
  if (extra.length === 0) return null; // only one candidate: not a question
  const ids = [ev.node, ...extra].sort((a, b) => (model.nodeById.get(a)?.seq ?? 0) - (model.nodeById.get(b)?.seq ?? 0));
  return {
    index: i,
    kind: "next_backward",
    prompt: "Which node runs next in backward?",
    choices: ids.map((id) => ({ id, label: nodeLabel(model, id) })),
    answer: ev.node,
    explain: `${nodeLabel(model, ev.node)} runs next: the engine runs a node once every gradient it depends on has arrived.`,
  };
}

function gradNone(model: GraphModel, events: readonly TraceEvent[], i: number): Question | null {
  const accumulated = new Set<string>();
  let end = events.length;
  for (let j = 0; j < events.length; j++) {
    const e = events[j]!;
    if (j > i && e.kind === "backward_end") { end = j; break; }
  }
  for (let j = 0; j < end; j++) {
    const e = events[j]!;
    if (e.kind !== "accumulate") continue;
    const t = e.tensor ?? (e.node ? model.nodeById.get(e.node)?.variable : null);
    if (t) accumulated.add(t);
  }
  const leaves = model.trace.tensors.filter((t) => t.is_leaf && (t.names?.length ?? 0) > 0 && !t.is_parameter);
  const candidates = leaves.length ? leaves : model.trace.tensors.filter((t) => t.is_leaf && (t.names?.length ?? 0) > 0);
  if (!candidates.length) return null;
  // Prefer the surprising case: a named leaf whose grad stays None.
  const t = candidates.find((c) => !accumulated.has(c.id)) ?? candidates[0]!;
  const name = t.names?.[0] ?? "x";
  const none = !accumulated.has(t.id);
  return {
    index: i,
    kind: "grad_none",
    prompt: `After this backward pass, will \`${name}.grad\` be None?`,
    choices: [{ id: "yes", label: "Yes, None" }, { id: "no", label: "No, it gets a gradient" }],
    answer: none ? "yes" : "no",
    explain: none
      ? `${name}.grad stays None: ${t.requires_grad ? "no path from the output reaches its AccumulateGrad node" : `${name} does not require grad`}.`
      : `${name}.grad is filled: its AccumulateGrad node is reached from the output.`,
  };
}

function willRaise(i: number, ev: TraceEvent, raises: boolean): Question {
  const where = ev.line != null ? `line ${ev.line}` : "this line";
  return {
    index: i,
    kind: "will_raise",
    prompt: `Will ${where} raise an error?`,
    choices: [{ id: "yes", label: "Yes, it raises" }, { id: "no", label: "No, it runs" }],
    answer: raises ? "yes" : "no",
    explain: raises ? `Yes: ${where} raises.` : `No: ${where} runs without an error.`,
  };
}

/** The question to ask before revealing event `i`, or null. */
export function questionAt(model: GraphModel, i: number): Question | null {
  const events = model.trace.events;
  const ev = events[i];
  if (!ev) return null;
  if (ev.kind === "execute") return nextBackward(model, events, i);
  if (ev.kind === "backward_begin") {
    const failing = ev.backward_pass != null && model.trace.backward_passes[ev.backward_pass]?.error != null;
    return failing ? willRaise(i, ev, true) : gradNone(model, events, i);
  }
  if (ev.kind === "error") {
    // Asked on the first event of the failing line, unless a backward_begin question already covers it.
    return willRaise(i, ev, true);
  }
  return null;
}

/** Indices of every event that has a question (at most one per event), in timeline order. */
export function questionIndices(model: GraphModel): number[] {
  const out: number[] = [];
  const events = model.trace.events;
  for (let i = 0; i < events.length; i++) {
    const ev = events[i]!;
    if (ev.kind === "error" && out.length && events[out[out.length - 1]!]!.kind === "backward_begin" && model.trace.backward_passes[events[out[out.length - 1]!]!.backward_pass ?? -1]?.error) continue;
    if (questionAt(model, i)) out.push(i);
  }
  return out;
}

/** Grades an answer. */
export function grade(q: Question, choiceId: string): boolean {
  return q.answer === choiceId;
}
