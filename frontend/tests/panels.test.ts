// The playground panels' pure helpers: error panel text, the inspector's step facts, the kept own code (no DOM needed).
import { afterEach, describe, expect, it, vi } from "vitest";
import { readFileSync } from "node:fs";
import type { Trace } from "../src/api/types";
import { errorWhere, failedCallText, groupWarnings, warningMarks } from "../src/view/panels";
import { buildModel, normalizeTrace } from "../src/graph/model";
import { gradFnAt, tensorTimeline, writesAfter } from "../src/view/tensorAtStep";
import { MAX_KEPT, OwnCode } from "../src/view/ownCode";
import { findItems } from "../src/view/search";

const simple = JSON.parse(readFileSync(new URL("./fixtures/simple.json", import.meta.url), "utf8")) as Trace;

describe("failedCallText", () => {
  const t0 = simple.tensors[0]!;
  const withCall = (call: NonNullable<Trace["error"]>["call"]): Trace => ({
    ...simple,
    tensors: [{ ...t0, id: "t0", names: ["a"] }, { ...t0, id: "t9", names: [] }],
    error: { type: "RuntimeError", message: "m", line: 3, kind: "shape_mismatch", call } as NonNullable<Trace["error"]>,
  });
  it("names the call and each input by the snippet's name, shape and non-default dtype", () => {
    const trace = withCall({
      op: "stack",
      inputs: [
        { tensor: "t0", shape: [2], dtype: "torch.float32" },
        { tensor: "t9", shape: [3, 1], dtype: "torch.int64" },
      ],
      inputs_elided: 2,
    });
    expect(failedCallText(trace)).toBe("stack(a [2], t9 [3, 1] int64, … 2 more)");
  });
  it("says nothing when no torch call raised", () => {
    expect(failedCallText(withCall(null))).toBe("");
    expect(failedCallText({ ...simple, error: null })).toBe("");
  });
});

describe("groupWarnings and warningMarks", () => {
  const warn = (seq: number, line: number, text: string, hint?: string) =>
    ({ seq, kind: "warning", line, text, category: "UserWarning", hint: hint ? { kind: "k", title: hint, what: "w", fix: "f" } : null }) as unknown as Trace["events"][number];
  const events = [warn(0, 6, "a"), warn(1, 6, "a"), warn(2, 7, "b"), warn(3, 6, "a"), warn(4, 6, "c\nmore", "Lesson")];
  it("lists a warning repeated in a loop once, first occurrence first, with its count", () => {
    const groups = groupWarnings(events.map((e, index) => ({ e, index })));
    expect(groups.map((g) => [g.index, g.e.text, g.count])).toEqual([[0, "a", 3], [2, "b", 1], [4, "c\nmore", 1]]);
  });
  it("marks each warned line with the lesson's title, else the text's first line", () => {
    const marks = warningMarks({ ...simple, events });
    expect(marks).toEqual([[6, "a"], [6, "a"], [7, "b"], [6, "a"], [6, "Lesson"]]);
  });
});

describe("errorWhere", () => {
  const base = { type: "RuntimeError", message: "m", kind: "backward_twice", node: null, tensor: null, explanation: null };
  it("names the line and the line that caused it", () => {
    const err = { ...base, line: 12, column: null, related_line: 5 } as NonNullable<Trace["error"]>;
    expect(errorWhere(err)).toBe("line 12 · caused at line 5");
  });
  it("says when the cause is an earlier run of the same line (a loop)", () => {
    const err = { ...base, line: 12, column: null, related_line: 12 } as NonNullable<Trace["error"]>;
    expect(errorWhere(err)).toBe("line 12 · caused by an earlier run of line 12");
  });
  it("gives the column and the saved and current versions", () => {
    const err = { ...base, line: 3, column: 7, related_line: null, version_at_save: 0, version_now: 1 } as NonNullable<Trace["error"]>;
    expect(errorWhere(err)).toBe("line 3, column 7 · saved at version 0, now version 1");
  });
});

describe("tensorAtStep", () => {
  // x = torch.ones(2, requires_grad=True); y = x * 1; w = y.exp(); y.add_(100) (trimmed trace).
  const trace = normalizeTrace({
    ...simple,
    error: null,
    events: [
      { seq: 0, kind: "leaf", line: 2, tensor: "t0", op: "ones" },
      { seq: 1, kind: "node", line: 3, node: "n0", tensor: "t0", op: "mul" },
      { seq: 2, kind: "node", line: 3, node: "n1", tensor: "t1", op: "mul" },
      { seq: 3, kind: "node", line: 4, node: "n2", tensor: "t3", op: "exp" },
      { seq: 4, kind: "node", line: 5, node: "n3", tensor: "t1", op: "add_" },
      { seq: 5, kind: "inplace", line: 5, node: "n3", tensor: "t1", op: "add_", version_before: 0, version_after: 1 },
    ],
    nodes: [
      { id: "n0", name: "torch::autograd::AccumulateGrad", seq: 0, kind: "accumulate_grad", line: 3, variable: "t0", alive: true },
      { id: "n1", name: "MulBackward0", seq: 1, kind: "op", line: 3, output: "t1", alive: true },
      { id: "n2", name: "ExpBackward0", seq: 2, kind: "op", line: 4, output: "t3", alive: true },
      { id: "n3", name: "AddBackward0", seq: 3, kind: "op", line: 5, output: "t1", alive: true },
    ],
    edges: [{ source: "n1", target: "n0", input_nr: 0, index: 0 }, { source: "n2", target: "n1", input_nr: 0, index: 0 }, { source: "n3", target: "n1", input_nr: 0, index: 0 }],
    tensors: [
      { id: "t0", names: ["x"], shape: [2], dtype: "torch.float32", requires_grad: true, is_leaf: true, version: 0, grad_fn: null, versions: [] },
      { id: "t1", names: ["y"], shape: [2], dtype: "torch.float32", requires_grad: true, is_leaf: false, version: 1, grad_fn: "n3", versions: [5] },
      { id: "t3", names: ["w"], shape: [2], dtype: "torch.float32", requires_grad: true, is_leaf: false, version: 0, grad_fn: "n2", versions: [] },
    ],
    backward_passes: [],
  } as unknown as Trace);
  const model = buildModel(trace);

  it("dates a tensor from its first event, not from its final grad_fn", () => {
    expect(tensorTimeline(model, "t1")).toMatchObject({ created: 3, createdLine: 3 });
    expect(model.items.get("T:t1")?.appearAt).toBe(3); // drawn from the op that made it
  });
  it("links a tensor to each grad_fn it had, while it had it", () => {
    const toY = model.links.filter((l) => l.to === "T:t1").map((l) => [l.from, l.appearAt, l.goneAt]);
    expect(toY).toEqual([["n1", 3, 5], ["n3", 5, Infinity]]);
    expect(model.outputNodes.get("t1")).toEqual(["n1", "n3"]);
    expect(tensorTimeline(model, "t0")).toMatchObject({ created: 1, createdLine: 2 });
  });
  it("gives the grad_fn a tensor had at each step", () => {
    expect(gradFnAt(model, "t1", 2)).toBeUndefined(); // not made yet
    expect(gradFnAt(model, "t1", 3)).toBe("n1");
    expect(gradFnAt(model, "t1", 4)).toBe("n1");
    expect(gradFnAt(model, "t1", 5)).toBe("n3");
    // A leaf's AccumulateGrad is not its grad_fn.
    expect(gradFnAt(model, "t0", 6)).toBeNull();
  });
  it("lists the in-place writes still to come", () => {
    expect(writesAfter(model, "t1", 4)).toEqual([5]);
    expect(writesAfter(model, "t1", 6)).toEqual([]);
  });
});

describe("OwnCode", () => {
  const store = new Map<string, string>();
  vi.stubGlobal("localStorage", {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  });
  afterEach(() => store.clear());

  it("does not save a link's code over the visitor's until they edit it", () => {
    const own = new OwnCode("code", "aside");
    own.changed("mine", true);
    expect(own.linkOpened("shared")).toBe(true);
    own.changed("shared", false);
    expect(own.load()).toBe("mine");
    own.changed("shared, edited", true);
    expect(own.load()).toBe("shared, edited");
    expect(own.aside("shared, edited")).toBe("mine");
    expect(own.restore("shared, edited")).toBe("mine");
    expect(own.load()).toBe("mine");
    expect(own.aside("mine")).toBe("shared, edited"); // the code restore replaced is kept in turn
  });
  it("keeps nothing aside when the link brings the code already saved", () => {
    const own = new OwnCode("code", "aside");
    own.changed("same", true);
    expect(own.linkOpened("same")).toBe(false);
    expect(store.has("aside") || store.has("aside.list")).toBe(false);
  });
  it("keeps both the first draft and an edited example when a second example is picked", () => {
    const own = new OwnCode("code", "aside");
    own.changed("my draft", true);
    own.linkOpened("example A");
    own.changed("example A", false);
    own.changed("example A, edited", true);
    expect(own.linkOpened("example B")).toBe(true);
    own.changed("example B", false);
    expect(own.kept()).toEqual(["example A, edited", "my draft"]);
    // Restoring walks back through them and never drops the code it replaces.
    expect(own.restore("example B")).toBe("example A, edited");
    own.changed("example A, edited", false); // the editor now shows it
    expect(own.load()).toBe("example A, edited");
    expect(own.aside("example A, edited")).toBe("my draft");
    expect(own.restore("example A, edited")).toBe("my draft");
    own.changed("my draft", false);
    expect(own.load()).toBe("my draft");
    expect(own.kept()).toEqual(["example A, edited"]);
    expect(own.restore("my draft")).toBe("example A, edited"); // and back: a swap, nothing lost
    expect(own.kept()).toEqual(["my draft"]);
  });
  it("keeps at most MAX_KEPT drafts, most recent first, and reads the earlier single kept draft", () => {
    store.set("aside", "from an older version");
    const own = new OwnCode("code", "aside");
    expect(own.kept()).toEqual(["from an older version"]);
    expect(store.has("aside")).toBe(false);
    for (let i = 0; i < MAX_KEPT + 2; i++) {
      own.changed(`draft ${i}`, true);
      own.linkOpened("example");
    }
    expect(own.kept()).toEqual(Array.from({ length: MAX_KEPT }, (_, i) => `draft ${MAX_KEPT + 1 - i}`));
    own.forget();
    expect(own.kept()).toEqual([]);
    store.set("aside.list", "{not json");
    expect(own.kept()).toEqual([]);
  });
});

describe("findItems", () => {
  // AccumulateGrad listed first, its op the mul that made it (and "accuMULate"): "Mul" must still find MulBackward0 first.
  const nodes = [...simple.nodes].reverse().map((n) => (n.kind === "accumulate_grad" ? { ...n, op: "mul" } : n));
  const model = buildModel(normalizeTrace({ ...simple, nodes }));
  it("puts items whose shown name starts with the query before those that only contain it", () => {
    const hits = findItems(model, "Mul");
    expect(hits[0]).toBe("n0");
    expect(hits).toContain("n2");
  });
  it("matches the display name, not the C++ prefix, and tensors by variable name", () => {
    expect(findItems(model, "AccumulateGrad")[0]).toBe("n2");
    expect(findItems(model, "loss").map((id) => model.items.get(id)?.tensor?.names)).toContainEqual(["loss"]);
    expect(findItems(model, "  ")).toEqual([]);
  });
});
