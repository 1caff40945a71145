// The graph's keyboard model (view/graphKeys.ts): where each key moves the selection.
import { describe, expect, it } from "vitest";
import { describeNode, nextNode, type NavGraph } from "../src/view/graphKeys";

// x -> mul <- w ; mul -> sum ; x -> exp (creation order: x, w, mul, exp, sum)
const g: NavGraph = {
  order: ["x", "w", "mul", "exp", "sum"],
  inputs: new Map([["mul", ["x", "w"]], ["sum", ["mul"]], ["exp", ["x"]]]),
  consumers: new Map([["x", ["mul", "exp"]], ["w", ["mul"]], ["mul", ["sum"]]]),
};

describe("nextNode", () => {
  it("lands a first key on the step's node, else on the newest node", () => {
    expect(nextNode(g, null, "ArrowDown", "mul")).toBe("mul");
    expect(nextNode(g, null, "ArrowLeft", null)).toBe("sum");
    expect(nextNode(g, null, "ArrowLeft", "gone")).toBe("sum");
  });
  it("goes through creation order with left/right, Home and End, stopping at the ends", () => {
    expect(nextNode(g, "mul", "ArrowLeft")).toBe("w");
    expect(nextNode(g, "mul", "ArrowRight")).toBe("exp");
    expect(nextNode(g, "x", "ArrowLeft")).toBe("x");
    expect(nextNode(g, "sum", "ArrowRight")).toBe("sum");
    expect(nextNode(g, "mul", "Home")).toBe("x");
    expect(nextNode(g, "x", "End")).toBe("sum");
  });
  it("follows edges with up (an input) and down (a consumer), back the way it came", () => {
    expect(nextNode(g, "sum", "ArrowUp")).toBe("mul");
    expect(nextNode(g, "mul", "ArrowUp")).toBe("x");
    expect(nextNode(g, "x", "ArrowDown")).toBe("mul");
    expect(nextNode(g, "x", "ArrowDown", null, "exp")).toBe("exp");
    expect(nextNode(g, "mul", "ArrowUp", null, "w")).toBe("w");
    expect(nextNode(g, "x", "ArrowUp")).toBeNull();
    expect(nextNode(g, "sum", "ArrowDown")).toBeNull();
  });
  it("ignores other keys and empty graphs", () => {
    expect(nextNode(g, "x", "a")).toBeNull();
    expect(nextNode({ order: [], inputs: new Map(), consumers: new Map() }, null, "ArrowDown")).toBeNull();
  });
});

describe("describeNode", () => {
  it("says the label, the place in creation order and the edges", () => {
    expect(describeNode(g, "mul", "MulBackward0")).toBe("MulBackward0 (node 3 of 5, 2 inputs, 1 consumer)");
  });
});
