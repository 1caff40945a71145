// What the graph draws and says: the stylesheet's rules for elements not created yet and for
// wrapped labels, the theme palettes, caption wording.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type { Trace } from "../src/api/types";
import { buildModel, normalizeTrace } from "../src/graph/model";
import { describeEvent } from "../src/graph/replay";
import { palette, stylesheet } from "../src/graph/styles";

const fixture = (name: string): Trace => normalizeTrace(JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8")) as Trace);

describe("captions", () => {
  it("a free event of one node names it instead of '1 nodes'", () => {
    const t = fixture("simple");
    const m = buildModel(t);
    const node = t.nodes[0]!;
    const text = describeEvent({ seq: 99, kind: "free", nodes: [node.id], line: 5 } as unknown as Trace["events"][number], m);
    expect(text).not.toContain("1 nodes");
    expect(text).toContain("freed");
    const two = describeEvent({ seq: 99, kind: "free", nodes: [node.id, node.id], line: 5 } as unknown as Trace["events"][number], m);
    expect(two).toContain("2 nodes");
  });
});

describe("stylesheet", () => {
  for (const theme of ["light", "dark"] as const) {
    const rules = stylesheet(theme);
    it(`${theme}: a node not created yet draws nothing, even selected or a search hit`, () => {
      const i = rules.findIndex((r) => r.selector === "node.future" && r.style["underlay-opacity"] === 0 && r.style["overlay-opacity"] === 0);
      expect(i).toBeGreaterThan(rules.findIndex((r) => r.selector === "node:selected"));
      expect(i).toBeGreaterThan(rules.findIndex((r) => r.selector === "node.search-hit"));
    });
    it(`${theme}: wrapped label lines do not overlap (an underscore stays visible)`, () => {
      expect(Number(rules.find((r) => r.selector === "node")!.style["line-height"])).toBeGreaterThanOrEqual(1.15);
    });
  }
  it("exposes each theme's palette (the legend is painted with it)", () => {
    expect(palette("dark").leafGrad).not.toBe(palette("light").leafGrad);
  });
});
