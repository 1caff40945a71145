// Invariants on real traces produced by the tracer (fixtures copied from `trace_source` output).
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import type { Trace } from "../src/api/types";
import { buildModel, normalizeTrace } from "../src/graph/model";
import { Replay } from "../src/graph/replay";
import { buildView, defaultCollapsed, versionedLabel } from "../src/graph/view";
import { layeredLayout } from "../src/graph/layout";

const dir = new URL("./fixtures/", import.meta.url);
const names = readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "simple.json");
const load = (f: string): Trace => normalizeTrace(JSON.parse(readFileSync(new URL(f, dir), "utf8")) as Trace);

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
      if (ev.kind === "backward_end" && ev.backward_pass != null) {
        const order = trace.backward_passes[ev.backward_pass]!.order ?? [];
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
  it("transformer_encoder: groups by module path", () => {
    const m = buildModel(load("transformer_encoder.json"));
    expect(m.groups.size).toBeGreaterThan(3);
    expect([...m.groups.keys()].some((k) => k.includes("layers"))).toBe(true);
  });
});
