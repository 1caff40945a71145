// Predict mode: questions generated from the trace before a step is revealed (next backward node, x.grad None?, will it raise?).
import type { GraphModel } from "../graph/model";
import type { TraceEvent } from "../api/types";
import { displayName } from "../graph/format";

export interface Choice { id: string; label: string }
export interface Question {
  /** Index of the event the question is about: answering reveals the state after it (step index + 1). */
  index: number;
  kind: "next_backward" | "grad_none" | "will_raise";
  /** What is asked about (an execute step, a tensor's grad, a failure): a trace asks about each fact once. */
  fact: string;
  prompt: string;
  choices: Choice[];
  answer: string;
  /** Shown after grading. */
  explain: string;
}

const MAX_CHOICES = 4;

/** Callers pass ids of nodes the trace has (a bounded trace may name nodes it dropped). */
function nodeLabel(model: GraphModel, id: string): string {
  const n = model.nodeById.get(id)!;
  const name = displayName(n.name);
  if (n.kind === "accumulate_grad" && n.variable) {
    const variable = model.tensorById.get(n.variable)?.names?.[0];
    if (variable) return `${name} (${variable})`;
  }
  return n.line != null ? `${name} (line ${n.line})` : name;
}

/**
 * `items` in an order that says nothing about which one is right, the same on every load:
 * a Fisher-Yates shuffle driven by a hash of `seed`. (In creation order the node that runs
 * next was the last choice in 206 of 212 questions: distractors wait on it, so they are older.)
 */
export function shuffled<T>(items: readonly T[], seed: string): T[] {
  let h = 2166136261; // FNV-1a of the seed, then xorshift steps
  for (let k = 0; k < seed.length; k++) h = Math.imul(h ^ seed.charCodeAt(k), 16777619) >>> 0;
  const next = (): number => {
    h ^= h << 13; h >>>= 0; h ^= h >>> 17; h ^= h << 5; h >>>= 0;
    return h / 4294967296;
  };
  const out = [...items];
  for (let k = out.length - 1; k > 0; k--) {
    const j = Math.floor(next() * (k + 1));
    [out[k], out[j]] = [out[j]!, out[k]!];
  }
  return out;
}

const consumersOf = new WeakMap<GraphModel, Map<string, string[]>>();

/** Node id -> the nodes that send it gradients (those whose next_functions hold it). */
function consumers(model: GraphModel): Map<string, string[]> {
  let map = consumersOf.get(model);
  if (!map) {
    map = new Map();
    for (const e of model.trace.edges) map.set(e.target, [...(map.get(e.target) ?? []), e.source]);
    consumersOf.set(model, map);
  }
  return map;
}

/** Deterministic pick of distractors: nodes of the pass still waiting for a gradient, in trace order. */
function nextBackward(model: GraphModel, events: readonly TraceEvent[], i: number): Question | null {
  const ev = events[i]!;
  if (!ev.node || !model.nodeById.has(ev.node)) return null;
  const done = new Set<string>();
  for (let j = i - 1; j >= 0; j--) {
    const e = events[j]!;
    if (e.kind === "backward_begin") break;
    if ((e.kind === "execute" || e.kind === "accumulate") && e.node) done.add(e.node);
  }
  const pass = model.trace.backward_passes.find((p) => p.index === ev.backward_pass);
  const inPass = new Set(pass?.order ?? []);
  // A node whose gradients have all arrived could run now too (which of the ready nodes goes
  // first is the engine's own tie-break): offering it would make two right answers. Only
  // nodes still waiting for a gradient from this pass are distractors.
  const waiting = (id: string): boolean => (consumers(model).get(id) ?? []).some((c) => inPass.has(c) && !done.has(c));
  const pool = (pass?.order?.length ? pass.order : model.trace.nodes.map((n) => n.id))
    .filter((id) => id !== ev.node && !done.has(id) && model.nodeById.has(id) && waiting(id));
  // Two choices that read the same (the three `ViewBackward0 (line 13)` of one line) cannot be told
  // apart: keep one node per label, and never one that reads like the answer.
  const labels = new Set([nodeLabel(model, ev.node)]);
  const extra: string[] = [];
  for (const id of new Set(pool)) {
    const label = nodeLabel(model, id);
    if (labels.has(label)) continue;
    labels.add(label);
    extra.push(id);
    if (extra.length === MAX_CHOICES - 1) break;
  }
  if (extra.length === 0) return null; // only one candidate: not a question
  const ids = shuffled([ev.node, ...extra], `execute:${i}`);
  return {
    index: i,
    kind: "next_backward",
    fact: `execute:${i}`,
    prompt: "Which node runs next in backward?",
    choices: ids.map((id) => ({ id, label: nodeLabel(model, id) })),
    answer: ev.node,
    explain: `${nodeLabel(model, ev.node)} runs next: the engine runs a node once every gradient it depends on has arrived.`,
  };
}

const gradFact = (tensor: string): string => `grad:${tensor}`;

/** Asked at a pass's backward_begin (event `i`), about a named leaf that exists by then and was not asked about before. */
function gradNone(model: GraphModel, events: readonly TraceEvent[], i: number, asked: ReadonlySet<string>): Question | null {
  const exists = (id: string): boolean => {
    const item = model.tensorItem.get(id);
    return (item ? model.items.get(item)?.appearAt ?? 0 : 0) <= i;
  };
  const named = model.trace.tensors.filter((t) => t.is_leaf && (t.names?.length ?? 0) > 0 && exists(t.id) && !asked.has(gradFact(t.id)));
  const inputs = named.filter((t) => !t.is_parameter);
  const candidates = inputs.length ? inputs : named;
  if (!candidates.length) return null;

  // .grad after the pass: backward fills it (and it stays filled across passes), `t.grad = None` clears it.
  const passIndex = events[i]!.backward_pass;
  let end = events.findIndex((e, j) => j > i && e.kind === "backward_end" && e.backward_pass === passIndex);
  if (end < 0) end = events.length;
  const filled = new Map<string, boolean>();
  const reachedNow = new Set<string>();
  for (let j = 0; j < end; j++) {
    const e = events[j]!;
    if (e.kind === "accumulate") {
      const t = e.tensor ?? (e.node ? model.nodeById.get(e.node)?.variable : null);
      if (!t) continue;
      filled.set(t, true);
      if (j > i) reachedNow.add(t);
    } else if (e.kind === "set_grad" && e.tensor) {
      filled.set(e.tensor, e.after != null);
    }
  }

  // Prefer the surprising case: a named leaf whose grad stays None.
  const t = candidates.find((c) => !filled.get(c.id)) ?? candidates[0]!;
  const name = t.names?.[0] ?? "x";
  const none = !filled.get(t.id);
  let explain: string;
  if (none) explain = `${name}.grad stays None: ${t.requires_grad ? "no path from the output reaches its AccumulateGrad node" : `${name} does not require grad`}.`;
  else if (reachedNow.has(t.id)) explain = `${name}.grad is filled: its AccumulateGrad node is reached from the output.`;
  else explain = `${name}.grad is not None: it keeps what an earlier backward pass put there (a gradient stays until it is cleared).`;
  return {
    index: i,
    kind: "grad_none",
    fact: gradFact(t.id),
    prompt: `After this backward pass, will \`${name}.grad\` be None?`,
    choices: [{ id: "yes", label: "Yes, None" }, { id: "no", label: "No, it gets a gradient" }],
    answer: none ? "yes" : "no",
    explain,
  };
}

/** `fact` names the failure, so the failing pass and its error event make one question. */
function willRaise(i: number, ev: TraceEvent, fact: string, raises = true): Question {
  const where = ev.line != null ? `line ${ev.line}` : "this line";
  return {
    index: i,
    kind: "will_raise",
    fact,
    prompt: `Will ${where} raise an error?`,
    choices: [{ id: "yes", label: "Yes, it raises" }, { id: "no", label: "No, it runs" }],
    answer: raises ? "yes" : "no",
    explain: raises ? `Yes: ${where} raises.` : `No: ${where} runs without an error.`,
  };
}

/** The backward pass event `i` happens inside (the innermost one still open), or null. */
function openPass(events: readonly TraceEvent[], i: number): number | null {
  let closed = 0;
  for (let j = i - 1; j >= 0; j--) {
    const e = events[j]!;
    if (e.kind === "backward_end") closed++;
    else if (e.kind === "backward_begin") {
      if (closed === 0) return e.backward_pass ?? null;
      closed--;
    }
  }
  return null;
}

/** The question to ask before revealing event `i`, or null; `asked` holds the facts already asked about. */
function questionAt(model: GraphModel, i: number, asked: ReadonlySet<string>): Question | null {
  const events = model.trace.events;
  const ev = events[i]!;
  if (ev.kind === "execute") return nextBackward(model, events, i);
  if (ev.kind === "backward_begin") {
    const failing = model.trace.backward_passes.find((p) => p.index === ev.backward_pass)?.error != null;
    if (failing) return willRaise(i, ev, `raise:pass${ev.backward_pass}`);
    // In a trace that fails, a pass that runs is worth predicting too (the first of two
    // backward calls, an earlier loop iteration): else "will it raise?" is always yes.
    // Once per line, so a training loop does not ask it at every step.
    const fact = `runs:line${ev.line ?? "?"}`;
    if (model.trace.error != null && !asked.has(fact)) return willRaise(i, ev, fact, false);
    return gradNone(model, events, i, asked);
  }
  if (ev.kind === "error") {
    // An error inside a backward pass is the failure its backward_begin already asked about.
    const pass = openPass(events, i);
    return willRaise(i, ev, pass != null ? `raise:pass${pass}` : `raise:event${i}`);
  }
  return null;
}

/** Every question of the trace, in timeline order: at most one per event, and one per fact. */
export function predictQuestions(model: GraphModel): Question[] {
  const asked = new Set<string>();
  const out: Question[] = [];
  for (let i = 0; i < model.trace.events.length; i++) {
    const q = questionAt(model, i, asked);
    if (!q || asked.has(q.fact)) continue;
    asked.add(q.fact);
    out.push(q);
  }
  return out;
}

/** Grades an answer. */
export function grade(q: Question, choiceId: string): boolean {
  return q.answer === choiceId;
}
