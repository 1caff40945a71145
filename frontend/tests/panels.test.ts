// The error panel's text helpers (pure: no DOM needed).
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type { Trace } from "../src/api/types";
import { failedCallText } from "../src/view/panels";

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
