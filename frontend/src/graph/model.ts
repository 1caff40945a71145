// Indexes a trace for the viewer: lookups by id, when each element appears, module groups.
import type { RawTrace, Trace, TraceEdge, TraceNode, TraceTensor } from "../api/types";
import { displayName, fmtShape } from "./format";

/** Fills absent lists so the rest of the viewer can rely on them. */
export function normalizeTrace(raw: RawTrace | Trace): Trace {
  return { ...raw, nodes: raw.nodes ?? [], edges: raw.edges ?? [], tensors: raw.tensors ?? [], events: raw.events ?? [], backward_passes: raw.backward_passes ?? [] };
}

/** Graph element ids: grad_fn nodes keep the trace's ids ("n3"); the rest are prefixed. */
export const tensorElId = (tid: string): string => "T:" + tid;
export const groupElId = (key: string): string => "G:" + key;
export const edgeElId = (i: number): string => "e" + i;
export const tensorEdgeElId = (tid: string): string => "te:" + tid;

export type ElKind = "op" | "accumulate_grad" | "custom" | "backward_op" | "tensor" | "group";

/** One drawable item (before grouping): grad_fn node or tensor node. */
export interface Item {
  id: string;
  kind: ElKind;
  /** Static style classes (legend categories). */
  classes: string[];
  label: string;
  /** Step (number of applied events) from which it is visible. */
  appearAt: number;
  /** Step from which it is gone (Infinity: never), see `retirementSteps`. */
  goneAt: number;
  group: string | null;
  node?: TraceNode;
  tensor?: TraceTensor;
}

/** A data-flow edge between two items (from producer to consumer). */
export interface Link {
  id: string;
  from: string;
  to: string;
  appearAt: number;
  goneAt: number;
  /** Index into trace.edges, or -1 for tensor<->node links. */
  edge: number;
  classes: string[];
}

export interface Group {
  key: string;
  id: string;
  label: string;
  parent: string | null;
  children: string[];
  /** Item ids directly inside this group. */
  items: string[];
  /** All item ids inside, recursively. */
  size: number;
}

export interface GraphModel {
  trace: Trace;
  items: Map<string, Item>;
  links: Link[];
  groups: Map<string, Group>;
  rootGroups: string[];
  nodeById: Map<string, TraceNode>;
  tensorById: Map<string, TraceTensor>;
  /** tensor id -> the item that draws it (its tensor node, or its grad_fn node). */
  tensorItem: Map<string, string>;
  /** node id -> edges leaving it in autograd direction (next_functions order). */
  nextEdges: Map<string, number[]>;
  /** node id -> saved tensors' tensor ids. */
  firstEventOfLine: Map<number, number>;
  /** Lines run with grad disabled (no_grad / inference_mode) and lines with detach(). */
  noGradLines: Set<number>;
  detachLines: Set<number>;
  /** Tensors differentiated by some backward pass (drawn as outputs). */
  roots: Set<string>;
  /** Node id -> the first node of its replacement chain (loop iterations), see `retirementSteps`. */
  slotOf: Map<string, string>;
  /** Node id -> the node of an earlier, consumed graph it replaced (and retired). */
  replaces: Map<string, string>;
  /** The other way round: node id -> the node that replaced it. */
  replacedBy: Map<string, string>;
  /** Tensor id -> nodes whose `output` it is (their labels show its in-place version). */
  outputNodes: Map<string, string[]>;
}

function nodeLabel(n: TraceNode, out: TraceTensor | undefined): string {
  const name = displayName(n.name);
  const shape = out ? fmtShape(out.shape) : "";
  return shape ? `${name}\n${shape}` : name;
}

function tensorLabel(t: TraceTensor): string {
  const name = t.names && t.names.length ? t.names.join(", ") : t.is_leaf ? "leaf" : "tensor";
  const dtype = t.dtype.replace(/^torch\./, "");
  const shape = fmtShape(t.shape) + (dtype === "float32" ? "" : " " + dtype);
  return `${name}\n${shape}`;
}

/** Longest module path of a dotted parameter name ("model.fc1.weight" -> "model.fc1"). */
function ownerModule(name: string): string | null {
  const i = name.lastIndexOf(".");
  return i > 0 ? name.slice(0, i) : null;
}

export interface ModelOptions {
  /** Above this many items, nodes outside any module are grouped by source line. */
  lineGroupThreshold?: number;
}

export function buildModel(trace: Trace, opts: ModelOptions = {}): GraphModel {
  const lineGroupThreshold = opts.lineGroupThreshold ?? 300;
  const nodes = trace.nodes ?? [];
  const tensors = trace.tensors ?? [];
  const edges = trace.edges ?? [];
  const events = trace.events ?? [];
  const nodeById = new Map(nodes.map((n) => [n.id, n]));
  const tensorById = new Map(tensors.map((t) => [t.id, t]));

  // When each node and tensor first shows: step = index of its creating event + 1.
  const nodeStep = new Map<string, number>();
  const tensorStep = new Map<string, number>();
  // Non-leaf tensor id -> [step, node] for each node event that made it its grad_fn, in
  // order: the op that created it, then each in-place op (y.add_() gives y a new grad_fn).
  const makers = new Map<string, [number, string][]>();
  const firstEventOfLine = new Map<number, number>();
  const noGradLines = new Set<number>();
  const detachLines = new Set<number>();
  let gradOff = false;
  events.forEach((ev, i) => {
    if (ev.line != null && !firstEventOfLine.has(ev.line)) firstEventOfLine.set(ev.line, i);
    if (ev.kind === "node" && ev.node && !nodeStep.has(ev.node)) nodeStep.set(ev.node, i + 1);
    if (ev.kind === "node" && ev.nodes) for (const n of ev.nodes) if (!nodeStep.has(n)) nodeStep.set(n, i + 1);
    if (ev.kind === "leaf" && ev.tensor && !tensorStep.has(ev.tensor)) tensorStep.set(ev.tensor, i + 1);
    if (ev.kind === "node" && ev.node && ev.tensor) {
      const list = makers.get(ev.tensor) ?? [];
      list.push([i + 1, ev.node]);
      makers.set(ev.tensor, list);
    }
    if (ev.kind === "grad_mode") {
      gradOff = ev.grad_enabled === false || ev.inference_mode === true;
      if (gradOff && ev.line != null) noGradLines.add(ev.line);
    }
    if (ev.kind === "no_grad_op" && ev.line != null) noGradLines.add(ev.line);
    if (gradOff && ev.line != null && ev.kind !== "grad_mode") noGradLines.add(ev.line);
    if (ev.kind === "detach" && ev.line != null) detachLines.add(ev.line);
  });

  const nextEdges = new Map<string, number[]>();
  const consumers = new Map<string, string[]>(); // autograd target -> sources (its data-flow consumers)
  edges.forEach((e, i) => {
    let a = nextEdges.get(e.source);
    if (!a) nextEdges.set(e.source, (a = []));
    a.push(i);
    let c = consumers.get(e.target);
    if (!c) consumers.set(e.target, (c = []));
    c.push(e.source);
  });

  // Nodes without a creation event (AccumulateGrad, elided ones) appear with their first
  // consumer. Process by descending seq so chains of event-less nodes resolve in one pass.
  const bySeqDesc = [...nodes].sort((a, b) => b.seq - a.seq);
  const fromEvent = new Set(nodeStep.keys());
  for (let pass = 0; pass < 3; pass++) {
    for (const n of bySeqDesc) {
      if (fromEvent.has(n.id)) continue;
      let best = nodeStep.get(n.id) ?? Infinity;
      for (const c of consumers.get(n.id) ?? []) {
        const s = nodeStep.get(c);
        if (s !== undefined && s < best) best = s;
      }
      if (n.kind === "accumulate_grad" && n.variable) {
        const s = tensorStep.get(n.variable);
        if (s !== undefined && s < best) best = s;
      }
      if (best !== Infinity) nodeStep.set(n.id, best);
    }
  }
  const appear = (id: string): number => nodeStep.get(id) ?? 0;
  const { goneAt: goneStep, slotOf, replaces } = retirementSteps(trace, nodeById, consumers);
  const gone = (id: string): number => goneStep.get(id) ?? Infinity;

  const roots = new Set<string>();
  for (const bp of trace.backward_passes ?? []) for (const r of bp.roots ?? []) if (r) roots.add(r);

  const items = new Map<string, Item>();
  const links: Link[] = [];
  const tensorItem = new Map<string, string>();
  const outputOf = new Map<string, TraceTensor>();
  for (const t of tensors) if (t.grad_fn) outputOf.set(t.grad_fn, t);
  for (const n of nodes) if (n.output && tensorById.has(n.output) && !outputOf.has(n.id)) outputOf.set(n.id, tensorById.get(n.output)!);

  for (const n of nodes) {
    const classes = ["gfn", "k-" + n.kind];
    if (n.created_by_pass != null) classes.push("double-backward");
    if (n.saved && n.saved.some((s) => s.kind !== "value")) classes.push("has-saved");
    items.set(n.id, {
      id: n.id,
      kind: n.kind,
      classes,
      label: nodeLabel(n, n.kind === "accumulate_grad" ? undefined : outputOf.get(n.id)),
      appearAt: appear(n.id),
      goneAt: gone(n.id),
      group: n.module ?? null,
      node: n,
    });
  }
  edges.forEach((e: TraceEdge, i) => {
    if (!nodeById.has(e.source) || !nodeById.has(e.target)) return;
    // Data-flow direction: from the producer (autograd target) to the consumer (source).
    links.push({
      id: edgeElId(i), from: e.target, to: e.source, appearAt: Math.max(appear(e.source), appear(e.target)),
      goneAt: Math.min(gone(e.source), gone(e.target)), edge: i, classes: ["flow"],
    });
  });

  const accOf = new Map<string, TraceNode>();
  for (const n of nodes) if (n.kind === "accumulate_grad" && n.variable) accOf.set(n.variable, n);

  for (const t of tensors) {
    const named = (t.names?.length ?? 0) > 0;
    const acc = accOf.get(t.id);
    let show = false;
    const classes = ["tensor"];
    let appearAt = tensorStep.get(t.id);
    let group: string | null = null;
    if (t.is_leaf) {
      show = !!acc || named;
      classes.push(t.requires_grad ? "leaf-grad" : "leaf-nograd");
      if (t.is_parameter) classes.push("param");
      if (acc) appearAt = Math.min(appearAt ?? Infinity, appear(acc.id));
      group = acc?.module ?? (named ? ownerModule(t.names![0]!) : null);
    } else if (t.grad_fn && named) {
      show = true;
      // From the op that made it, not from its final grad_fn (an in-place op made later).
      const first = makers.get(t.id)?.find(([, n]) => nodeById.has(n));
      appearAt = Math.min(appear(t.grad_fn), first ? first[0] : Infinity);
      group = nodeById.get(t.grad_fn)?.module ?? null;
    }
    if (!show) {
      if (t.grad_fn) tensorItem.set(t.id, t.grad_fn);
      continue;
    }
    const consumed = t.grad_fn ? (consumers.get(t.grad_fn)?.length ?? 0) > 0 : false;
    if (!t.is_leaf) classes.push(roots.has(t.id) || !consumed ? "output" : "intermediate");
    if (t.retains_grad) classes.push("retains-grad");
    if (t.inference) classes.push("inference");
    const id = tensorElId(t.id);
    // A tensor drawn for a node that is gone (a leaf made in an earlier loop iteration) goes with it.
    const goneAt = named ? Infinity : gone(acc?.id ?? t.grad_fn ?? "");
    items.set(id, { id, kind: "tensor", classes, label: tensorLabel(t), appearAt: appearAt ?? 0, goneAt, group, tensor: t });
    tensorItem.set(t.id, id);
    if (acc) links.push({ id: tensorEdgeElId(t.id), from: id, to: acc.id, appearAt: appearAt ?? 0, goneAt, edge: -1, classes: ["to-acc"] });
    else if (t.grad_fn && nodeById.has(t.grad_fn)) {
      // Each grad_fn it had, linked while it had it: MulBackward0 until y.add_(), then AddBackward0.
      const earlier = (makers.get(t.id) ?? []).filter(([, n]) => n !== t.grad_fn && nodeById.has(n));
      const final = appear(t.grad_fn);
      earlier.forEach(([step, n], k) => {
        const until = Math.min(k + 1 < earlier.length ? earlier[k + 1]![0] : final, goneAt);
        if (step < until) links.push({ id: `${tensorEdgeElId(t.id)}:${k}`, from: n, to: id, appearAt: step, goneAt: until, edge: -1, classes: ["to-tensor"] });
      });
      links.push({ id: tensorEdgeElId(t.id), from: t.grad_fn, to: id, appearAt: Math.max(appearAt ?? 0, final), goneAt, edge: -1, classes: ["to-tensor"] });
    }
  }

  // detach() cuts: a dashed link from the source tensor to the detached result, from that step on.
  events.forEach((ev, i) => {
    if (ev.kind !== "detach" || !ev.tensor) return;
    const from = tensorItem.get(ev.tensor);
    for (const out of ev.tensors ?? []) {
      const to = tensorItem.get(out);
      if (from && to && from !== to) links.push({ id: `cut:${i}:${out}`, from, to, appearAt: i + 1, goneAt: Infinity, edge: -1, classes: ["cut"] });
    }
  });

  // Big graphs without modules still need something to collapse: group by source line.
  if (items.size > lineGroupThreshold) {
    const byLine = new Map<number, Item[]>();
    for (const it of items.values()) {
      if (it.group != null || it.kind === "tensor" || it.node?.line == null) continue;
      it.group = "line " + it.node.line;
      const l = byLine.get(it.node.line) ?? [];
      l.push(it);
      byLine.set(it.node.line, l);
    }
    // A loop puts thousands of nodes on one line: split it into runs of consecutive nodes so the
    // collapsed view is a readable chain of boxes and each box opens to a drawable size.
    for (const [line, list] of byLine) {
      if (list.length <= lineGroupThreshold) continue;
      list.sort((a, b) => a.node!.seq - b.node!.seq);
      const size = Math.max(50, Math.ceil(list.length / 40));
      list.forEach((it, i) => {
        const start = Math.floor(i / size) * size;
        it.group = `line ${line}/nodes ${start + 1}-${Math.min(list.length, start + size)}`;
      });
    }
  }
  // Leaves follow their consumers: an AccumulateGrad (and its leaf tensor) outside any module or
  // line group joins its first consumer's group, a named output joins its grad_fn's group.
  const firstConsumer = new Map<string, string>();
  for (const l of links) if (!firstConsumer.has(l.from)) firstConsumer.set(l.from, l.to);
  for (const it of items.values()) {
    if (it.group != null || it.node?.kind !== "accumulate_grad") continue;
    const c = firstConsumer.get(it.id);
    const g = c ? items.get(c)?.group ?? null : null;
    if (g) it.group = g;
  }
  for (const it of items.values()) {
    if (it.group != null || !it.tensor) continue;
    const acc = accOf.get(it.tensor.id);
    const owner = acc ? items.get(acc.id) : it.tensor.grad_fn ? items.get(it.tensor.grad_fn) : undefined;
    if (owner?.group) it.group = owner.group;
  }
  const { groups, rootGroups } = buildGroups(items);
  const outputNodes = new Map<string, string[]>();
  for (const n of nodes) if (n.output) outputNodes.set(n.output, [...(outputNodes.get(n.output) ?? []), n.id]);
  return {
    trace, items, links, groups, rootGroups, nodeById, tensorById, tensorItem, nextEdges, firstEventOfLine, noGradLines,
    detachLines, roots, slotOf, replaces, replacedBy: new Map([...replaces].map(([a, b]) => [b, a])), outputNodes,
  };
}

/**
 * When each node of a finished graph leaves the view: the step at which the same code builds
 * its replacement. A training loop builds one graph per iteration; once a backward pass
 * without retain_graph has consumed a graph that no longer exists at the end (`alive` false),
 * each of its nodes is retired when the next node with the same name, module and line is
 * created, so the view shows the graph being rebuilt instead of every iteration side by side.
 * (Stepping back brings them back.) AccumulateGrad nodes of such a graph (leaves made in the
 * loop) go when all their consumers have gone. Nodes alive at the end never go.
 *
 * A bounded trace leaves out the middle of the timeline: nodes built there and gone by the
 * end are never shown (the replay never builds them), and those built before it whose
 * consumption was left out go where the timeline jumps (the "elided" event).
 *
 * `slotOf`: a node and the ones that replace it share one place in the layout (they are never
 * shown together), the first of the chain's.
 */
export function retirementSteps(
  trace: Trace, nodeById: Map<string, TraceNode>, consumers: Map<string, string[]>,
): { goneAt: Map<string, number>; slotOf: Map<string, string>; replaces: Map<string, string> } {
  const goneAt = new Map<string, number>();
  const slotOf = new Map<string, string>();
  const replaces = new Map<string, string>(); // new node -> the consumed one it retired
  const key = (n: TraceNode): string => `${n.line ?? ""}|${n.module ?? ""}|${n.name}`;
  const retirable = (n: TraceNode | undefined): n is TraceNode => !!n && !n.alive && n.kind !== "accumulate_grad";
  // Consumed nodes waiting for their replacement, per key, oldest first: a line that builds
  // three MulBackward0 per iteration replaces them one for one.
  const waiting = new Map<string, string[]>();
  // Per key, the newest node of its newest chain: a node with nothing to replace joins that
  // chain when its last member is already gone.
  const chainEnd = new Map<string, string>();
  const created = new Map<string, number>(); // node -> step of its creation event
  const passes = new Map((trace.backward_passes ?? []).map((p) => [p.index, p]));
  // Passes in progress (a pass can run inside another's backward): what each executed, and
  // whether it freed buffers (all a bounded trace may say of a pass whose record was left out).
  const running: { pass: number | null; executed: string[]; freed: boolean }[] = [];

  const join = (id: string, prev: string): void => { slotOf.set(id, slotOf.get(prev) ?? prev); };
  const onCreate = (id: string, step: number): void => {
    created.set(id, step);
    const n = nodeById.get(id);
    if (!n) return;
    const k = key(n);
    const queue = waiting.get(k);
    const old = queue?.shift();
    if (old !== undefined) {
      if (!queue!.length) waiting.delete(k);
      goneAt.set(old, step);
      replaces.set(id, old);
      join(id, old);
    } else {
      const last = chainEnd.get(k);
      if (last !== undefined && (goneAt.get(last) ?? Infinity) <= step) join(id, last);
    }
    chainEnd.set(k, id);
  };
  const onPassEnd = (top: { pass: number | null; executed: string[]; freed: boolean }): void => {
    const p = top.pass != null ? passes.get(top.pass) : undefined;
    if (p ? p.retain_graph : !top.freed) return;
    for (const id of top.executed) {
      const n = nodeById.get(id);
      if (!retirable(n) || goneAt.has(id) || !created.has(id)) continue;
      const k = key(n);
      const queue = waiting.get(k);
      if (queue) { if (!queue.includes(id)) queue.push(id); } else waiting.set(k, [id]);
    }
  };
  const onElided = (step: number): void => {
    // Whatever was built so far and is gone by the end is gone once the timeline jumps; the
    // ones waiting for a replacement are replaced by the next iteration after the jump.
    const queued = new Set([...waiting.values()].flat());
    for (const id of created.keys()) {
      if (retirable(nodeById.get(id)) && !goneAt.has(id) && !queued.has(id)) goneAt.set(id, step);
    }
  };

  (trace.events ?? []).forEach((ev, i) => {
    if (ev.kind === "node") {
      for (const id of ev.node ? [ev.node, ...(ev.nodes ?? [])] : ev.nodes ?? []) onCreate(id, i + 1);
    } else if (ev.kind === "elided") {
      onElided(i + 1);
    } else if (ev.kind === "backward_begin") {
      running.push({ pass: ev.backward_pass ?? null, executed: [], freed: false });
    } else if (ev.kind === "execute" && ev.node) {
      running[running.length - 1]?.executed.push(ev.node);
    } else if (ev.kind === "free") {
      const top = running[running.length - 1];
      if (top) top.freed = true;
    } else if (ev.kind === "backward_end") {
      const top = running.pop();
      if (top) onPassEnd(top);
    }
  });
  // Built in the elided middle (no creation event) and gone by the end: never shown; they
  // take the place of the first node like them.
  const firstOfKey = new Map<string, string>();
  for (const n of nodeById.values()) if (!firstOfKey.has(key(n))) firstOfKey.set(key(n), n.id);
  for (const n of nodeById.values()) {
    if (!retirable(n) || created.has(n.id)) continue;
    goneAt.set(n.id, 0);
    const first = firstOfKey.get(key(n))!;
    if (first !== n.id) join(n.id, first);
  }
  for (const n of nodeById.values()) {
    if (n.kind !== "accumulate_grad" || n.alive) continue;
    const users = consumers.get(n.id) ?? [];
    if (!users.length) continue;
    let last = -Infinity;
    for (const u of users) last = Math.max(last, goneAt.get(u) ?? Infinity);
    if (Number.isFinite(last)) goneAt.set(n.id, last);
  }
  return { goneAt, slotOf, replaces };
}

/** Module paths -> a forest of groups. Keeps the paths items live in and branch points. */
function buildGroups(items: Map<string, Item>): { groups: Map<string, Group>; rootGroups: string[] } {
  const used = new Set<string>();
  for (const it of items.values()) if (it.group) used.add(it.group);
  // Every dotted prefix; keep a prefix if items live there or >= 2 kept children meet there.
  const childPrefixes = new Map<string, Set<string>>();
  const prefixesOf = (key: string): string[] => {
    if (key.startsWith("line ")) { const i = key.indexOf("/"); return i < 0 ? [key] : [key.slice(0, i), key]; }
    const parts = key.split(".");
    const out: string[] = [];
    for (let i = 1; i <= parts.length; i++) out.push(parts.slice(0, i).join("."));
    return out;
  };
  for (const key of used) {
    const ps = prefixesOf(key);
    for (let i = 0; i + 1 < ps.length; i++) {
      let s = childPrefixes.get(ps[i]!);
      if (!s) childPrefixes.set(ps[i]!, (s = new Set()));
      s.add(ps[i + 1]!);
    }
  }
  const kept = new Set<string>(used);
  for (const [p, kids] of childPrefixes) if (kids.size >= 2) kept.add(p);
  const groups = new Map<string, Group>();
  for (const key of kept) {
    const ps = prefixesOf(key);
    let parent: string | null = null;
    for (let i = ps.length - 2; i >= 0; i--) if (kept.has(ps[i]!)) { parent = ps[i]!; break; }
    groups.set(key, { key, id: groupElId(key), label: key.replace("/", " · "), parent, children: [], items: [], size: 0 });
  }
  for (const g of groups.values()) if (g.parent) groups.get(g.parent)!.children.push(g.key);
  for (const it of items.values()) if (it.group && groups.has(it.group)) groups.get(it.group)!.items.push(it.id);
  else it.group = null;
  const rootGroups = [...groups.values()].filter((g) => !g.parent).map((g) => g.key).sort();
  const sizeOf = (key: string): number => {
    // Iterative post-order so deep module trees can't overflow the stack.
    const order: string[] = [];
    const stack = [key];
    while (stack.length) { const k = stack.pop()!; order.push(k); stack.push(...groups.get(k)!.children); }
    for (let i = order.length - 1; i >= 0; i--) {
      const g = groups.get(order[i]!)!;
      g.size = g.items.length + g.children.reduce((s, c) => s + groups.get(c)!.size, 0);
    }
    return groups.get(key)!.size;
  };
  for (const r of rootGroups) sizeOf(r);
  for (const g of groups.values()) g.children.sort();
  return { groups, rootGroups };
}
