/**
 * Layout benchmark in Node: milliseconds of `runLayout` (median of runs) and the defects of the
 * drawing (crossing group boxes, nodes inside a module they are not in, overlapping nodes, open
 * groups left without a box) for real traces in frontend/tests/fixtures (all groups open, and
 * as the playground first opens them), synthetic grouped traces and a 20k-node chain.
 * Prints a table; asserts nothing.
 *
 * Usage: npx vitest run --config bench/frontend/vitest.config.ts   (RUNS=9 for more runs;
 *        SVG=dir also writes each real trace's drawing there, to look at; RAW=1 counts the
 *        defects of every group's box, before groupBoxes leaves out misleading ones)
 */
import { it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import * as dagre from "@dagrejs/dagre";
import type { Trace } from "../../frontend/src/api/types";
import { buildModel, normalizeTrace } from "../../frontend/src/graph/model";
import { buildView, defaultCollapsed, groupBoxes, memberBoxes, type GraphView } from "../../frontend/src/graph/view";
import { runLayout, type LayoutInput } from "../../frontend/src/graph/layout";
import { layoutDefects } from "../../frontend/src/graph/geometry";
import { syntheticTrace } from "../../frontend/src/graph/synthetic";
import { toSvg } from "../../frontend/src/graph/svg";

const RUNS = Number(process.env.RUNS ?? 5);
const fixture = (name: string): Trace =>
  normalizeTrace(JSON.parse(readFileSync(new URL(`../../frontend/tests/fixtures/${name}.json`, import.meta.url), "utf8")) as Trace);

function measure(label: string, view: GraphView | null, input: LayoutInput): string {
  const times: number[] = [];
  let result = runLayout(input, dagre);
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    result = runLayout(input, dagre);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  let defects = "-";
  if (view) {
    // What the playground draws (groupBoxes), and how many open groups got no box; RAW=1:
    // every open group's box (memberBoxes), as drawn before groupBoxes left out misleading ones.
    const boxes = process.env.RAW ? memberBoxes(view, result.positions) : groupBoxes(view, result.positions);
    const placed = view.layoutNodes.map((n) => ({ ...n, ...result.positions[n.id]! }));
    const d = layoutDefects(placed, boxes, new Map(view.layoutGroups.map((g) => [g.id, g.parent])));
    const unboxed = memberBoxes(view, result.positions).size - boxes.size;
    defects = `${d.groupPairs.length} / ${d.foreignNodes.length} / ${d.nodePairs.length} / ${unboxed}`;
    if (process.env.SVG && view.layoutNodes.length < 1000) writeFileSync(`${process.env.SVG}/${label.replace(/\W+/g, "_")}.svg`, drawing(view, result.positions));
  }
  const ms = times[Math.floor(times.length / 2)]!;
  return `${label.padEnd(42)} ${String(input.nodes.length).padStart(6)} ${String(input.groups?.length ?? 0).padStart(6)} ${result.engine.padStart(8)} ${ms.toFixed(1).padStart(9)}   ${defects}`;
}

/** A plain SVG of a laid-out view: group boxes, straight edges, labelled nodes. */
function drawing(view: GraphView, positions: Record<string, { x: number; y: number }>): string {
  const boxes = groupBoxes(view, positions); // what the playground draws
  const nodes = [
    ...[...boxes].map(([id, b]) => ({ id, x: b.x, y: b.y, w: b.w, h: b.h, label: view.els.get(id)?.def.data.label ?? id, fill: "#f6f8fa", stroke: "#b6bfcb", dashed: true, group: true })),
    ...view.layoutNodes.map((n) => ({ id: n.id, ...positions[n.id]!, w: n.width, h: n.height, label: view.els.get(n.id)?.def.data.label ?? n.id, fill: "#eef1f5", stroke: "#7b8594" })),
  ];
  const edges = view.layoutEdges.map((e) => ({ x1: positions[e.source]!.x, y1: positions[e.source]!.y, x2: positions[e.target]!.x, y2: positions[e.target]!.y, color: "#8a94a3" }));
  return toSvg(nodes, edges, "#ffffff", "#1b1f24");
}

it("layout benchmark", () => {
  const rows: string[] = [];
  const cases: [string, Trace][] = [
    ["mlp_cross_entropy", fixture("mlp_cross_entropy")],
    ["mlp_training_step", fixture("mlp_training_step")],
    ["derived_param_3_steps", fixture("derived_param_3_steps")],
    ["transformer_encoder", fixture("transformer_encoder")],
    ["interleaved_lines", fixture("interleaved_lines")],
    ["synthetic 1000", syntheticTrace(1000)],
    ["synthetic 5000", syntheticTrace(5000)],
  ];
  for (const [name, trace] of cases) {
    const model = buildModel(trace);
    for (const [how, collapsed] of [["open", new Set<string>()], ["default", defaultCollapsed(model)]] as const) {
      const view = buildView(model, collapsed);
      rows.push(measure(`${name} (${how})`, view, { nodes: view.layoutNodes, edges: view.layoutEdges, groups: view.layoutGroups }));
    }
  }
  const N = 20000;
  const nodes = Array.from({ length: N }, (_, i) => ({ id: "c" + i, width: 80, height: 28, parent: null }));
  const edges = Array.from({ length: N - 1 }, (_, i) => ({ source: "c" + i, target: "c" + (i + 1) }));
  rows.push(measure("chain 20000 (no groups)", null, { nodes, edges }));
  const head = `${"case".padEnd(42)} ${"nodes".padStart(6)} ${"groups".padStart(6)} ${"engine".padStart(8)} ${"ms (med)".padStart(9)}   crossing boxes / foreign nodes / overlapping nodes / unboxed groups`;
  console.log(["", `Layout benchmark (Node ${process.version}, median of ${RUNS} runs)`, head, "-".repeat(head.length), ...rows].join("\n"));
});
