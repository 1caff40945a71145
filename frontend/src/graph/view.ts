// Model + collapse state -> Cytoscape element definitions, and replay state -> per-element classes.
import type { GraphModel, Item, Link } from "./model";
import type { ReplayState } from "./replay";
import { fmtGradShort } from "./format";
import { boxDefects, GROUP_PAD, GROUP_TOP } from "./geometry";

export interface ElementDef {
  group: "nodes" | "edges";
  data: { id: string; label?: string; parent?: string; source?: string; target?: string; kind?: string; w?: number; h?: number };
  classes: string;
}

export interface ViewEl {
  id: string;
  isEdge: boolean;
  appearAt: number;
  /** Step from which it is gone (a finished loop iteration's graph); Infinity: never. */
  goneAt: number;
  staticClasses: string;
  def: ElementDef;
  /** Items this element stands for (1 for plain nodes; all members for a collapsed group). */
  members?: string[];
  link?: Link;
  links?: Link[];
  isParent?: boolean;
}

export interface GraphView {
  els: Map<string, ViewEl>;
  /** Item id -> element drawing it (itself or its outermost collapsed group). */
  rep: Map<string, string>;
  /** Tensor-item/edge elements indexed for state updates. */
  edgeEl: Map<number, string>;
  collapsed: Set<string>;
  /** Elements in add order: parents before children. */
  order: string[];
  /** Non-parent nodes and edges for layout (data-flow direction). */
  layoutNodes: { id: string; width: number; height: number; parent: string | null }[];
  layoutEdges: { source: string; target: string }[];
  layoutGroups: { id: string; parent: string | null }[];
  /** Element id -> the layout node whose position it takes (replacement chains share one). */
  slot: Map<string, string>;
}

// Characters a monospace font draws two cells wide: CJK ideographs and kana (learners name
// their tensors in their own language, e.g. 权重), Hangul, full-width forms, emoji.
const WIDE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff01-\uff60\uffe0-\uffe6\p{Extended_Pictographic}]/u;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Width of `text` in monospace cells: 2 for wide characters, 1 for the rest (per code point). */
export function displayColumns(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length; // the usual label: no per-character work
  let cols = 0;
  for (const ch of text) cols += ch.charCodeAt(0) < 0x1100 || !WIDE.test(ch) ? 1 : 2; // nothing below U+1100 is wide
  return cols;
}

const CELL = 6.6; // px per cell at the graph's 11 px monospace font
const PAD = 18;
const MAX_WIDTH = 220;
/** Cells per label line: wider lines are wrapped by `wrapLabel`. */
export const LABEL_MAX_COLUMNS = Math.floor((MAX_WIDTH - PAD) / CELL);

/**
 * `label` with every line wrapped to LABEL_MAX_COLUMNS: at spaces where it can; inside a word
 * where it must, after a "." (or else a "_", or before a capital) in the row's second half
 * ("model.encoder." / "layers.0.linear1", "ScaledDotProductEfficient" / "AttentionBackward0"),
 * anywhere in CJK text (which has no spaces). Done here rather than by Cytoscape so each box is
 * sized for the exact lines drawn, the same in every browser and in the SVG export.
 */
export function wrapLabel(label: string): string {
  const lines = label.split("\n");
  if (lines.every((line) => displayColumns(line) <= LABEL_MAX_COLUMNS)) return label; // the usual case
  const out: string[] = [];
  for (const line of lines) {
    let row = "";
    const words = line.split(" ");
    for (let i = 0; i < words.length; i++) {
      const word = i < words.length - 1 ? words[i] + " " : words[i]!; // words keep their trailing space
      if (row && displayColumns(row + word.trimEnd()) > LABEL_MAX_COLUMNS) { out.push(row.trimEnd()); row = ""; }
      row += word;
      while (displayColumns(row.trimEnd()) > LABEL_MAX_COLUMNS) {
        const [head, rest] = splitWord(row);
        out.push(head);
        row = rest;
      }
    }
    out.push(row.trimEnd());
  }
  return out.join("\n");
}

/** The longest head of `text` that fits a row, ending at a natural break if there is one. */
function splitWord(text: string): [string, string] {
  const chars = [...text];
  let fit = 0;
  let cols = 0;
  while (fit < chars.length && cols + displayColumns(chars[fit]!) <= LABEL_MAX_COLUMNS) cols += displayColumns(chars[fit++]!);
  // Best break first: after a dot (module paths), then after "_" or before a capital.
  const breaks = [
    (before: string) => before === ".",
    (before: string, at: string) => before === "_" || (/[A-Z]/.test(at) && /[a-z0-9]/.test(before)),
  ];
  for (const ok of breaks) {
    for (let i = fit; i > fit / 2; i--) {
      if (ok(chars[i - 1]!, chars[i]!)) return [chars.slice(0, i).join(""), chars.slice(i).join("")];
    }
  }
  return [chars.slice(0, fit).join(""), chars.slice(fit).join("")];
}

/** Box for a label already wrapped by `wrapLabel`: the element is drawn at this size. */
export function nodeSize(label: string, kind: string): { width: number; height: number } {
  const lines = label.split("\n");
  const longest = Math.max(...lines.map(displayColumns));
  const w = Math.max(kind === "tensor" ? 60 : 70, Math.min(MAX_WIDTH, longest * CELL + PAD));
  return { width: w, height: 14 * lines.length + 14 };
}

export function defaultCollapsed(model: GraphModel, budget = 300, elementCap = 8 * budget): Set<string> {
  // `budget` counts places in the drawing: the nodes of a loop's later iterations take the
  // place of the earlier ones (model.slotOf), so a 10,000-step loop of a 3-node graph is a
  // handful of places. `elementCap` bounds the elements behind them (each one is styled).
  const collapsed = new Set<string>();
  const takesPlace = (id: string): boolean => {
    const first = model.slotOf.get(id);
    return first === undefined || model.items.get(first)?.group !== model.items.get(id)?.group;
  };
  let places = 0;
  for (const id of model.items.keys()) if (takesPlace(id)) places++;
  if (places <= budget && model.items.size <= elementCap) return collapsed;
  const ungrouped = [...model.items.values()].filter((i) => !i.group);
  // Start with every root group collapsed, then open the biggest groups while under budget.
  let visible = ungrouped.filter((i) => takesPlace(i.id)).length + model.rootGroups.length;
  let elements = ungrouped.length + model.rootGroups.length;
  const queue = [...model.rootGroups];
  for (const r of model.rootGroups) collapsed.add(r);
  queue.sort((a, b) => model.groups.get(a)!.size - model.groups.get(b)!.size);
  while (queue.length) {
    const key = queue.shift()!;
    const g = model.groups.get(key)!;
    const opened = g.items.filter(takesPlace).length + g.children.length;
    const added = g.items.length + g.children.length;
    // A view of a handful of boxes says little: open a wide group even past the budget (up to 2x)
    // while fewer than a tenth of the budget is drawn.
    const limit = visible < budget / 10 ? 2 * budget : budget;
    if (visible - 1 + opened > limit || elements - 1 + added > elementCap) continue;
    visible += opened - 1;
    elements += added - 1;
    collapsed.delete(key);
    for (const c of g.children) { collapsed.add(c); queue.push(c); }
  }
  return collapsed;
}

export function buildView(model: GraphModel, collapsed: Set<string>): GraphView {
  const els = new Map<string, ViewEl>();
  const order: string[] = [];
  const rep = new Map<string, string>();
  const edgeEl = new Map<number, string>();
  // Per group: is it hidden inside a collapsed ancestor, collapsed itself, or open?
  const outerCollapsed = new Map<string, string | null>(); // group -> outermost collapsed ancestor-or-self
  const groupKeys = [...model.groups.keys()].sort((a, b) => depth(model, a) - depth(model, b));
  for (const key of groupKeys) {
    const g = model.groups.get(key)!;
    const up = g.parent ? outerCollapsed.get(g.parent) ?? null : null;
    outerCollapsed.set(key, up ?? (collapsed.has(key) ? key : null));
  }
  const memberLists = new Map<string, string[]>();
  for (const it of model.items.values()) {
    const oc = it.group ? outerCollapsed.get(it.group) ?? null : null;
    const r = oc ? model.groups.get(oc)!.id : it.id;
    rep.set(it.id, r);
    if (oc) { let m = memberLists.get(r); if (!m) memberLists.set(r, (m = [])); m.push(it.id); }
  }
  const appearOfMembers = (ids: string[]): number => ids.reduce((m, id) => Math.min(m, model.items.get(id)!.appearAt), Infinity);
  const goneOfMembers = (ids: string[]): number => (ids.length ? ids.reduce((m, id) => Math.max(m, model.items.get(id)!.goneAt), -Infinity) : Infinity);

  // Groups: open ones become compound parents, outermost collapsed ones become plain nodes.
  for (const key of groupKeys) {
    const g = model.groups.get(key)!;
    const oc = outerCollapsed.get(key);
    if (oc && oc !== key) continue;
    const parentKey = g.parent;
    const parent = parentKey && !outerCollapsed.get(parentKey) ? model.groups.get(parentKey)!.id : undefined;
    if (oc === key) {
      const members = memberLists.get(g.id) ?? [];
      const label = wrapLabel(`${g.label}\n${g.size} nodes ▸`);
      const def: ElementDef = { group: "nodes", data: { id: g.id, label, kind: "group", ...(parent ? { parent } : {}) }, classes: "group collapsed" };
      els.set(g.id, { id: g.id, isEdge: false, appearAt: appearOfMembers(members), goneAt: goneOfMembers(members), staticClasses: def.classes, def, members });
    } else {
      const def: ElementDef = { group: "nodes", data: { id: g.id, label: g.label, kind: "group", ...(parent ? { parent } : {}) }, classes: "group expanded" };
      els.set(g.id, { id: g.id, isEdge: false, appearAt: Infinity, goneAt: -Infinity, staticClasses: def.classes, def, isParent: true });
    }
    order.push(g.id);
  }
  const sizeLabels = new Map<string, string>();
  for (const it of model.items.values()) {
    if (rep.get(it.id) !== it.id) continue;
    const parent = it.group ? model.groups.get(it.group)!.id : undefined;
    const classes = it.classes.join(" ");
    const def: ElementDef = { group: "nodes", data: { id: it.id, label: wrapLabel(it.label), kind: it.kind, ...(parent ? { parent } : {}) }, classes };
    // Replay appends the tensor's in-place version to its label ("· v2", see versionedLabel):
    // the box is sized for the longest it gets, the final version.
    const tid = versionedTensor(it);
    const version = tid ? model.tensorById.get(tid)?.version ?? 0 : 0;
    if (version > 0) sizeLabels.set(it.id, wrapLabel(`${it.label} · v${version}`));
    els.set(it.id, { id: it.id, isEdge: false, appearAt: it.appearAt, goneAt: it.goneAt, staticClasses: classes, def, members: [it.id] });
    order.push(it.id);
    // An open group shows from its first member on.
    let gk = it.group;
    while (gk) {
      const gel = els.get(model.groups.get(gk)!.id);
      if (gel && gel.appearAt > it.appearAt) gel.appearAt = it.appearAt;
      if (gel && gel.goneAt < it.goneAt) gel.goneAt = it.goneAt; // ...and stays while one is left
      gk = model.groups.get(gk)!.parent;
    }
  }
  // Collapsed groups also make their open ancestors visible.
  for (const el of els.values()) {
    if (el.def.classes.includes("collapsed")) {
      let pid = el.def.data.parent;
      while (pid) {
        const p = els.get(pid)!;
        if (p.appearAt > el.appearAt) p.appearAt = el.appearAt;
        if (p.goneAt < el.goneAt) p.goneAt = el.goneAt;
        pid = p.def.data.parent;
      }
    }
  }
  for (const el of els.values()) if (el.isParent && el.goneAt === -Infinity) el.goneAt = Infinity;
  for (const l of model.links) {
    const a = rep.get(l.from), b = rep.get(l.to);
    if (!a || !b || a === b) continue;
    if (a === l.from && b === l.to) {
      const classes = l.classes.join(" ");
      const def: ElementDef = { group: "edges", data: { id: l.id, source: a, target: b }, classes };
      els.set(l.id, { id: l.id, isEdge: true, appearAt: l.appearAt, goneAt: l.goneAt, staticClasses: classes, def, link: l });
      if (l.edge >= 0) edgeEl.set(l.edge, l.id);
    } else {
      const id = `m:${a}>${b}`;
      let el = els.get(id);
      if (!el) {
        const def: ElementDef = { group: "edges", data: { id, source: a, target: b }, classes: "flow meta" };
        el = { id, isEdge: true, appearAt: l.appearAt, goneAt: l.goneAt, staticClasses: def.classes, def, links: [] };
        els.set(id, el);
      }
      el.links!.push(l);
      el.appearAt = Math.min(el.appearAt, l.appearAt);
      el.goneAt = Math.max(el.goneAt, l.goneAt);
      if (l.edge >= 0) edgeEl.set(l.edge, id);
    }
  }
  for (const el of els.values()) if (el.isEdge) order.push(el.id);
  // A loop iteration's node and the ones that replace it later take one place (see
  // model.retirementSteps), when both are drawn on their own in the same group.
  const slot = new Map<string, string>();
  for (const [id, first] of model.slotOf) {
    const a = els.get(id), b = els.get(first);
    if (a && b && rep.get(id) === id && rep.get(first) === first && a.def.data.parent === b.def.data.parent) slot.set(id, first);
  }
  // Elements drawn where another one already is: kept out of the drawing until they appear
  // (the "stacked" style), as hundreds of transparent ones in one place cost a draw each.
  const stack = (e: ViewEl): void => { e.staticClasses += " stacked"; e.def.classes += " stacked"; };
  for (const id of slot.keys()) stack(els.get(id)!);
  for (const e of els.values()) if (e.isEdge && (slot.has(e.def.data.source!) || slot.has(e.def.data.target!))) stack(e);
  const layoutById = new Map<string, { id: string; width: number; height: number; parent: string | null }>();
  for (const e of els.values()) {
    if (e.isEdge || e.isParent) continue;
    const s = nodeSize(sizeLabels.get(e.id) ?? e.def.data.label ?? "", e.def.data.kind ?? "");
    // The drawn box uses the same size the layout reserved, so nothing overlaps.
    e.def.data.w = s.width;
    e.def.data.h = s.height;
    const at = slot.get(e.id) ?? e.id;
    const prev = layoutById.get(at);
    if (prev) { prev.width = Math.max(prev.width, s.width); prev.height = Math.max(prev.height, s.height); }
    else layoutById.set(at, { id: at, width: s.width, height: s.height, parent: e.def.data.parent ?? null });
  }
  const layoutNodes = [...layoutById.values()];
  const edgeKeys = new Set<string>();
  const layoutEdges: { source: string; target: string }[] = [];
  for (const e of els.values()) {
    if (!e.isEdge) continue;
    const source = slot.get(e.def.data.source!) ?? e.def.data.source!, target = slot.get(e.def.data.target!) ?? e.def.data.target!;
    const k = source + ">" + target;
    if (source === target || edgeKeys.has(k)) continue;
    edgeKeys.add(k);
    layoutEdges.push({ source, target });
  }
  const layoutGroups = [...els.values()].filter((e) => e.isParent).map((e) => ({ id: e.id, parent: e.def.data.parent ?? null }));
  return { els, rep, edgeEl, collapsed, order, layoutNodes, layoutEdges, layoutGroups, slot };
}

function depth(model: GraphModel, key: string): number {
  let d = 0;
  let g = model.groups.get(key);
  while (g?.parent) { d++; g = model.groups.get(g.parent); }
  return d;
}

/** Classes that depend on the replay state, for one view element. */
export function dynamicClasses(view: GraphView, el: ViewEl, s: ReplayState, model: GraphModel): string {
  const out: string[] = [];
  if (el.appearAt > s.step) out.push("future");
  else if (el.goneAt <= s.step) out.push("retired");
  if (el.isEdge) {
    const links = el.link ? [el.link] : el.links ?? [];
    for (const l of links) if (l.edge >= 0 && s.sent.has(l.edge)) { out.push("grad-sent"); break; }
    return out.join(" ");
  }
  if (el.isParent) return out.join(" ");
  const members = el.members ?? [];
  const activeItem = s.active ?? (s.activeTensor ? model.tensorItem.get(s.activeTensor) ?? null : null);
  let active = false, executed = false, freed = false, stale = false, culprit = false, grad = false, bumped = false;
  for (const id of members) {
    if (id === activeItem) active = true;
    const it: Item = model.items.get(id)!;
    if (it.node) {
      if (s.executed.has(id)) executed = true;
      if (s.freed.has(id)) freed = true;
      if (s.stale.has(id)) stale = true;
      if (s.culpritNode === id) culprit = true;
      if (it.node.output && (s.versions.get(it.node.output) ?? 0) > 0) bumped = true;
    } else if (it.tensor) {
      const tid = it.tensor.id;
      if (s.grads.has(tid) && s.grads.get(tid) != null) grad = true;
      if ((s.versions.get(tid) ?? 0) > 0) bumped = true;
      if (s.culpritTensor === tid) culprit = true;
      if (s.activeTensor === tid) active = true;
    }
  }
  if (active) out.push("active");
  if (executed) out.push("executed");
  if (freed) out.push("freed");
  if (stale) out.push("stale");
  if (culprit) out.push("culprit");
  if (grad) out.push("has-grad");
  if (bumped) out.push("bumped");
  return out.join(" ");
}

/** The tensor whose in-place version an item's label shows: its own, or its node's output. */
function versionedTensor(it: Item): string | null {
  return it.kind === "accumulate_grad" ? null : it.tensor?.id ?? it.node?.output ?? null;
}

/** A tensor's label with its in-place version once it was bumped ("b\n[2] · v1"). */
export function versionedLabel(el: ViewEl, s: ReplayState, model: GraphModel): string | null {
  const members = el.members;
  if (!members || members.length !== 1) return null;
  const it = model.items.get(members[0]!);
  const tid = it ? versionedTensor(it) : null;
  if (!it || !tid) return null;
  const v = s.versions.get(tid) ?? 0;
  return wrapLabel(v > 0 ? `${it.label} · v${v}` : it.label);
}

/** Edge label while a gradient flows along it (short: a number or a shape). */
export function edgeGradLabel(el: ViewEl, s: ReplayState): string {
  if (!el.link || el.link.edge < 0) return "";
  return s.sent.has(el.link.edge) ? fmtGradShort(s.sent.get(el.link.edge)) : "";
}

/** Case-insensitive search over node names, tensor names and modules; returns item ids. */
export function searchItems(model: GraphModel, query: string, limit = 200): string[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const out: string[] = [];
  for (const it of model.items.values()) {
    const hay = [it.label, it.node?.module ?? "", it.node?.op ?? "", ...(it.tensor?.names ?? [])].join(" ").toLowerCase();
    if (hay.includes(q)) { out.push(it.id); if (out.length >= limit) break; }
  }
  return out;
}

/** Groups to open so `itemId` becomes visible. */
export function groupsToOpen(model: GraphModel, itemId: string): string[] {
  const out: string[] = [];
  let g = model.items.get(itemId)?.group ?? null;
  while (g) { out.push(g); g = model.groups.get(g)!.parent; }
  return out;
}

export interface Box { x: number; y: number; w: number; h: number; depth: number }

/**
 * Background boxes for open module groups, from final positions. Drawn as plain nodes, not
 * Cytoscape compound parents: compounds recompute bounds and z-order on every restyle, which
 * cut stepping from ~55 to ~20 fps on a 100-node graph here.
 */
export function groupBoxes(view: GraphView, positions: Record<string, { x: number; y: number }>): Map<string, Box> {
  const out = memberBoxes(view, positions);
  // A box that would hold another module's nodes, or cross another module's box, says the wrong
  // thing about membership: it is not drawn. The layout only leaves such a group unboxed when
  // its members cannot be drawn as one block (layout.ts: a group on a cycle, e.g. two lines of
  // a loop body alternating), or when the layout is not ours (dagre's clusters).
  const placed = view.layoutNodes.flatMap((n) => { const p = positions[n.id]; return p ? [{ ...n, x: p.x, y: p.y }] : []; });
  const wrong = boxDefects(placed, out, new Map(view.layoutGroups.map((g) => [g.id, g.parent])));
  const holdsForeign = new Set(wrong.foreignNodes.map(([, g]) => g));
  for (const g of holdsForeign) out.delete(g);
  for (const [a, b] of wrong.groupPairs) if (!holdsForeign.has(a) && !holdsForeign.has(b)) { out.delete(a); out.delete(b); }
  return out;
}

/** Each open group's box: its members' bounds (nested groups' boxes included) plus GROUP_PAD / GROUP_TOP. */
export function memberBoxes(view: GraphView, positions: Record<string, { x: number; y: number }>): Map<string, Box> {
  const parentOf = new Map(view.layoutGroups.map((g) => [g.id, g.parent]));
  const depthOf = (id: string): number => { let d = 0; let p = parentOf.get(id) ?? null; while (p) { d++; p = parentOf.get(p) ?? null; } return d; };
  const bb = new Map<string, { x1: number; y1: number; x2: number; y2: number }>();
  const extend = (gid: string, x1: number, y1: number, x2: number, y2: number): void => {
    const b = bb.get(gid);
    if (!b) bb.set(gid, { x1, y1, x2, y2 });
    else { b.x1 = Math.min(b.x1, x1); b.y1 = Math.min(b.y1, y1); b.x2 = Math.max(b.x2, x2); b.y2 = Math.max(b.y2, y2); }
  };
  for (const n of view.layoutNodes) {
    const p = positions[n.id];
    if (n.parent && p) extend(n.parent, p.x - n.width / 2, p.y - n.height / 2, p.x + n.width / 2, p.y + n.height / 2);
  }
  const out = new Map<string, Box>();
  const order = view.layoutGroups.map((g) => ({ id: g.id, d: depthOf(g.id) })).sort((a, b) => b.d - a.d);
  for (const { id, d } of order) {
    const b = bb.get(id);
    if (!b) continue;
    // The layout reserved exactly this room around each group's members (layout.ts).
    const x1 = b.x1 - GROUP_PAD, y1 = b.y1 - GROUP_TOP, x2 = b.x2 + GROUP_PAD, y2 = b.y2 + GROUP_PAD;
    out.set(id, { x: (x1 + x2) / 2, y: (y1 + y2) / 2, w: x2 - x1, h: y2 - y1, depth: d });
    const parent = parentOf.get(id);
    if (parent) extend(parent, x1, y1, x2, y2);
  }
  return out;
}
