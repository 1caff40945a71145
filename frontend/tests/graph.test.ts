// Unit tests of the pure graph layer: trace -> items/links/groups, view building, layouts.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type { Trace } from "../src/api/types";
import { buildModel, tensorElId } from "../src/graph/model";
import { buildView, defaultCollapsed, displayColumns, dynamicClasses, LABEL_MAX_COLUMNS, memberBoxes, nodeSize, searchItems, groupsToOpen, wrapLabel } from "../src/graph/view";
import { GROUP_PAD, GROUP_TOP, layoutDefects } from "../src/graph/geometry";
import { layeredLayout, runLayout } from "../src/graph/layout";
import { syntheticTrace } from "../src/graph/synthetic";
import { displayName, fmtShape, fmtValue } from "../src/graph/format";
import { initialState } from "../src/graph/replay";
import { stylesheet } from "../src/graph/styles";
import * as dagre from "@dagrejs/dagre";

const simple = JSON.parse(readFileSync(new URL("./fixtures/simple.json", import.meta.url), "utf8")) as Trace;

describe("buildModel", () => {
  const m = buildModel(simple);
  it("has one item per grad_fn node plus drawn tensors", () => {
    expect([...m.items.keys()].sort()).toEqual(["T:t0", "T:t1", "T:t2", "T:t3", "n0", "n1", "n2"]);
  });
  it("draws edges in data-flow direction (producer -> consumer)", () => {
    const e0 = m.links.find((l) => l.id === "e0")!;
    expect(e0).toMatchObject({ from: "n0", to: "n1" });
    expect(m.links.find((l) => l.id === "e1")).toMatchObject({ from: "n2", to: "n0" });
    expect(m.links.find((l) => l.id === "te:t0")).toMatchObject({ from: "T:t0", to: "n2" });
    expect(m.links.find((l) => l.id === "te:t2")).toMatchObject({ from: "n1", to: "T:t2" });
  });
  it("classifies tensors for the legend", () => {
    expect(m.items.get("T:t0")!.classes).toContain("leaf-grad");
    expect(m.items.get("T:t3")!.classes).toContain("leaf-nograd");
    expect(m.items.get("T:t2")!.classes).toContain("output");
    expect(m.items.get("T:t1")!.classes).toContain("intermediate");
    expect(m.items.get("n2")!.classes).toContain("k-accumulate_grad");
  });
  it("labels nodes with op name and output shape, tensors with names", () => {
    expect(m.items.get("n0")!.label).toBe("MulBackward0\n[2]");
    expect(m.items.get(tensorElId("t2"))!.label).toBe("loss\n[]");
  });
  it("shows a nested tensor's ragged dimension (-1 in the trace) as *", () => {
    const t = { ...simple.tensors[0]!, shape: [2, -1, 3], names: ["nt"] };
    const nested = buildModel({ ...simple, tensors: [t, ...simple.tensors.slice(1)] });
    expect(nested.items.get(tensorElId(t.id))!.label).toBe("nt\n[2, *, 3]");
    expect(fmtShape([2, -1, 3])).toBe("[2, *, 3]");
  });
  it("says what a summary without values is: nested, sparse, a lazy layer's placeholder", () => {
    const base = { dtype: "torch.float32", values: null, min: null, max: null, mean: null, std: null };
    expect(fmtValue({ ...base, shape: [2, -1, 3], numel: 0, layout: "nested" })).toBe("shape [2, *, 3], nested");
    expect(fmtValue({ ...base, shape: [0], numel: 0, layout: "uninitialized" })).toMatch(/^uninitialized/);
    expect(fmtValue({ ...base, shape: [40], numel: 40, layout: null, min: 0, max: 1 })).toBe("shape [40], min 0, max 1");
  });
  it("names AccumulateGrad without its C++ namespace wherever it is shown", () => {
    expect(displayName("torch::autograd::AccumulateGrad")).toBe("AccumulateGrad");
    expect(displayName("MulBackward0")).toBe("MulBackward0");
    expect(m.items.get("n2")!.label).toBe("AccumulateGrad");
  });
  it("makes AccumulateGrad appear with its leaf (or first consumer)", () => {
    expect(m.items.get("n2")!.appearAt).toBe(1);
    expect(m.items.get("n0")!.appearAt).toBe(2);
    expect(m.items.get("n1")!.appearAt).toBe(3);
  });
  it("indexes the first event of each line", () => {
    expect(m.firstEventOfLine.get(3)).toBe(1);
    expect(m.firstEventOfLine.get(5)).toBe(3);
  });
});

describe("groups and collapsing", () => {
  const t = syntheticTrace(600);
  const m = buildModel(t);
  it("groups by module path with branch points", () => {
    expect(m.groups.has("model.layers")).toBe(true);
    expect(m.groups.get("model.layers.0.attn")!.parent).toBe("model.layers.0");
    expect(m.rootGroups).toEqual(["model.layers"]);
    expect(m.groups.get("model.layers")!.size).toBe([...m.items.values()].filter((i) => i.group).length);
  });
  it("collapses big graphs under the budget and keeps small ones open", () => {
    const c = defaultCollapsed(m, 300);
    const v = buildView(m, c);
    const visibleNodes = [...v.els.values()].filter((e) => !e.isEdge && !e.isParent).length;
    expect(visibleNodes).toBeLessThanOrEqual(300);
    expect(visibleNodes).toBeGreaterThan(5);
    expect(defaultCollapsed(buildModel(simple)).size).toBe(0);
  });
  it("re-routes edges of collapsed groups as deduplicated meta edges", () => {
    const v = buildView(m, new Set(["model.layers.0", "model.layers.1"]));
    const meta = [...v.els.values()].filter((e) => e.id.startsWith("m:"));
    expect(meta.length).toBeGreaterThan(0);
    const ids = new Set(meta.map((e) => e.id));
    expect(ids.size).toBe(meta.length);
    for (const e of meta) expect(v.els.has(e.def.data.source!) && v.els.has(e.def.data.target!)).toBe(true);
    // Every item is represented by an element that exists.
    for (const [item, r] of v.rep) { expect(v.els.has(r), item).toBe(true); }
  });
  it("all edges reference existing endpoints and parents exist", () => {
    const v = buildView(m, new Set());
    for (const e of v.els.values()) {
      if (e.isEdge) { expect(v.els.has(e.def.data.source!)).toBe(true); expect(v.els.has(e.def.data.target!)).toBe(true); }
      if (e.def.data.parent) expect(v.els.get(e.def.data.parent)!.isParent).toBe(true);
    }
  });
  it("groups ungrouped big graphs by source line", () => {
    const mm = buildModel(syntheticTrace(400, { modules: false }));
    expect([...mm.groups.keys()].every((k) => k.startsWith("line "))).toBe(true);
  });
  it("splits a line with thousands of nodes (a loop) into runs of consecutive nodes", () => {
    const mm = buildModel(syntheticTrace(5000, { modules: false }));
    const runs = [...mm.groups.values()].filter((g) => g.parent);
    expect(runs.length).toBeGreaterThan(20);
    for (const g of runs) expect(g.items.length).toBeLessThanOrEqual(300);
    const v = buildView(mm, defaultCollapsed(mm));
    const drawn = [...v.els.values()].filter((e) => !e.isEdge && !e.isParent).length;
    expect(drawn).toBeGreaterThan(20);
    expect(drawn).toBeLessThanOrEqual(600);
  });
  it("search finds by name and module; groupsToOpen lists ancestors", () => {
    const hits = searchItems(m, "layers.2.ffn.weight");
    expect(hits.length).toBeGreaterThan(0);
    const chain = groupsToOpen(m, hits[0]!);
    expect(chain).toContain("model.layers");
  });
});

describe("dynamic classes", () => {
  const m = buildModel(simple);
  const v = buildView(m, new Set());
  it("hides elements from the future and marks the active one", () => {
    const s = initialState();
    s.step = 2; s.active = "n0";
    expect(dynamicClasses(v, v.els.get("n1")!, s, m)).toContain("future");
    expect(dynamicClasses(v, v.els.get("n0")!, s, m)).toContain("active");
    expect(dynamicClasses(v, v.els.get("e0")!, s, m)).toContain("future");
  });
});

describe("layouts", () => {
  it("layered layout puts producers above consumers", () => {
    const m = buildModel(simple);
    const v = buildView(m, new Set());
    const pos = layeredLayout(v.layoutNodes, v.layoutEdges);
    expect(pos["T:t0"]!.y).toBeLessThan(pos["n2"]!.y);
    expect(pos["n2"]!.y).toBeLessThan(pos["n0"]!.y);
    expect(pos["n0"]!.y).toBeLessThan(pos["n1"]!.y);
  });
  it("layered layout handles a 20k-deep chain without recursion", () => {
    const N = 20000;
    const nodes = Array.from({ length: N }, (_, i) => ({ id: "c" + i, width: 80, height: 28, parent: null }));
    const edges = Array.from({ length: N - 1 }, (_, i) => ({ source: "c" + i, target: "c" + (i + 1) }));
    const t0 = Date.now();
    const pos = layeredLayout(nodes, edges);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(pos["c19999"]!.y).toBeGreaterThan(pos["c0"]!.y);
  });
  it("runLayout uses dagre for small ungrouped graphs", () => {
    const m = buildModel(simple);
    const v = buildView(m, new Set());
    const r = runLayout({ nodes: v.layoutNodes, edges: v.layoutEdges, groups: v.layoutGroups }, dagre);
    expect(r.engine).toBe("dagre");
    expect(Object.keys(r.positions).length).toBe(v.layoutNodes.length);
    for (const p of Object.values(r.positions)) { expect(Number.isFinite(p.x)).toBe(true); expect(Number.isFinite(p.y)).toBe(true); }
  });
  it("layered layout lays each module out as a block: boxes hold their members only, nodes never overlap", () => {
    const m = buildModel(syntheticTrace(400));
    const v = buildView(m, new Set());
    const r = runLayout({ nodes: v.layoutNodes, edges: v.layoutEdges, groups: v.layoutGroups }, dagre);
    expect(r.engine).toBe("layered");
    const boxes = memberBoxes(v, r.positions);
    expect(boxes.size).toBeGreaterThan(10);
    const placed = v.layoutNodes.map((n) => ({ ...n, ...r.positions[n.id]! }));
    const d = layoutDefects(placed, boxes, new Map(v.layoutGroups.map((g) => [g.id, g.parent])));
    expect([d.groupPairs, d.foreignNodes, d.nodePairs]).toEqual([[], [], []]);
  });
  it("layered layout: a group spanning several layers gets a box of its own, not crossed by a sibling's", () => {
    // a -> b in group A, c -> d in group B, b -> d: with one flat layering A's and B's boxes
    // would share both rows side by side; as blocks B sits below A.
    const nd = (id: string, parent: string | null) => ({ id, width: 80, height: 28, parent });
    const nodes = [nd("a", "A"), nd("c", "B"), nd("b", "A"), nd("d", "B"), nd("x", null)];
    const edges = [{ source: "a", target: "b" }, { source: "c", target: "d" }, { source: "b", target: "d" }, { source: "x", target: "a" }];
    const pos = layeredLayout(nodes, edges, [{ id: "A", parent: null }, { id: "B", parent: null }]);
    expect(layeredLayout(nodes, edges, [{ id: "A", parent: null }, { id: "B", parent: null }])).toEqual(pos);
    const bottomOfA = Math.max(pos["a"]!.y, pos["b"]!.y) + 14 + GROUP_PAD;
    const topOfB = Math.min(pos["c"]!.y, pos["d"]!.y) - 14 - GROUP_TOP;
    expect(topOfB).toBeGreaterThan(bottomOfA);
    expect(pos["x"]!.y).toBeLessThan(pos["a"]!.y - 14 - GROUP_TOP);
  });
  it("lays out small graphs where structuredClone is missing (Chrome < 98, Firefox < 94)", () => {
    // dagre's ordering step calls structuredClone; there, it throws and the layered layout runs.
    const v = buildView(buildModel(simple), new Set());
    const saved = globalThis.structuredClone;
    // @ts-expect-error: taken away on purpose, as in those browsers
    delete globalThis.structuredClone;
    try {
      const r = runLayout({ nodes: v.layoutNodes, edges: v.layoutEdges }, dagre);
      expect(r.engine).toBe("layered");
      expect(Object.keys(r.positions).sort()).toEqual(v.layoutNodes.map((n) => n.id).sort());
    } finally {
      globalThis.structuredClone = saved;
    }
    expect(runLayout({ nodes: v.layoutNodes, edges: v.layoutEdges }, dagre).engine).toBe("dagre");
  });
  it("runLayout falls back to layered for big graphs", () => {
    const m = buildModel(syntheticTrace(2500));
    const v = buildView(m, new Set());
    expect(runLayout({ nodes: v.layoutNodes, edges: v.layoutEdges }, dagre).engine).toBe("layered");
  });
});

describe("styles", () => {
  it("flips arrows for autograd direction without changing edges", () => {
    const merged = (rules: ReturnType<typeof stylesheet>) => ({ style: Object.assign({}, ...rules.filter((r) => r.selector === "edge").map((r) => r.style)) as Record<string, unknown> });
    const df = merged(stylesheet("light", "dataflow"));
    const ag = merged(stylesheet("dark", "autograd"));
    expect(df.style["target-arrow-shape"]).toBe("triangle");
    expect(ag.style["source-arrow-shape"]).toBe("triangle");
  });
});

describe("default collapse on very large traces", () => {
  it("opens a wide root group instead of drawing one box", () => {
    const m = buildModel(syntheticTrace(20000));
    const v = buildView(m, defaultCollapsed(m));
    const drawn = [...v.els.values()].filter((e) => !e.isEdge && !e.isParent).length;
    expect(drawn).toBeGreaterThan(30);
    expect(drawn).toBeLessThanOrEqual(600);
  });
});

describe("labels", () => {
  it("counts CJK, full-width and emoji characters as two cells", () => {
    expect(displayColumns("loss")).toBe(4);
    expect(displayColumns("权重")).toBe(4);
    expect(displayColumns("ｗ1")).toBe(3);
    expect(displayColumns("😀x")).toBe(3); // one code point, not two UTF-16 units
  });
  it("wraps at spaces where it can and inside a word where it must", () => {
    const names = "weight, bias, also_this_one, and_another_name";
    const wrapped = wrapLabel(`${names}\n[2]`).split("\n");
    expect(wrapped).toEqual(["weight, bias, also_this_one,", "and_another_name", "[2]"]);
    const path = "model.encoder.layers.0.self_attn.in_proj_weight";
    const rows = wrapLabel(path).split("\n");
    expect(rows).toEqual(["model.encoder.layers.0.", "self_attn.in_proj_weight"]); // at a dot
    expect(wrapLabel("ScaledDotProductEfficientAttentionBackward0").split("\n")).toEqual(["ScaledDotProductEfficient", "AttentionBackward0"]);
    expect(wrapLabel("x".repeat(40)).split("\n").map((r) => r.length)).toEqual([LABEL_MAX_COLUMNS, 40 - LABEL_MAX_COLUMNS]);
    const cjk = "第一层的权重参数矩阵第二层的偏置参数向量"; // 20 characters, 40 cells, no spaces
    const cjkRows = wrapLabel(cjk).split("\n");
    expect(cjkRows.join("")).toBe(cjk);
    for (const r of [...rows, ...cjkRows]) expect(displayColumns(r)).toBeLessThanOrEqual(LABEL_MAX_COLUMNS);
    expect(wrapLabel("x\n[3]")).toBe("x\n[3]");
  });
  it("sizes a box for its widest line and its number of lines", () => {
    expect(nodeSize("第一层的权重\n[2]", "tensor").width).toBeGreaterThan(nodeSize("abcdef\n[2]", "tensor").width);
    const one = nodeSize("a", "op"), three = nodeSize("a\nb\nc", "op");
    expect(three.height - one.height).toBe(28);
  });
  it("builds boxes that hold wrapped labels and the version replay adds", () => {
    const t = structuredClone(simple);
    const leaf = t.tensors.find((x) => x.is_leaf)!;
    leaf.names = ["第一层的权重参数矩阵第二层的偏置参数向量"];
    leaf.version = 12;
    const v = buildView(buildModel(t), new Set());
    const el = v.els.get(tensorElId(leaf.id))!;
    expect(el.def.data.label).toBe(wrapLabel(`第一层的权重参数矩阵第二层的偏置参数向量\n[${leaf.shape.join(", ")}]`));
    const box = v.layoutNodes.find((n) => n.id === el.id)!;
    const withVersion = wrapLabel(`第一层的权重参数矩阵第二层的偏置参数向量\n[${leaf.shape.join(", ")}] · v12`);
    expect(box).toMatchObject(nodeSize(withVersion, "tensor"));
  });
});
