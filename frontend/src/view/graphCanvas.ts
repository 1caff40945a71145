// The Cytoscape graph: builds elements once per collapse state, then only toggles classes per step.
import cytoscape, { type Core, type ElementDefinition } from "cytoscape";
import type { GraphModel } from "../graph/model";
import type { ReplayState } from "../graph/replay";
import { touchedBetween } from "../graph/replay";
import { buildView, dynamicClasses, edgeGradLabel, groupBoxes, versionedLabel, type GraphView } from "../graph/view";
import { stylesheet, type ArrowDir, type Theme } from "../graph/styles";
import { toSvg, type SvgEdge, type SvgNode } from "../graph/svg";
import { computeLayout } from "./layoutClient";
import type { NavGraph } from "./graphKeys";

export interface CanvasHandlers {
  onSelect: (elId: string | null) => void;
  onJump: (elId: string) => void;
}

/** Below this zoom labels are unreadable; initial views of big graphs stop here and centre on the focus. */
const MIN_READABLE_ZOOM = 0.75;

/** A graph of at most this many drawn nodes is shown whole, down to SMALL_GRAPH_MIN_ZOOM: seeing
 *  all of a small graph (its leaves at the top too) beats a bigger zoom on part of it. */
const SMALL_GRAPH_NODES = 60;
const SMALL_GRAPH_MIN_ZOOM = 0.3;

/** Below this zoom a whole-graph fit shows specks, not nodes (a 2,000-node chain is a faint
 *  line): Fit then shows the focus's neighbourhood instead. */
const FIT_MIN_ZOOM = 0.2;
/** How many edges away from the focus that neighbourhood reaches. */
const FIT_HOPS = 4;

/** Space kept between the drawing and the canvas edge (px). */
const VIEW_MARGIN = 24;

/** Height changes of the canvas (px) below which the first view is kept rather than redone. */
const REFRAME_MIN_HEIGHT_CHANGE = 40;

/** Drawn nodes above which edges are drawn straight (see stylesheet). */
const BIG_VIEW = 400;

/** Steps moved at once beyond which restyling everything beats diffing. */
const FULL_REFRESH_SPAN = 400;

/** The canvas's backing-store scale: the screen's (a phone, a high-DPI monitor, browser zoom at
 *  200 %), where labels drawn at 1x came out blurred, up to 2 (3x fills 2.25 times the pixels of
 *  2x for little more sharpness on a phone). Read once: Cytoscape does not change it later. */
function pixelRatio(): number {
  const dpr = typeof window === "undefined" ? 1 : window.devicePixelRatio || 1;
  return Math.min(2, Math.max(1, dpr));
}

/** Not drawn at this step: not created yet, or retired (a finished loop iteration's graph). */
function hidden(e: cytoscape.SingularElementArgument): boolean {
  return e.hasClass("future") || e.hasClass("retired");
}

export class GraphCanvas {
  readonly cy: Core;
  model: GraphModel | null = null;
  view: GraphView | null = null;
  lastLayout: { engine: string; ms: number; nodes: number } | null = null;
  /** Elements restyled by the last applyState (for the benchmark and tests). */
  lastRestyled = 0;
  private theme: Theme = "light";
  private arrows: ArrowDir = "dataflow";
  /** Step -> elements that appear or go at that step (restyled when stepping across it). */
  private appearAt = new Map<number, string[]>();
  private lastClasses = new Map<string, string>();
  private lastState: { step: number; activeRep: string | null; culpritRep: string | null } | null = null;
  private searchHits = new Set<string>();
  private lastLabels = new Set<string>();
  /** Element handles by id: cy.getElementById builds a new collection on every call. */
  private handles = new Map<string, cytoscape.CollectionReturnValue>();
  private lastStateFull: ReplayState | null = null;

  constructor(container: HTMLElement, private readonly handlers: CanvasHandlers) {
    this.cy = cytoscape({
      container,
      style: stylesheet(this.theme, this.arrows) as unknown as cytoscape.StylesheetJson,
      minZoom: 0.02,
      maxZoom: 4,
      textureOnViewport: true,
      pixelRatio: pixelRatio(),
      hideEdgesOnViewport: false,
      boxSelectionEnabled: false,
    });
    // Transparent "future" elements are still hit-testable: treat taps on them as background taps.
    this.cy.on("tap", "node", (e) => handlers.onSelect(hidden(e.target) ? null : (e.target.id() as string)));
    this.cy.on("tap", (e) => { if (e.target === this.cy) handlers.onSelect(null); });
    // Cytoscape calls any two taps within its interval a double tap, even on two different
    // nodes (clicking one node then another jumped the timeline): only the same element's count.
    let taps: [string | null, string | null] = [null, null];
    this.cy.on("tap", (e) => { taps = [taps[1], e.target === this.cy ? null : (e.target.id() as string)]; });
    this.cy.on("dbltap", "node", (e) => { if (!hidden(e.target) && taps[0] === e.target.id()) handlers.onJump(e.target.id() as string); });
    // The container changes size with the window and the phone layout: keep the canvas in step,
    // and redo the initial framing until the user pans or zooms themselves. Not for a few pixels
    // of height (a caption wrapping onto a second line while stepping, a note above the graph):
    // re-framed then, the graph pulsed in and out from step to step, moving under the pointer.
    new ResizeObserver(() => {
      this.cy.resize();
      if (!this.autoView || !this.cy.nodes().length) return;
      const moved = Math.abs(container.clientWidth - this.framed.w) > 1 || Math.abs(container.clientHeight - this.framed.h) > REFRAME_MIN_HEIGHT_CHANGE;
      // A graph shown whole stays whole: re-framed if a few pixels less now cut it.
      if (moved || (this.framed.whole && !this.drawingInView())) this.initialView();
    }).observe(container);
    const manual = (): void => { this.autoView = false; };
    this.cy.on("tapstart scrollzoom pinchzoom", manual);
  }

  private big = false;
  private restyle(): void { this.cy.style(stylesheet(this.theme, this.arrows, this.big) as unknown as cytoscape.StylesheetJson); }
  setTheme(theme: Theme): void { this.theme = theme; this.restyle(); }
  setArrows(arrows: ArrowDir): void { this.arrows = arrows; this.restyle(); }
  getArrows(): ArrowDir { return this.arrows; }

  /** (Re)builds the drawing for a collapse state: one layout, then positions stay fixed. */
  async render(model: GraphModel, collapsed: Set<string>, state: ReplayState, focusItem: string | null = null): Promise<void> {
    const view = buildView(model, collapsed);
    const t0 = performance.now();
    const layout = await computeLayout({ nodes: view.layoutNodes, edges: view.layoutEdges, groups: view.layoutGroups });
    const layoutMs = performance.now() - t0;
    const boxes = groupBoxes(view, layout.positions);
    const defs: ElementDefinition[] = [];
    for (const id of view.order) {
      const el = view.els.get(id)!;
      // No Cytoscape compound parents (see groupBoxes); membership stays in data.group.
      const { parent, ...data } = el.def.data;
      const def: ElementDefinition = { group: el.def.group, data: { ...data, ...(parent ? { group: parent } : {}) }, classes: el.staticClasses };
      if (el.isParent) {
        const b = boxes.get(id);
        if (!b) continue;
        def.data = { ...def.data, w: b.w, h: b.h, z: b.depth };
        def.position = { x: b.x, y: b.y };
      } else {
        const p = layout.positions[view.slot.get(id) ?? id];
        if (p) def.position = { x: p.x, y: p.y };
      }
      defs.push(def);
    }
    this.model = model;
    this.view = view;
    this.appearAt = new Map();
    for (const el of view.els.values()) {
      for (const step of [el.appearAt, el.goneAt]) {
        if (!Number.isFinite(step)) continue;
        const l = this.appearAt.get(step) ?? [];
        l.push(el.id);
        this.appearAt.set(step, l);
      }
    }
    this.lastClasses.clear();
    this.lastLabels.clear();
    this.lastState = null;
    this.cy.batch(() => {
      this.cy.elements().remove();
      this.cy.add(defs);
    });
    const big = view.layoutNodes.length > BIG_VIEW;
    if (big !== this.big) { this.big = big; this.restyle(); }
    this.handles.clear();
    this.cy.elements().forEach((e) => { this.handles.set(e.id(), e as cytoscape.CollectionReturnValue); });
    this.applyState(state);
    this.focusEl = focusItem ? view.rep.get(focusItem) ?? focusItem : null;
    this.autoView = true;
    this.initialView();
    this.lastLayout = { engine: layout.engine, ms: Math.round(layoutMs), nodes: view.layoutNodes.length };
  }

  /** Restyles what changed since the previous state (or everything after a big jump). */
  applyState(s: ReplayState): void {
    const view = this.view, model = this.model;
    if (!view || !model) return;
    const activeItem = s.active ?? (s.activeTensor ? model.tensorItem.get(s.activeTensor) ?? null : null);
    const activeRep = activeItem ? view.rep.get(activeItem) ?? null : null;
    const culpritItem = s.culpritNode ?? (s.culpritTensor ? model.tensorItem.get(s.culpritTensor) ?? null : null);
    const culpritRep = culpritItem ? view.rep.get(culpritItem) ?? null : null;
    const prev = this.lastState;
    let ids: Iterable<string>;
    const touched = prev ? touchedBetween(model, prev.step, s.step) : null;
    if (!prev || !touched || Math.abs(prev.step - s.step) > FULL_REFRESH_SPAN || touched.passBoundary) {
      ids = view.els.keys();
    } else {
      const set = new Set<string>();
      const lo = Math.min(prev.step, s.step), hi = Math.max(prev.step, s.step);
      for (let k = lo + 1; k <= hi; k++) for (const id of this.appearAt.get(k) ?? []) set.add(id);
      for (const n of touched.nodes) {
        const r = view.rep.get(n); if (r) set.add(r);
        for (const ei of model.nextEdges.get(n) ?? []) { const e = view.edgeEl.get(ei); if (e) set.add(e); }
      }
      for (const t of touched.tensors) {
        const item = model.tensorItem.get(t);
        const r = item ? view.rep.get(item) : undefined; if (r) set.add(r);
        const tn = model.tensorById.get(t);
        if (tn?.grad_fn) { const r2 = view.rep.get(tn.grad_fn); if (r2) set.add(r2); }
        // Every node that made it shows its version in its label (MulBackward0 · v1 after y.add_()).
        for (const n of model.outputNodes.get(t) ?? []) { const r3 = view.rep.get(n); if (r3) set.add(r3); }
      }
      for (const r of [prev.activeRep, prev.culpritRep, activeRep, culpritRep]) if (r) set.add(r);
      ids = set;
    }
    let restyled = 0;
    this.cy.batch(() => {
      for (const id of ids) {
        const el = view.els.get(id);
        if (!el) continue;
        const cls = el.staticClasses + " " + dynamicClasses(view, el, s, model) + (this.searchHits.has(id) ? " search-hit" : "");
        if (this.lastClasses.get(id) === cls) continue;
        this.lastClasses.set(id, cls);
        const ele = this.handles.get(id);
        if (!ele) continue;
        if (el.isEdge) {
          const label = edgeGradLabel(el, s);
          if (label) ele.data("grad", label); else if (ele.data("grad") !== undefined) ele.removeData("grad");
        } else if (cls.includes("bumped") || (this.lastLabels.has(id))) {
          // In-place ops show as a version suffix on the tensor (only while bumped, to stay cheap).
          const label = versionedLabel(el, s, model);
          if (label && label !== ele.data("label")) { ele.data("label", label); this.lastLabels.add(id); }
        }
        ele.classes(cls);
        restyled++;
      }
    });
    this.lastRestyled = restyled;
    this.lastState = { step: s.step, activeRep, culpritRep };
    this.lastStateFull = s;
  }

  /** Ids of graph elements currently drawn (not hidden as "future" or "retired"). */
  visibleIds(): string[] {
    return this.cy.nodes().filter((n) => !hidden(n)).map((n) => n.id());
  }

  /** The nodes drawn now in creation order (collapsed groups too, not open groups' boxes), and
   *  the drawn edges between them: what the keyboard moves through (see graphKeys). */
  navGraph(): NavGraph {
    const view = this.view;
    const rank = new Map<string, number>();
    view?.order.forEach((id, i) => rank.set(id, i));
    const drawn = this.cy.nodes().filter((n) => !hidden(n) && !n.hasClass("expanded"));
    const at = (id: string): number => view?.els.get(id)?.appearAt ?? 0;
    const order = drawn.map((n) => n.id()).sort((a, b) => at(a) - at(b) || (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
    const shown = new Set(order);
    const inputs = new Map<string, string[]>(), consumers = new Map<string, string[]>();
    const add = (m: Map<string, string[]>, k: string, v: string): void => { const l = m.get(k); if (!l) m.set(k, [v]); else if (!l.includes(v)) l.push(v); };
    this.cy.edges().forEach((e) => {
      const a = e.source().id(), b = e.target().id();
      if (hidden(e) || a === b || !shown.has(a) || !shown.has(b)) return;
      add(consumers, a, b);
      add(inputs, b, a);
    });
    // Of several inputs or consumers, the first is the leftmost as drawn.
    const x = (id: string): number => this.handles.get(id)?.position("x") ?? 0;
    for (const m of [inputs, consumers]) for (const l of m.values()) l.sort((p, q) => x(p) - x(q));
    return { order, inputs, consumers };
  }

  /** A drawn element's label on one line (for announcements). */
  labelOf(elId: string): string {
    return String(this.handles.get(elId)?.data("label") ?? elId).replace(/\s*\n\s*/g, " ");
  }

  setSearch(elIds: string[]): void {
    this.searchHits = new Set(elIds);
    this.lastState = null; // forces a full restyle
    if (this.lastStateFull) this.applyState(this.lastStateFull);
  }

  /** The Fit button: the whole graph when it can be seen that way; else (a long chain, a huge
   *  model) the neighbourhood of `focus` (the selection or the step's node), or of the newest
   *  drawn node, at a readable zoom. Says which it did. */
  fit(focus: string | null = null): "whole" | "around" {
    this.fitAll();
    if (this.cy.zoom() >= FIT_MIN_ZOOM) return "whole";
    const drawn = (e: cytoscape.SingularElementArgument): boolean => !hidden(e) && !e.hasClass("expanded");
    const at = focus ? this.handles.get(focus) : undefined;
    const f = at && at.isNode() && drawn(at) ? at : this.newestNode();
    if (!f) return "whole";
    let near = f.closedNeighborhood();
    for (let i = 1; i < FIT_HOPS; i++) near = near.closedNeighborhood();
    near = near.filter(drawn);
    this.cy.fit(near, VIEW_MARGIN);
    // Readable, and no closer than 1:1 (a chain's few neighbours would fill the canvas); the
    // view then shows more of the graph where it has more, not blank space past its end.
    const zoom = Math.min(1, Math.max(MIN_READABLE_ZOOM, this.cy.zoom()));
    if (zoom !== this.cy.zoom()) { this.cy.zoom(zoom); this.cy.center(zoom === 1 ? near : f); }
    this.keepDrawingInView();
    return "around";
  }

  /** Fit what can be shown: everything but retired graphs (which would shrink the live one to a corner). */
  private fitAll(): void {
    const kept = this.kept();
    this.cy.fit(kept.nonempty() ? kept : undefined, VIEW_MARGIN);
  }

  /** The drawn node created last (at this step), where a graph being built grows. */
  private newestNode(): cytoscape.NodeSingular | undefined {
    let best: cytoscape.NodeSingular | undefined, bestAt = -Infinity;
    this.cy.nodes().forEach((n) => {
      if (hidden(n) || n.hasClass("expanded")) return;
      const a = this.view?.els.get(n.id())?.appearAt ?? 0;
      if (a >= bestAt) { best = n; bestAt = a; }
    });
    return best;
  }

  private autoView = true;
  private focusEl: string | null = null;
  /** The canvas size the first view was made for. */
  private framed = { w: 0, h: 0, whole: false };

  /** Fit the graph; if that makes a big graph's labels unreadable, stay readable around the
   *  focus element, with no empty space past the drawing's edges. */
  private initialView(): void {
    const box = this.cy.container();
    this.framed = { w: box?.clientWidth ?? 0, h: box?.clientHeight ?? 0, whole: true };
    this.fitAll();
    if (this.cy.zoom() > 1.6) { this.cy.zoom(1.6); this.cy.center(); }
    if (this.fitsWhole()) return;
    this.framed.whole = this.cy.zoom() >= MIN_READABLE_ZOOM;
    const f = (this.focusEl ? this.handles.get(this.focusEl) : undefined) ?? this.bottomNode();
    if (this.cy.zoom() < MIN_READABLE_ZOOM && f) {
      this.cy.zoom(MIN_READABLE_ZOOM);
      this.cy.center(f);
      // Outputs sit at the bottom of the drawing: show what leads into them, not empty space.
      if (f.hasClass("output")) this.cy.panBy({ x: 0, y: this.cy.height() * 0.3 });
      this.keepDrawingInView();
    }
  }

  /** What is drawn or will be (retired graphs left out, as by fit()). */
  private kept(): cytoscape.CollectionReturnValue {
    return this.cy.elements().filter((e) => !e.hasClass("retired"));
  }

  /** Every drawn element lies inside the canvas. */
  private drawingInView(): boolean {
    const bb = this.kept().renderedBoundingBox({ includeLabels: false, includeOverlays: false });
    return bb.x1 >= 0 && bb.y1 >= 0 && bb.x2 <= this.cy.width() && bb.y2 <= this.cy.height();
  }

  /** A small graph, fitted at a zoom where it can still be read: shown whole. */
  private fitsWhole(): boolean {
    const nodes = this.cy.nodes().filter((n) => !n.hasClass("retired") && !n.hasClass("group")).length;
    return nodes <= SMALL_GRAPH_NODES && this.cy.zoom() >= SMALL_GRAPH_MIN_ZOOM;
  }

  /** Pans so the drawing is centred on an axis where it fits, and otherwise leaves no empty
   *  space between its edge and the canvas edge (no graph half off the top, blank below). */
  private keepDrawingInView(): void {
    const bb = this.kept().renderedBoundingBox({ includeLabels: true, includeOverlays: false });
    const axis = (lo: number, hi: number, size: number): number => {
      if (hi - lo + 2 * VIEW_MARGIN <= size) return size / 2 - (lo + hi) / 2;
      if (lo > VIEW_MARGIN) return VIEW_MARGIN - lo;
      if (hi < size - VIEW_MARGIN) return size - VIEW_MARGIN - hi;
      return 0;
    };
    const dx = axis(bb.x1, bb.x2, this.cy.width()), dy = axis(bb.y1, bb.y2, this.cy.height());
    if (dx || dy) this.cy.panBy({ x: dx, y: dy });
  }
  /** With no focus (or one the trace left out), a huge graph is shown around its lowest drawn
   * node: data flows down, so that is an output, where backward begins. */
  private bottomNode(): cytoscape.NodeSingular | undefined {
    let best: cytoscape.NodeSingular | undefined;
    this.cy.nodes().forEach((n) => {
      if (n.hasClass("group") || n.hasClass("future") || n.hasClass("retired")) return;
      if (!best || n.position("y") > best.position("y")) best = n;
    });
    return best;
  }
  zoomBy(f: number): void {
    const c = { x: this.cy.width() / 2, y: this.cy.height() / 2 };
    this.cy.zoom({ level: this.cy.zoom() * f, renderedPosition: c });
  }
  /** Brings an element into view, readable; one already in view at a readable zoom (a small
   *  graph shown whole) stays where it is, so the rest of the graph stays in view too. */
  focus(elId: string): void {
    const ele = this.cy.getElementById(elId);
    if (ele.empty()) return;
    const bb = ele.renderedBoundingBox({ includeLabels: false, includeOverlays: false });
    const m = 8;
    const inView = bb.x1 >= m && bb.y1 >= m && bb.x2 <= this.cy.width() - m && bb.y2 <= this.cy.height() - m;
    if (inView && (this.cy.zoom() >= MIN_READABLE_ZOOM || this.fitsWhole())) return;
    const zoom = Math.max(this.cy.zoom(), 0.9);
    // A visitor who asked for less motion gets the new view at once, not a 200 ms glide.
    if (matchMedia("(prefers-reduced-motion: reduce)").matches) { this.cy.zoom(zoom); this.cy.center(ele); return; }
    this.cy.animate({ center: { eles: ele }, zoom }, { duration: 200 });
  }
  /** Pans (without animation) so an element that left the view comes back; cheap when visible. */
  follow(elId: string | null): void {
    if (!elId) return;
    const ele = this.handles.get(elId);
    if (!ele || ele.empty()) return;
    const p = ele.renderedPosition();
    const m = 30;
    if (p.x < m || p.y < m || p.x > this.cy.width() - m || p.y > this.cy.height() - m) this.cy.center(ele);
  }

  select(elId: string | null): void {
    this.cy.$(":selected").unselect();
    if (elId) this.cy.getElementById(elId).select();
  }

  png(): Blob {
    const bg = getComputedStyle(document.documentElement).getPropertyValue("--bg").trim() || "#ffffff";
    return this.cy.png({ output: "blob", full: true, bg, maxWidth: 6000, maxHeight: 6000 }) as unknown as Blob;
  }

  svg(): string {
    const cs = getComputedStyle(document.documentElement);
    const bg = cs.getPropertyValue("--bg").trim() || "#ffffff";
    const fg = cs.getPropertyValue("--fg").trim() || "#000000";
    const nodes: SvgNode[] = [];
    this.cy.nodes().forEach((n) => {
      if (hidden(n)) return;
      const bb = n.boundingBox({ includeLabels: false, includeOverlays: false });
      nodes.push({ id: n.id(), x: (bb.x1 + bb.x2) / 2, y: (bb.y1 + bb.y2) / 2, w: bb.w, h: bb.h, label: String(n.data("label") ?? ""),
        fill: String(n.style("background-color")), stroke: String(n.style("border-color")), dashed: n.style("border-style") === "dashed", group: n.hasClass("expanded") });
    });
    const edges: SvgEdge[] = [];
    this.cy.edges().forEach((e) => {
      if (hidden(e) || hidden(e.source()) || hidden(e.target())) return;
      const a = e.sourceEndpoint(), b = e.targetEndpoint();
      const flip = this.arrows === "autograd";
      edges.push({ x1: flip ? b.x : a.x, y1: flip ? b.y : a.y, x2: flip ? a.x : b.x, y2: flip ? a.y : b.y, color: String(e.style("line-color")), label: String(e.data("grad") ?? "") });
    });
    return toSvg(nodes, edges, bg, fg);
  }
}
