// The error panel's text helpers (pure: no DOM needed).
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type { Trace } from "../src/api/types";
import { errorWhere, failedCallText, groupWarnings, warningMarks } from "../src/view/panels";

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
