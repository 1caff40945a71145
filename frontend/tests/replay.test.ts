// Unit tests of the timeline state machine (forward, back, seek, checkpoints, backward pass state).
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type { Trace } from "../src/api/types";
import { buildModel, normalizeTrace } from "../src/graph/model";
import { Replay, describeEvent, touchedBetween } from "../src/graph/replay";
import { syntheticTrace } from "../src/graph/synthetic";

const simple = JSON.parse(readFileSync(new URL("./fixtures/simple.json", import.meta.url), "utf8")) as Trace;

describe("Replay on a tiny trace", () => {
  const m = buildModel(simple);
  it("starts empty and walks forward with line + active node", () => {
    const r = new Replay(m);
    expect(r.state.step).toBe(0);
    expect(r.state.line).toBeNull();
    r.forward();
    expect(r.state.line).toBe(2);
    r.forward();
    expect(r.state).toMatchObject({ step: 2, line: 3, active: "n0" });
  });
  it("tracks the backward pass: order, grads sent, accumulation, freed buffers", () => {
    const r = new Replay(m);
    r.seek(5);
    expect(r.state.pass).toBe(0);
    expect(r.state.order).toEqual(["n1"]);
    expect(r.state.sent.get(0)?.values).toEqual([1, 1]);
    r.seek(8);
    expect(r.state.order).toEqual(["n1", "n0", "n2"]);
    expect(r.state.grads.get("t0")?.values).toEqual([2, 2]);
    expect(r.state.freed.size).toBe(0);
    r.forward();
    expect([...r.state.freed].sort()).toEqual(["n0", "n1"]);
    r.seek(r.total);
    expect(r.state.pass).toBeNull();
    expect(r.state.prints).toBe(1);
  });
  it("steps back to exactly the earlier state", () => {
    const r = new Replay(m);
    r.seek(9);
    r.back(); r.back();
    expect(r.state.step).toBe(7);
    expect(r.state.grads.has("t0")).toBe(false);
    expect(r.state.freed.size).toBe(0);
    expect(r.state.active).toBe("n2");
  });
  it("clamps seeks", () => {
    const r = new Replay(m);
    expect(r.seek(-5).step).toBe(0);
    expect(r.seek(1e9).step).toBe(r.total);
  });
  it("describes events in plain text", () => {
    expect(describeEvent(simple.events![1]!, m)).toBe("line 3: mul created MulBackward0");
    expect(describeEvent(simple.events![7]!, m)).toContain("a.grad accumulated");
    // AccumulateGrad is named as the graph labels it, without the C++ namespace grad_fn.name() has.
    expect(describeEvent(simple.events![6]!, m)).toBe("line 5: backward executes AccumulateGrad");
    expect(simple.nodes.find((n) => n.id === "n2")!.name).toBe("torch::autograd::AccumulateGrad");
    const hint = { kind: "nonleaf_grad", title: ".grad of a non-leaf tensor stays None", what: "w", fix: "f" };
    expect(describeEvent({ seq: 0, kind: "retain_grad", line: 4, tensor: "t0", op: "retain_grad" } as never, m))
      .toBe("line 4: retain_grad() on a: backward will keep its .grad (a leaf keeps it anyway)");
    expect(describeEvent({ seq: 0, kind: "hook", line: 5, tensor: "t0", op: "register_hook" } as never, m))
      .toBe("line 5: gradient hook registered on a: it runs during backward");
    expect(describeEvent({ seq: 0, kind: "warning", line: 4, category: "UserWarning", hint } as never, m))
      .toBe("line 4: warning (UserWarning): .grad of a non-leaf tensor stays None");
  });
  it("reports which elements a move touches", () => {
    const t = touchedBetween(m, 3, 8);
    expect([...t.nodes].sort()).toEqual(["n0", "n1", "n2"]);
    expect(t.tensors.has("t0")).toBe(true);
    expect(t.passBoundary).toBe(true);
  });
});

describe("Replay with checkpoints on a big trace", () => {
  const m = buildModel(syntheticTrace(3000));
  it("seeking back gives the same state as replaying from zero", () => {
    const a = new Replay(m);
    a.seek(a.total);
    a.seek(3100);
    const b = new Replay(m);
    b.seek(3100);
    expect(a.state.step).toBe(b.state.step);
    expect([...a.state.executed].sort()).toEqual([...b.state.executed].sort());
    expect(a.state.order).toEqual(b.state.order);
    expect(a.state.active).toBe(b.state.active);
  });
  it("the backward order equals the trace's pass order at the end", () => {
    const r = new Replay(m);
    r.seek(r.total);
    expect(r.state.order).toEqual(m.trace.backward_passes![0]!.order);
  });
  it("stepping 1000 times is fast", () => {
    const r = new Replay(m);
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) r.forward();
    for (let i = 0; i < 1000; i++) r.back();
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe("Replay of a pass run inside another's backward", () => {
  // Real trace: a custom Function whose backward calls torch.autograd.grad (pass 1 runs
  // while pass 0 is executing SmoothBackward).
  const nested = normalizeTrace(JSON.parse(readFileSync(new URL("./fixtures/nested_pass.json", import.meta.url), "utf8")) as Trace);
  const m = buildModel(nested);
  const seqOf = (kind: string, pass: number): number =>
    nested.events!.findIndex((e) => e.kind === kind && e.backward_pass === pass) + 1;
  it("shows the inner pass's own marks while it runs", () => {
    const r = new Replay(m);
    r.seek(seqOf("backward_begin", 1) + 1);
    expect(r.state.pass).toBe(1);
    expect(r.state.order).toHaveLength(1);
  });
  it("gives the outer pass its marks back when the inner one ends", () => {
    const r = new Replay(m);
    const before = new Replay(m);
    before.seek(seqOf("backward_begin", 1) - 1);
    r.seek(seqOf("backward_end", 1));
    expect(r.state.pass).toBe(0);
    expect(r.state.lastPass).toBe(0);
    expect(r.state.order).toEqual(before.state.order);
    r.seek(seqOf("backward_end", 0));
    expect(r.state.pass).toBeNull();
    expect(r.state.order).toEqual(nested.backward_passes![0]!.order);
  });
  it("steps back across the nesting to exactly the earlier state", () => {
    const r = new Replay(m);
    r.seek(seqOf("backward_end", 1) + 1);
    r.seek(seqOf("backward_begin", 1));
    expect(r.state.pass).toBe(1);
    expect(r.state.outer).toHaveLength(1);
  });
});

describe("Replay of .data and .grad assignments", () => {
  const trace = normalizeTrace(JSON.parse(readFileSync(new URL("./fixtures/set_grad_data.json", import.meta.url), "utf8")) as Trace);
  const m = buildModel(trace);
  const at = (kind: string): number => trace.events.findIndex((e) => e.kind === kind);
  it("clears the step's .grad at `w.grad = None`, and gives it back stepping back", () => {
    const r = new Replay(m);
    r.seek(at("set_grad"));
    expect(r.state.grads.get("t0")?.values).toEqual([3, 3]);
    r.forward();
    expect(r.state.grads.has("t0")).toBe(true);
    expect(r.state.grads.get("t0")).toBeNull();
    expect(r.state.activeTensor).toBe("t0");
    r.back();
    expect(r.state.grads.get("t0")?.values).toEqual([3, 3]);
  });
  it("says what each assignment did", () => {
    expect(describeEvent(trace.events[at("set_grad")]!, m)).toBe("line 5: w.grad set to None");
    expect(describeEvent(trace.events[at("set_data")]!, m))
      .toBe("line 4: w.data replaced: new values, version stays 0 (autograd does not see it)");
  });
});

describe(".data assigned values cut from a graph", () => {
  const load = (f: string): Trace => normalizeTrace(JSON.parse(readFileSync(new URL(`./fixtures/${f}`, import.meta.url), "utf8")) as Trace);
  const captions = (trace: Trace, kind: string): string[] => {
    const m = buildModel(trace);
    return (trace.events ?? []).filter((e) => e.kind === kind).map((e) => describeEvent(e, m));
  };
  it("names where vector_to_parameters' values came from, and that nothing flows back", () => {
    // The built-in example vector_to_parameters_backward: each parameter's .data takes a view of vparams.
    expect(captions(load("vector_to_parameters_backward.json"), "set_data")).toEqual([
      "line 23: model.linear.weight.data replaced with values from ViewBackward0 (from vparams): shared memory, no history, nothing flows back",
      "line 23: model.linear.bias.data replaced with values from ViewBackward0 (from vparams): shared memory, no history, nothing flows back",
    ]);
  });
  it("names a leaf's values by the leaf, and a named result by its name", () => {
    // w.data = theta.detach(), then w.data = y with y = theta * 2.
    const trace = load("set_data_from_graph.json");
    expect(captions(trace, "set_data")).toEqual([
      "line 4: w.data replaced with theta's values: shared memory, no history, nothing flows back",
      "line 6: w.data replaced with values from MulBackward0 (y): shared memory, no history, nothing flows back",
    ]);
    expect(captions(trace, "warning")[0]).toBe("line 4: warning (gradtrace): values taken through .data, without their history");
  });
});
