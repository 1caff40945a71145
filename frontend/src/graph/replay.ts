// The timeline state machine: replays trace events; step forward/back/seek to any event count.
import type { TraceEvent, ValueSummary } from "../api/types";
import type { GraphModel } from "./model";
import { displayName } from "./format";

/** The state after applying the first `step` events (step 0 = nothing has happened yet). */
export interface ReplayState {
  step: number;
  event: TraceEvent | null;
  line: number | null;
  /** The node the last event was about (created, executing, accumulating, freed). */
  active: string | null;
  activeTensor: string | null;
  /** Backward pass in progress (between backward_begin and backward_end). */
  pass: number | null;
  /** Most recent backward pass started; its execution marks stay until the next one starts. */
  lastPass: number | null;
  executed: Set<string>;
  /** Execution order within lastPass so far. */
  order: string[];
  received: Map<string, (ValueSummary | null)[]>;
  /** Trace edge index -> gradient sent along it (lastPass). */
  sent: Map<number, ValueSummary | null>;
  /** Tensor id -> its .grad now (null = None). */
  grads: Map<string, ValueSummary | null>;
  freed: Set<string>;
  stale: Set<string>;
  /** Tensor id -> version; absent = 0. */
  versions: Map<string, number>;
  errorShown: boolean;
  culpritNode: string | null;
  culpritTensor: string | null;
  gradEnabled: boolean;
  inferenceMode: boolean;
  /** Number of print events applied (the stdout panel shows how far output got). */
  prints: number;
  warnings: number;
  /** Passes interrupted by a pass run inside their backward (a custom backward calling
   * autograd.grad, reentrant checkpointing), innermost last: restored when it ends. */
  outer: PassMarks[];
}

/** The per-pass part of the state, set aside while a nested pass runs. */
export interface PassMarks {
  pass: number | null;
  executed: Set<string>;
  order: string[];
  received: Map<string, (ValueSummary | null)[]>;
  sent: Map<number, ValueSummary | null>;
}

export function initialState(): ReplayState {
  return {
    step: 0, event: null, line: null, active: null, activeTensor: null, pass: null, lastPass: null,
    executed: new Set(), order: [], received: new Map(), sent: new Map(), grads: new Map(), freed: new Set(),
    stale: new Set(), versions: new Map(), errorShown: false, culpritNode: null, culpritTensor: null,
    gradEnabled: true, inferenceMode: false, prints: 0, warnings: 0, outer: [],
  };
}

export function cloneState(s: ReplayState): ReplayState {
  return {
    ...s,
    executed: new Set(s.executed), order: [...s.order], received: new Map(s.received), sent: new Map(s.sent),
    grads: new Map(s.grads), freed: new Set(s.freed), stale: new Set(s.stale), versions: new Map(s.versions),
    outer: s.outer.map((o) => ({
      pass: o.pass, executed: new Set(o.executed), order: [...o.order], received: new Map(o.received), sent: new Map(o.sent),
    })),
  };
}

/** Applies one event in place. Pure with respect to everything but `s`. */
export function applyEvent(s: ReplayState, ev: TraceEvent, model: GraphModel): void {
  s.step += 1;
  s.event = ev;
  s.line = ev.line ?? s.line;
  s.active = ev.node ?? null;
  s.activeTensor = ev.tensor ?? null;
  switch (ev.kind) {
    case "grad_mode":
      if (ev.grad_enabled != null) s.gradEnabled = ev.grad_enabled;
      if (ev.inference_mode != null) s.inferenceMode = ev.inference_mode;
      break;
    case "inplace":
      if (ev.tensor && ev.version_after != null) s.versions.set(ev.tensor, ev.version_after);
      break;
    case "stale":
      if (ev.node) s.stale.add(ev.node);
      for (const n of ev.nodes ?? []) s.stale.add(n);
      break;
    case "backward_begin":
      if (s.pass !== null) s.outer.push({ pass: s.pass, executed: s.executed, order: s.order, received: s.received, sent: s.sent });
      s.pass = ev.backward_pass ?? null;
      s.lastPass = s.pass;
      s.executed = new Set();
      s.order = [];
      s.received = new Map();
      s.sent = new Map();
      break;
    case "execute":
      if (ev.node) {
        s.executed.add(ev.node);
        s.order.push(ev.node);
        if (ev.grads) s.received.set(ev.node, ev.grads);
        if (ev.sent) {
          for (const ei of model.nextEdges.get(ev.node) ?? []) {
            const k = model.trace.edges?.[ei]?.index ?? -1;
            if (k >= 0 && k < ev.sent.length) s.sent.set(ei, ev.sent[k] ?? null);
          }
        }
      }
      break;
    case "accumulate": {
      const t = ev.tensor ?? (ev.node ? model.nodeById.get(ev.node)?.variable : null) ?? null;
      if (t) s.grads.set(t, ev.after ?? null);
      if (ev.node && !s.executed.has(ev.node)) { s.executed.add(ev.node); s.order.push(ev.node); }
      s.activeTensor = t;
      break;
    }
    case "set_grad":
      if (ev.tensor) { s.grads.set(ev.tensor, ev.after ?? null); s.activeTensor = ev.tensor; }
      break;
    case "free":
      if (ev.node) s.freed.add(ev.node);
      for (const n of ev.nodes ?? []) s.freed.add(n);
      break;
    case "backward_end": {
      const outer = s.outer.pop();
      if (outer) {
        // The pass this one ran inside goes on: its marks come back.
        Object.assign(s, outer);
        s.lastPass = outer.pass;
      } else {
        s.pass = null;
      }
      break;
    }
    case "print":
      s.prints += 1;
      break;
    case "warning":
      s.warnings += 1;
      break;
    case "error": {
      s.errorShown = true;
      const err = model.trace.error;
      s.culpritNode = ev.node ?? err?.node ?? null;
      s.culpritTensor = ev.tensor ?? err?.tensor ?? null;
      s.active = s.culpritNode;
      break;
    }
    default:
      break;
  }
}

const CHECKPOINT_EVERY = 256;

/** Random access over the timeline with checkpoints, so back-stepping and scrubbing stay O(256). */
export class Replay {
  readonly total: number;
  private readonly events: TraceEvent[];
  private readonly checkpoints = new Map<number, ReplayState>();
  private cur: ReplayState;

  constructor(readonly model: GraphModel) {
    this.events = model.trace.events ?? [];
    this.total = this.events.length;
    this.cur = initialState();
    this.checkpoints.set(0, cloneState(this.cur));
  }

  get state(): ReplayState {
    return this.cur;
  }

  /** Moves to `step` (clamped to [0, total]) and returns the new state. */
  seek(step: number): ReplayState {
    const target = Math.max(0, Math.min(this.total, Math.floor(step)));
    if (target < this.cur.step || target - this.cur.step > CHECKPOINT_EVERY) {
      let base = Math.floor(target / CHECKPOINT_EVERY) * CHECKPOINT_EVERY;
      while (base > 0 && !this.checkpoints.has(base)) base -= CHECKPOINT_EVERY;
      if (!(base <= this.cur.step && this.cur.step <= target)) this.cur = cloneState(this.checkpoints.get(base)!);
    }
    while (this.cur.step < target) {
      applyEvent(this.cur, this.events[this.cur.step]!, this.model);
      if (this.cur.step % CHECKPOINT_EVERY === 0 && !this.checkpoints.has(this.cur.step)) this.checkpoints.set(this.cur.step, cloneState(this.cur));
    }
    return this.cur;
  }

  forward(): ReplayState { return this.seek(this.cur.step + 1); }
  back(): ReplayState { return this.seek(this.cur.step - 1); }

  /** Next step whose event is a backward `execute`/`accumulate` (for "jump to backward"). */
  firstStepOfKind(kind: TraceEvent["kind"], from = 0): number | null {
    for (let i = from; i < this.total; i++) if (this.events[i]!.kind === kind) return i + 1;
    return null;
  }
}

/** Node/tensor ids referenced by events in steps (a, b] — what may need restyling after a move. */
export function touchedBetween(model: GraphModel, a: number, b: number): { nodes: Set<string>; tensors: Set<string>; passBoundary: boolean } {
  const lo = Math.min(a, b), hi = Math.max(a, b);
  const nodes = new Set<string>(), tensors = new Set<string>();
  let passBoundary = false;
  const evs = model.trace.events ?? [];
  for (let i = lo; i < hi; i++) {
    const ev = evs[i]!;
    if (ev.node) nodes.add(ev.node);
    for (const n of ev.nodes ?? []) nodes.add(n);
    if (ev.tensor) tensors.add(ev.tensor);
    for (const t of ev.tensors ?? []) tensors.add(t);
    if (ev.kind === "backward_begin" || ev.kind === "error") passBoundary = true;
    if (ev.kind === "accumulate" && ev.node) { const v = model.nodeById.get(ev.node)?.variable; if (v) tensors.add(v); }
  }
  return { nodes, tensors, passBoundary };
}

/** " (y)" for a node whose output is named, else " (from a, b)": the named leaves it was computed
 *  from (the reader knows `vparams`, not the anonymous view of it), else "". */
function nodeSubject(model: GraphModel, nodeId: string): string {
  const out = model.tensorById.get(model.nodeById.get(nodeId)?.output ?? "")?.names;
  if (out?.length) return ` (${out.join(" / ")})`;
  const leaves: string[] = [];
  const seen = new Set([nodeId]);
  const queue = [nodeId];
  // Breadth-first down the next edges; a few hundred nodes at most, for one caption.
  while (queue.length && seen.size < 500) {
    const id = queue.shift()!;
    const leaf = model.nodeById.get(id)?.variable;
    const names = leaf ? model.tensorById.get(leaf)?.names : undefined;
    if (names?.length && !leaves.includes(names[0]!)) leaves.push(names[0]!);
    for (const ei of model.nextEdges.get(id) ?? []) {
      const next = model.trace.edges?.[ei]?.target;
      if (next && !seen.has(next)) { seen.add(next); queue.push(next); }
    }
  }
  if (!leaves.length) return "";
  return ` (from ${leaves.slice(0, 2).join(", ")}${leaves.length > 2 ? ", …" : ""})`;
}

/** One plain-text sentence about an event, for the player caption. */
export function describeEvent(ev: TraceEvent | null, model: GraphModel): string {
  if (!ev) return "Start: nothing has run yet.";
  const nodeName = (id: string | null | undefined): string => {
    const name = id ? model.nodeById.get(id)?.name : undefined;
    return name ? displayName(name) : id ?? "?";
  };
  const tensorName = (id: string | null | undefined): string => {
    if (!id) return "a tensor";
    const t = model.tensorById.get(id);
    return t?.names?.length ? t.names.join(" / ") : id;
  };
  const at = ev.line != null ? `line ${ev.line}: ` : "";
  switch (ev.kind) {
    case "node": {
      const replaced = ev.node ? model.replaces.get(ev.node) : undefined;
      const where = replaced ? `, in place of the one built before (${replaced}), which backward has consumed` : "";
      return `${at}${ev.op ?? "op"} created ${nodeName(ev.node)}${ev.module ? ` in ${ev.module}` : ""}${where}`;
    }
    case "leaf": return `${at}leaf tensor ${tensorName(ev.tensor)} created`;
    case "inplace": return `${at}in-place ${ev.op ?? "op"} on ${tensorName(ev.tensor)}: version ${ev.version_before ?? "?"} → ${ev.version_after ?? "?"}`;
    case "grad_mode": return `${at}grad mode: ${ev.inference_mode ? "inference_mode" : ev.grad_enabled === false ? "no_grad (grad disabled)" : "grad enabled"}`;
    case "no_grad_op": return `${at}${ev.op ?? "op"} ran without recording a node (grad disabled)`;
    case "detach": return `${at}detach(): ${tensorName(ev.tensor)} is cut from the graph`;
    case "requires_grad": return `${at}requires_grad set to ${String(ev.value)} on ${tensorName(ev.tensor)}`;
    case "retain_grad": return `${at}retain_grad() on ${tensorName(ev.tensor)}: backward will keep its .grad${model.tensorById.get(ev.tensor ?? "")?.is_leaf ? " (a leaf keeps it anyway)" : ""}`;
    case "hook": return `${at}${ev.op === "register_post_accumulate_grad_hook" ? "post-accumulate-grad hook" : "gradient hook"} registered on ${tensorName(ev.tensor)}: it runs during backward`;
    case "set_grad": return `${at}${tensorName(ev.tensor)}.grad ${ev.after ? "replaced" : "set to None"}`;
    case "set_data": {
      // Values cut from a graph (what vector_to_parameters does): say where they came from, and
      // that the link is gone (the memory is shared, the history is not); otherwise that autograd's version checks miss the change.
      const from = ev.node ? `values from ${nodeName(ev.node)}${nodeSubject(model, ev.node)}`
        : ev.tensors?.length ? `${ev.tensors.map(tensorName).join(", ")}'s values` : null;
      if (from) return `${at}${tensorName(ev.tensor)}.data replaced with ${from}: shared memory, no history, nothing flows back`;
      return `${at}${tensorName(ev.tensor)}.data replaced: new values, version stays ${ev.version_after ?? "?"} (autograd does not see it)`;
    }
    case "stale": return `${at}${nodeName(ev.node)} now holds a stale saved tensor${ev.saved ? ` (${ev.saved})` : ""}`;
    case "backward_begin": return `${at}backward pass ${ev.backward_pass ?? ""} begins`;
    case "execute": return `${at}backward executes ${nodeName(ev.node)}`;
    case "accumulate": return `${at}${tensorName(ev.tensor ?? model.nodeById.get(ev.node ?? "")?.variable)}.grad accumulated`;
    case "free": return `${at}saved buffers of ${ev.nodes?.length ? ev.nodes.length === 1 ? nodeName(ev.nodes[0]) : `${ev.nodes.length} nodes` : nodeName(ev.node)} freed`;
    case "backward_end": return `${at}backward pass ${ev.backward_pass ?? ""} ends`;
    case "print": return `${at}print`;
    case "warning": return `${at}warning${ev.category ? ` (${ev.category})` : ""}${ev.hint ? `: ${ev.hint.title}` : ""}`;
    case "error": {
      const title = model.trace.error?.explanation?.title;
      return `${at}error: ${model.trace.error?.type ?? "exception"}${title ? ` (${title})` : ""}`;
    }
    case "elided": return `${ev.count ?? "some"} events elided (trace was bounded)`;
    default: return at + ev.kind;
  }
}
