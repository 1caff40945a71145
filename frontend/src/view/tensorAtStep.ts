// What the timeline says about a tensor at a given step: when it was made, its grad_fn then, changes to come.
import type { GraphModel } from "../graph/model";

/**
 * A trace's tensors hold their state at the end of the run (value, grad_fn, flags); events say
 * when things happened. This reads the events so the inspector can tell the two apart:
 * `y = x * 1; y.add_(100)` ends with y's grad_fn an AddBackward0 made by the in-place step,
 * while before it y's grad_fn was the MulBackward0 that made it.
 */
export interface TensorTimeline {
  /** Step (events applied) from which the tensor exists: its first event, or null if none names it. */
  created: number | null;
  /** Line of that event. */
  createdLine: number | null;
  /** [step, node id]: each grad_fn it was given, in order (an op that made or wrote it). */
  gradFns: [number, string][];
  /** [step, event index]: in-place writes and .data assignments, in order. */
  writes: [number, number][];
}

const cache = new WeakMap<GraphModel, Map<string, TensorTimeline>>();

/** One pass over the events per model, then lookups. */
function timelines(model: GraphModel): Map<string, TensorTimeline> {
  const known = cache.get(model);
  if (known) return known;
  const out = new Map<string, TensorTimeline>();
  const of = (tid: string): TensorTimeline => {
    let t = out.get(tid);
    if (!t) out.set(tid, (t = { created: null, createdLine: null, gradFns: [], writes: [] }));
    return t;
  };
  model.trace.events.forEach((ev, i) => {
    const step = i + 1;
    // Any event naming a tensor comes after the tensor exists: the first one is its creation
    // as far as the timeline knows (a leaf's "leaf", an op's "node", a detach's outputs).
    for (const tid of [ev.tensor, ...(ev.tensors ?? [])]) {
      if (!tid) continue;
      const t = of(tid);
      if (t.created === null) { t.created = step; t.createdLine = ev.line ?? null; }
    }
    if (!ev.tensor) return;
    // A "node" event names the node's output; for an AccumulateGrad it names the leaf it
    // accumulates into, which is not that leaf's grad_fn.
    if (ev.kind === "node" && ev.node && model.nodeById.get(ev.node)?.kind !== "accumulate_grad") of(ev.tensor).gradFns.push([step, ev.node]);
    if (ev.kind === "inplace" || ev.kind === "set_data") of(ev.tensor).writes.push([step, i]);
  });
  cache.set(model, out);
  return out;
}

export function tensorTimeline(model: GraphModel, tid: string): TensorTimeline {
  return timelines(model).get(tid) ?? { created: null, createdLine: null, gradFns: [], writes: [] };
}

/** Its grad_fn after `step` events: a node id, null (None), or undefined if it does not exist yet. */
export function gradFnAt(model: GraphModel, tid: string, step: number): string | null | undefined {
  const tl = tensorTimeline(model, tid);
  if (tl.created !== null && step < tl.created) return undefined;
  let found: string | null = null;
  let at = -1;
  for (const [s, node] of tl.gradFns) if (s <= step && s >= at) { found = node; at = s; }
  // A node no event names for this tensor (the other outputs of a multi-output op): the
  // final grad_fn counts from the step its node appears.
  const final = model.tensorById.get(tid)?.grad_fn;
  const finalAt = final ? model.items.get(final)?.appearAt : undefined;
  if (final && finalAt !== undefined && finalAt <= step && finalAt > at && !tl.gradFns.some(([, n]) => n === final)) found = final;
  return found;
}

/** Writes (in-place changes, .data assignments) not yet applied at `step`: their event indexes. */
export function writesAfter(model: GraphModel, tid: string, step: number): number[] {
  return tensorTimeline(model, tid).writes.filter(([s]) => s > step).map(([, i]) => i);
}
