// Invariants on real traces produced by the tracer (fixtures copied from `trace_source` output).
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import type { Trace } from "../src/api/types";
import { buildModel, normalizeTrace } from "../src/graph/model";
import { Replay, describeEvent } from "../src/graph/replay";
import { buildView, defaultCollapsed, dynamicClasses, groupBoxes, memberBoxes, versionedLabel, type GraphView } from "../src/graph/view";
import { components, layeredLayout, runLayout } from "../src/graph/layout";
import { layoutDefects } from "../src/graph/geometry";
import * as dagre from "@dagrejs/dagre";

const dir = new URL("./fixtures/", import.meta.url);
const names = readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "simple.json");
const load = (f: string): Trace => normalizeTrace(JSON.parse(readFileSync(new URL(f, dir), "utf8")) as Trace);

/** The playground's layout of a view, and its group boxes as groupBoxes draws them. */
function drawn(view: GraphView): { positions: Record<string, { x: number; y: number }>; boxes: ReturnType<typeof groupBoxes>; defects: ReturnType<typeof layoutDefects> } {
  const { positions } = runLayout({ nodes: view.layoutNodes, edges: view.layoutEdges, groups: view.layoutGroups }, dagre);
  // The boxes of every open group, before groupBoxes leaves out any that would mislead.
  const boxes = memberBoxes(view, positions);
  const placed = view.layoutNodes.map((n) => ({ ...n, ...positions[n.id]! }));
  return { positions, boxes, defects: layoutDefects(placed, boxes, new Map(view.layoutGroups.map((g) => [g.id, g.parent]))) };
}
// Traces whose module or line groups are on a cycle (data leaves a group and comes back): such
// a group can't be one box with edges flowing down, and is drawn without a box.
const CYCLIC_GROUPS = new Set(["interleaved_lines.json"]);

describe.each(names)("%s", (file) => {
  const trace = load(file);
  const model = buildModel(trace);

  it("draws every grad_fn node exactly once and every edge between drawn items", () => {
    const gfn = [...model.items.values()].filter((i) => i.node).map((i) => i.id).sort();
    expect(gfn).toEqual(trace.nodes.map((n) => n.id).sort());
    for (const l of model.links) { expect(model.items.has(l.from)).toBe(true); expect(model.items.has(l.to)).toBe(true); }
    expect(model.links.filter((l) => l.edge >= 0).length).toBe(trace.edges.length);
  });

  it("shows nodes no earlier than their creation event", () => {
    trace.events.forEach((ev, i) => {
      if (ev.kind === "node" && ev.node) expect(model.items.get(ev.node)!.appearAt).toBe(i + 1);
    });
  });

  it("replays each backward pass in the trace's engine order", () => {
    const r = new Replay(model);
    for (let i = 0; i < trace.events.length; i++) {
      const ev = trace.events[i]!;
      // Just before a pass ends its marks are on show (after it, a pass it ran inside
      // gets its own back).
      r.seek(i);
      const pass = ev.kind === "backward_end" ? trace.backward_passes.find((p) => p.index === ev.backward_pass) : undefined;
      if (pass) { // (a bounded trace keeps the first and last passes only)
        const order = pass.order ?? [];
        expect(r.state.order.slice(0, order.length)).toEqual(order);
      }
    }
    r.seek(r.total);
    if (trace.error) expect(r.state.errorShown).toBe(true);
  });

  it("ends with the final .grad of every leaf that backward filled", () => {
    const r = new Replay(model);
    r.seek(r.total);
    for (const [tid, g] of r.state.grads) {
      const t = model.tensorById.get(tid);
      if (t?.grad && g) expect(g.shape).toEqual(t.grad.shape);
    }
  });

  it("never draws two elements in one place, and never retires a node alive at the end", () => {
    for (const n of trace.nodes) if (n.alive) expect(Number.isFinite(model.items.get(n.id)!.goneAt)).toBe(false);
    const view = buildView(model, defaultCollapsed(model));
    const r = new Replay(model);
    const total = trace.events.length;
    for (let k = 0; k <= 40; k++) {
      const step = Math.floor((total * k) / 40);
      r.seek(step);
      const seen = new Map<string, string>();
      for (const el of view.els.values()) {
        if (el.isEdge || el.isParent) continue;
        const cls = dynamicClasses(view, el, r.state, model).split(" ");
        if (cls.includes("future") || cls.includes("retired")) continue;
        const place = view.slot.get(el.id) ?? el.id;
        expect(seen.get(place), `step ${step}: ${el.id} drawn where ${seen.get(place)} is`).toBeUndefined();
        seen.set(place, el.id);
      }
    }
  });

  it.each([["all groups open", true], ["as first shown", false]])("draws each module as a box holding only its own members (%s)", (_, open) => {
    const view = buildView(model, open ? new Set() : defaultCollapsed(model));
    const { positions, boxes, defects } = drawn(view);
    if (!CYCLIC_GROUPS.has(file)) {
      expect(defects.groupPairs, "group boxes crossing").toEqual([]);
      expect(defects.foreignNodes, "nodes inside a box of a group they are not in").toEqual([]);
      // Every open group that holds a drawn node gets its box.
      expect([...groupBoxes(view, positions).keys()].sort()).toEqual([...boxes.keys()].sort());
      // Data flows down: every edge goes from a higher node to a lower one, except inside a
      // cycle (a loop's later nodes take the place of the earlier ones).
      const at = new Map(view.layoutNodes.map((n, i) => [n.id, i]));
      const comp = components(view.layoutNodes.length, view.layoutEdges.map((e) => [at.get(e.source)!, at.get(e.target)!]));
      for (const e of view.layoutEdges) {
        if (comp[at.get(e.source)!] === comp[at.get(e.target)!]) continue;
        expect(positions[e.source]!.y, `${e.source} -> ${e.target}`).toBeLessThan(positions[e.target]!.y);
      }
    }
    expect(defects.nodePairs, "overlapping nodes").toEqual([]);
  });

  it("lays out the same view the same way every time", () => {
    const view = buildView(model, new Set());
    const input = { nodes: view.layoutNodes, edges: view.layoutEdges, groups: view.layoutGroups };
    expect(runLayout(structuredClone(input), dagre).positions).toEqual(runLayout(input, dagre).positions);
  });

  it("builds a consistent view and a finite layout", () => {
    const view = buildView(model, defaultCollapsed(model));
    const pos = layeredLayout(view.layoutNodes, view.layoutEdges);
    for (const n of view.layoutNodes) expect(Number.isFinite(pos[n.id]!.x + pos[n.id]!.y)).toBe(true);
    for (const e of view.els.values()) if (e.isEdge) expect(view.els.has(e.def.data.source!) && view.els.has(e.def.data.target!)).toBe(true);
  });
});

describe("specific real traces", () => {
  it("inplace_version_error: the culprit node is stale before backward runs", () => {
    const t = load("inplace_version_error.json");
    const m = buildModel(t);
    const r = new Replay(m);
    const begin = t.events.findIndex((e) => e.kind === "backward_begin");
    const firstExec = t.events.findIndex((e) => e.kind === "execute");
    r.seek(firstExec);
    expect(begin).toBeLessThan(firstExec);
    expect(r.state.stale.has(t.error!.node!)).toBe(true);
    r.seek(r.total);
    expect(r.state.culpritNode).toBe(t.error!.node);
  });
  it("inplace_version_error: the bumped tensor's label shows its version from the in-place step on", () => {
    const t = load("inplace_version_error.json");
    const m = buildModel(t);
    const v = buildView(m, new Set());
    const r = new Replay(m);
    const ip = t.events.findIndex((e) => e.kind === "inplace");
    const tid = t.events[ip]!.tensor!;
    const el = v.els.get(m.tensorItem.get(tid)!)!;
    r.seek(ip);
    expect(versionedLabel(el, r.state, m)).not.toContain("· v");
    r.seek(ip + 1);
    expect(versionedLabel(el, r.state, m)).toContain("· v1");
  });
  it("no_grad: lines run without grad are shaded", () => {
    const m = buildModel(load("no_grad.json"));
    expect(m.noGradLines.size).toBeGreaterThan(0);
  });
  it("detach: detach lines are marked and the cut is drawn from its step", () => {
    const t = load("detach.json");
    const m = buildModel(t);
    expect(m.detachLines.size).toBeGreaterThan(0);
    const cut = m.links.find((l) => l.classes.includes("cut"))!;
    expect(cut).toBeDefined();
    expect(cut.appearAt).toBe(t.events.findIndex((e) => e.kind === "detach") + 1);
  });
  it("mlp_cross_entropy: each box holds its own module's nodes only (the QA report)", () => {
    const m = buildModel(load("mlp_cross_entropy.json"));
    const view = buildView(m, new Set());
    const { positions, boxes } = drawn(view);
    const inside = (id: string, g: string): boolean => {
      const b = boxes.get(g)!, p = positions[id]!;
      return Math.abs(p.x - b.x) < b.w / 2 && Math.abs(p.y - b.y) < b.h / 2;
    };
    const byName = (name: string): string[] => m.trace.nodes.filter((n) => n.name === name).map((n) => n.id);
    const [t0, t2] = byName("TBackward0").sort((a, b) => (m.nodeById.get(a)!.module! < m.nodeById.get(b)!.module! ? -1 : 1));
    expect(inside(t0!, "G:model.0")).toBe(true);
    expect(inside(t0!, "G:model.2")).toBe(false);
    expect(inside(t2!, "G:model.2")).toBe(true);
    for (const outside of [...byName("LogSoftmaxBackward0"), ...byName("NllLossBackward0"), m.tensorItem.get(m.trace.tensors.find((t) => t.names?.includes("x"))!.id)!]) {
      expect(inside(outside, "G:model"), outside).toBe(false);
    }
  });
  it("interleaved_lines: two lines of a loop body alternating are drawn as one chain, without their boxes", () => {
    const m = buildModel(load("interleaved_lines.json"));
    const view = buildView(m, new Set());
    const { positions } = drawn(view);
    const drawnBoxes = groupBoxes(view, positions);
    const lineGroups = view.layoutGroups.filter((g) => /^G:line \d+$/.test(g.id) && view.layoutNodes.filter((n) => n.parent === g.id).length > 100);
    expect(lineGroups.length).toBe(2);
    for (const g of lineGroups) expect(drawnBoxes.has(g.id)).toBe(false);
    // What is drawn misleads no one, and the chain stays a column, not one wide row.
    const placed = view.layoutNodes.map((n) => ({ ...n, ...positions[n.id]! }));
    const d = layoutDefects(placed, drawnBoxes, new Map(view.layoutGroups.map((g) => [g.id, g.parent])));
    expect([d.groupPairs, d.foreignNodes, d.nodePairs]).toEqual([[], [], []]);
    const xs = view.layoutNodes.map((n) => positions[n.id]!.x), ys = view.layoutNodes.map((n) => positions[n.id]!.y);
    expect(Math.max(...ys) - Math.min(...ys)).toBeGreaterThan(10 * (Math.max(...xs) - Math.min(...xs)));
  });
  it("transformer_encoder: groups by module path", () => {
    const m = buildModel(load("transformer_encoder.json"));
    expect(m.groups.size).toBeGreaterThan(3);
    expect([...m.groups.keys()].some((k) => k.includes("layers"))).toBe(true);
  });
});

// A training loop (fixture: three iterations of a small MLP, two MulBackward0 per iteration
// from one line, then a graph kept with retain_graph=True): each finished iteration's graph
// makes way for the next one, drawn in the same place.
describe("training_loop: finished iterations make way for the next", () => {
  const t = load("training_loop.json");
  const m = buildModel(t);
  const key = (id: string): string => { const n = m.nodeById.get(id)!; return `${n.line}|${n.module}|${n.name}`; };
  const retiredAt = (step: number): string[] => {
    const r = new Replay(m);
    r.seek(step);
    const view = buildView(m, new Set());
    return t.nodes.filter((n) => dynamicClasses(view, view.els.get(n.id)!, r.state, m).split(" ").includes("retired")).map((n) => n.id);
  };

  it("at the end draws exactly the graphs that are still alive", () => {
    expect(t.nodes.filter((n) => !n.alive).length).toBeGreaterThan(10);
    const retired = new Set(retiredAt(t.events.length));
    expect(t.nodes.filter((n) => !retired.has(n.id)).map((n) => n.id).sort()).toEqual(t.nodes.filter((n) => n.alive).map((n) => n.id).sort());
  });

  it("retires a node when the same code builds its replacement, one for one, after its pass ended", () => {
    const nodeEvent = new Map<string, number>();
    t.events.forEach((ev, i) => { if (ev.kind === "node" && ev.node) nodeEvent.set(ev.node, i + 1); });
    const passEnd = new Map<string, number>();
    t.events.forEach((ev, i) => {
      if (ev.kind !== "backward_end" || ev.backward_pass == null) return;
      for (const id of t.backward_passes[ev.backward_pass]!.order ?? []) if (!passEnd.has(id)) passEnd.set(id, i + 1);
    });
    const byStep = new Map([...nodeEvent].map(([id, step]) => [step, id]));
    let checked = 0;
    for (const n of t.nodes) {
      const item = m.items.get(n.id)!;
      if (!Number.isFinite(item.goneAt)) continue;
      if (n.kind === "accumulate_grad") continue;
      const successor = byStep.get(item.goneAt)!;
      expect(key(successor)).toBe(key(n.id));
      expect(item.goneAt).toBeGreaterThan(passEnd.get(n.id)!);
      expect(m.slotOf.get(successor)).toBe(m.slotOf.get(n.id) ?? n.id);
      expect(describeEvent(t.events[item.goneAt - 1]!, m)).toContain(`in place of the one built before (${n.id})`);
      expect(retiredAt(item.goneAt - 1)).not.toContain(n.id);
      expect(retiredAt(item.goneAt)).toContain(n.id);
      checked++;
    }
    expect(checked).toBe(t.nodes.filter((n) => !n.alive).length);
    // The line run twice per iteration: its two nodes are replaced one at a time.
    const muls = t.nodes.filter((n) => n.name === "MulBackward0" && !n.alive && n.line === 11).map((n) => m.items.get(n.id)!.goneAt);
    expect(muls.length).toBe(4);
    expect(new Set(muls).size).toBe(4);
  });

  it("lays out one iteration: a replacement takes the place of the node it replaces", () => {
    const view = buildView(m, new Set());
    const laid = new Set(view.layoutNodes.map((n) => n.id));
    for (const [id, first] of view.slot) {
      expect(laid.has(id)).toBe(false);
      expect(laid.has(first)).toBe(true);
      // Not drawn until created, unlike a first node's transparent future (see styles.ts).
      expect(view.els.get(id)!.staticClasses.split(" ")).toContain("stacked");
      expect(view.els.get(first)!.staticClasses.split(" ")).not.toContain("stacked");
    }
    expect(view.slot.size).toBe(t.nodes.filter((n) => !n.alive).length);
    expect(laid.size).toBe(view.els.size - [...view.els.values()].filter((e) => e.isEdge || e.isParent).length - view.slot.size);
    const pos = layeredLayout(view.layoutNodes, view.layoutEdges);
    for (const n of view.layoutNodes) expect(Number.isFinite(pos[n.id]!.x + pos[n.id]!.y)).toBe(true);
  });
});

// A bounded loop (fixture: 60 steps traced with tiny caps, so most nodes' creation and most
// passes fell in the elided middle of the timeline).
describe("bounded_loop: what the timeline left out is not drawn", () => {
  const t = load("bounded_loop.json");
  const m = buildModel(t);
  const created = new Set(t.events.filter((e) => e.kind === "node" && e.node).map((e) => e.node!));
  const drawnAt = (step: number): Set<string> => {
    const r = new Replay(m);
    r.seek(step);
    const view = buildView(m, defaultCollapsed(m));
    return new Set(t.nodes.filter((n) => {
      const cls = dynamicClasses(view, view.els.get(view.rep.get(n.id)!)!, r.state, m).split(" ");
      return !cls.includes("future") && !cls.includes("retired");
    }).map((n) => n.id));
  };

  it("is bounded, with nodes whose creation was left out", () => {
    expect(t.truncated).toBeTruthy();
    expect(t.nodes.filter((n) => !n.alive && n.kind !== "accumulate_grad" && !created.has(n.id)).length).toBeGreaterThan(10);
  });

  it("never draws a node whose creation the timeline left out, and ends with the live graph only", () => {
    const hiddenForGood = t.nodes.filter((n) => !n.alive && n.kind !== "accumulate_grad" && !created.has(n.id)).map((n) => n.id);
    for (const step of [0, 1, Math.floor(t.events.length / 2), t.events.length - 1]) {
      const drawn = drawnAt(step);
      for (const id of hiddenForGood) expect(drawn.has(id)).toBe(false);
    }
    expect([...drawnAt(t.events.length)].sort()).toEqual(t.nodes.filter((n) => n.alive).map((n) => n.id).sort());
  });

  it("opens the whole graph, laid out as one iteration", () => {
    expect(defaultCollapsed(m).size).toBe(0);
    const view = buildView(m, new Set());
    // One place per distinct node of an iteration: the part before the elided middle, the
    // part after it and the never-drawn nodes in between all share them.
    const keys = new Set(t.nodes.map((n) => `${n.line}|${n.module}|${n.name}`));
    expect(view.layoutNodes.filter((l) => m.nodeById.has(l.id)).length).toBe(keys.size);
  });
});
