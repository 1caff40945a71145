// The Cytoscape stylesheet (light/dark, arrow direction) and the legend that explains it.
export type Theme = "light" | "dark";
export type ArrowDir = "dataflow" | "autograd";

interface Palette {
  text: string; bg: string; edge: string; op: string; opBorder: string; acc: string; custom: string;
  leafGrad: string; leafNoGrad: string; inter: string; output: string; saved: string; group: string;
  groupBorder: string; active: string; executed: string; grad: string; stale: string; culprit: string;
}

const PALETTES: Record<Theme, Palette> = {
  light: {
    text: "#1b1f24", bg: "#ffffff", edge: "#8a94a3", op: "#eef1f5", opBorder: "#7b8594", acc: "#d6e6ff",
    custom: "#ecdcff", leafGrad: "#add8e6", leafNoGrad: "#f1f1f1", inter: "#ffffff", output: "#caff70",
    saved: "#f59e0b", group: "#f6f8fa", groupBorder: "#b6bfcb", active: "#ff7a00", executed: "#2f6fdd",
    grad: "#16a34a", stale: "#dc2626", culprit: "#dc2626",
  },
  dark: {
    text: "#e6e9ee", bg: "#15181d", edge: "#7d8794", op: "#2a3039", opBorder: "#9aa4b2", acc: "#21406e",
    custom: "#4a2f6e", leafGrad: "#1f5f73", leafNoGrad: "#30343a", inter: "#1d2127", output: "#4d6b1a",
    saved: "#f59e0b", group: "#1b1f25", groupBorder: "#4a5361", active: "#ff9a3c", executed: "#6ea0ff",
    grad: "#3ddc84", stale: "#ff6b6b", culprit: "#ff5c5c",
  },
};

/** The graph's colours in a theme (the legend's swatches are painted with them too). */
export function palette(theme: Theme): Readonly<Palette> { return PALETTES[theme]; }

export type StyleRule = { selector: string; style: Record<string, string | number> };

/**
 * `big`: straight edges instead of bezier ones. Bezier control points are recomputed on every
 * repaint; straight edges doubled stepping fps on a 1,300-node view here (multi-edges overlap,
 * which matters little at the zoom such graphs are seen at). Labels of big views are skipped
 * below 6 px on screen (drawing thousands of unreadable labels is what costs); a small graph in
 * a small embed keeps them down to 4 px (a 10-node graph fitted into a 400 px widget lands at
 * ~5 px, where a label still says which op a box is).
 */
export function stylesheet(theme: Theme, arrows: ArrowDir = "dataflow", big = false): StyleRule[] {
  const p = PALETTES[theme];
  const flowArrow: Record<string, string> =
    arrows === "dataflow"
      ? { "target-arrow-shape": "triangle", "source-arrow-shape": "none" }
      : { "target-arrow-shape": "none", "source-arrow-shape": "triangle" };
  return [
    { selector: "node", style: {
      // Labels come wrapped (view.wrapLabel) and their boxes sized for them: Cytoscape must not
      // wrap them again (its default limit, 200px, is about one of our lines).
      label: "data(label)", "text-wrap": "wrap", "text-max-width": "1000px",
      "text-valign": "center", "text-halign": "center",
      "font-size": 11, "font-family": "ui-monospace, SFMono-Regular, Menlo, monospace", color: p.text,
      shape: "round-rectangle",
      "background-color": p.op, "border-width": 1, "border-color": p.opBorder,
      "min-zoomed-font-size": big ? 6 : 4,
      // Lines of a wrapped label touch at line-height 1: the next line's top covers the "_" of
      // the line above ("out_sum" read "out sum"). The box (view.nodeSize) has room for this.
      "line-height": 1.2,
    } },
    { selector: "node.k-accumulate_grad", style: { "background-color": p.acc, shape: "round-rectangle" } },
    { selector: "node.k-custom", style: { "background-color": p.custom, "border-style": "double", "border-width": 3 } },
    { selector: "node.double-backward", style: { "border-style": "dashed" } },
    { selector: "node.has-saved", style: { "border-color": p.saved, "border-width": 2 } },
    { selector: "node.tensor", style: { shape: "rectangle", "background-color": p.inter } },
    { selector: "node.leaf-grad", style: { "background-color": p.leafGrad } },
    { selector: "node.leaf-nograd", style: { "background-color": p.leafNoGrad, "border-style": "dashed" } },
    { selector: "node.output", style: { "background-color": p.output } },
    // Sized from data only where the data exists (a mapping without data warns on every restyle).
    { selector: "node[w]", style: { width: "data(w)", height: "data(h)" } },
    // Manual z-order: group boxes (outer first) under edges under nodes; no compound parents.
    { selector: "node, edge", style: { "z-index-compare": "manual", "z-index": 10 } },
    { selector: "edge", style: { "z-index": 5 } },
    { selector: "node.group.expanded[z]", style: { "z-index": "data(z)", "text-valign": "top", "text-margin-y": 14, "text-halign": "center" } },
    { selector: "node.group", style: {
      "background-color": p.group, "background-opacity": 0.6, "border-color": p.groupBorder, "border-style": "dashed",
      "text-valign": "top", "text-halign": "center", "font-size": 10, color: p.groupBorder, shape: "round-rectangle",
    } },
    { selector: "node.group.collapsed", style: {
      "text-valign": "center", "font-size": 11, color: p.text, "border-style": "solid", "border-width": 2, "background-opacity": 1,
    } },
    { selector: "edge", style: {
      width: 1.5, "line-color": p.edge, "target-arrow-color": p.edge, "source-arrow-color": p.edge,
      "curve-style": big ? "straight" : "bezier", "arrow-scale": 0.9, ...flowArrow,
      "font-size": 10, color: p.grad, "text-background-color": p.bg, "text-background-opacity": 0.85,
      "text-background-padding": "1px",
    } },
    { selector: "edge.meta", style: { width: 2.5, "line-style": "solid", opacity: 0.7 } },
    { selector: "edge.to-acc, edge.to-tensor", style: { "line-style": "dotted" } },
    { selector: "edge.cut", style: {
      "line-style": "dashed", "line-color": p.stale, "target-arrow-color": p.stale, "source-arrow-color": p.stale,
      "target-arrow-shape": "tee", "source-arrow-shape": "none", label: "detach()", color: p.stale, "font-size": 10,
    } },
    // Replay state (toggled in cy.batch(); positions never change while stepping).
    // Not-yet-created elements are made transparent rather than display:none: display, visibility
    // and opacity changes force Cytoscape to re-sort every element by z-order on the next frame.
    { selector: "node.future", style: { "background-opacity": 0, "border-opacity": 0, "text-opacity": 0 } },
    { selector: "edge.future", style: { "line-opacity": 0, "text-opacity": 0 } },
    // Retired elements (a finished loop iteration's graph, replaced by the next) and those not
    // created yet that will take the place of one are not drawn at all: a 10,000-step loop
    // stacks hundreds in one place, and transparent ones still cost a draw each (7.8 fps for
    // 1,800 stacked). Few of them change per step, so the re-sort that display costs is cheap.
    // Not drawn, they take no taps either: a tap reaches the node drawn in their place.
    { selector: ".retired, .stacked.future", style: { display: "none" } },
    { selector: "node.executed", style: { "border-color": p.executed, "border-width": 3 } },
    { selector: "node.freed", style: { opacity: 0.45, "border-style": "dotted" } },
    { selector: "node.has-grad", style: { "border-color": p.grad, "border-width": 3 } },
    { selector: "node.bumped", style: { "border-style": "double", "border-width": 4 } },
    { selector: "node.stale", style: { "border-color": p.stale, "border-style": "dashed", "border-width": 3 } },
    { selector: "node.active", style: {
      "border-color": p.active, "border-width": 4, "overlay-color": p.active, "overlay-opacity": 0.18, "overlay-padding": 6,
    } },
    { selector: "node.culprit", style: {
      "border-color": p.culprit, "border-width": 5, "overlay-color": p.culprit, "overlay-opacity": 0.22, "overlay-padding": 8,
    } },
    { selector: "edge.grad-sent", style: {
      "line-color": p.grad, "target-arrow-color": p.grad, "source-arrow-color": p.grad, width: 3,
    } },
    { selector: "edge.grad-sent[grad]", style: { label: "data(grad)" } },
    { selector: "node.search-hit", style: { "underlay-color": "#facc15", "underlay-opacity": 0.6, "underlay-padding": 6 } },
    { selector: "node:selected", style: { "underlay-color": p.executed, "underlay-opacity": 0.35, "underlay-padding": 5 } },
    // Not created yet: nothing at all is drawn, not even the selection or a search hit (a
    // selected future node would be a blank blue box where the node will appear).
    { selector: "node.future", style: { "underlay-opacity": 0, "overlay-opacity": 0 } },
  ];
}

/** Legend rows: the class a swatch shows and what it means. */
export const LEGEND: { cls: string; label: string }[] = [
  { cls: "leaf-grad", label: "leaf tensor that requires grad (parameter, input)" },
  { cls: "leaf-nograd", label: "tensor that does not require grad" },
  { cls: "intermediate", label: "intermediate tensor (named)" },
  { cls: "output", label: "output / loss" },
  { cls: "op", label: "grad_fn node (backward of an op)" },
  { cls: "acc", label: "AccumulateGrad (writes .grad of a leaf)" },
  { cls: "custom", label: "custom autograd.Function" },
  { cls: "saved", label: "orange border: holds saved tensors" },
  { cls: "active", label: "current step" },
  { cls: "executed", label: "executed in backward" },
  { cls: "freed", label: "saved buffers freed" },
  { cls: "stale", label: "saved tensor modified in place" },
  { cls: "grad", label: "gradient flowing / .grad filled" },
  { cls: "cut", label: "dashed red: detach() cut (no gradient flows)" },
];
