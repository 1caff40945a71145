// Pure embedding logic: #code= codec, options, annotations, predict questions, trace diff, share snippets.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import type { Trace } from "../src/api/types";
import { buildModel, normalizeTrace } from "../src/graph/model";
import { decodeCode, encodeCode, fragmentParams, isEncodedCode } from "../src/embed/codec";
import { optionsFromDataset, parseOptions } from "../src/embed/options";
import { hiddenFolds, parseAnnotations, pauseSteps, sourceLines, stripMarkers } from "../src/embed/annotations";
import { grade, predictQuestions, shuffled } from "../src/embed/predict";
import { diffSummary, diffTraces } from "../src/embed/diff";
import { shareSnippets } from "../src/embed/share";

const load = (f: string): Trace => normalizeTrace(JSON.parse(readFileSync(new URL(`./fixtures/${f}`, import.meta.url), "utf8")) as Trace);

describe("fragment codec", () => {
  it("round-trips code, including unicode and long snippets, as URL-safe text", async () => {
    for (const src of ["", "import torch\nx = torch.ones(2, requires_grad=True)\n", "# é ∂ 😀\n" + "y = x * 2\n".repeat(2000)]) {
      const enc = await encodeCode(src);
      expect(enc).toMatch(/^z[A-Za-z0-9_-]*$/);
      expect(await decodeCode(enc)).toBe(src);
    }
  });
  it("compresses repetitive code", async () => {
    const src = "loss = (x * w).sum()\n".repeat(500);
    expect((await encodeCode(src)).length).toBeLessThan(src.length / 20);
  });
  it("rejects damaged or foreign links with a readable error", async () => {
    await expect(decodeCode("zAAAA")).rejects.toThrow(/damaged/);
    await expect(decodeCode("qwerty")).rejects.toThrow(/Unknown code format/);
  });
  it("falls back to plain UTF-8 where the browser has no CompressionStream, and still reads both", async () => {
    const src = "# é ∂ 😀\nloss = (x * w).sum()\n";
    const zipped = await encodeCode(src);
    const saved = { c: globalThis.CompressionStream, d: globalThis.DecompressionStream };
    try {
      // @ts-expect-error: simulating an older browser
      delete globalThis.CompressionStream;
      const plain = await encodeCode(src);
      expect(plain).toMatch(/^u[A-Za-z0-9_-]*$/);
      expect(await decodeCode(plain)).toBe(src);
      // @ts-expect-error: simulating an older browser
      delete globalThis.DecompressionStream;
      expect(await decodeCode(plain)).toBe(src);
      expect(await decodeCode(zipped)).toBe(src); // inflated in JS there
      await expect(decodeCode("zAAAA")).rejects.toThrow(/damaged/);
    } finally {
      globalThis.CompressionStream = saved.c;
      globalThis.DecompressionStream = saved.d;
    }
    expect(await decodeCode(zipped)).toBe(src);
    await expect(decodeCode("u_-_-")).rejects.toThrow(/damaged/);
  });
  it("tells encoded values from code given as plain text", () => {
    expect(isEncodedCode("zq1ZKc_Ly")).toBe(true);
    expect(isEncodedCode("u" + "aW1wb3J0IHRvcmNo")).toBe(true);
    expect(isEncodedCode("u = torch.ones(3)")).toBe(false);
    expect(isEncodedCode("z=x*2")).toBe(false);
  });
  it("reads code= out of a fragment", () => {
    expect(fragmentParams("#code=zabc&step=3").get("code")).toBe("zabc");
  });
});

describe("options", () => {
  it("defaults: read-only, every pane, end, light, 400px", () => {
    const o = parseOptions(new URLSearchParams());
    expect(o.readonly).toBe(true);
    expect([...o.panes]).toEqual(["code", "graph", "inspector", "timeline"]);
    expect(o.step).toBe("end");
    expect(o.theme).toBe("light");
    expect(o.height).toBe(400);
    expect(o.predict).toBe(false);
  });
  it("parses and clamps values; bad ones fall back", () => {
    const o = parseOptions(new URLSearchParams("editable=1&panes=graph,bogus,timeline&step=4&theme=dark&height=99999&autoplay=true&predict=1"));
    expect(o.readonly).toBe(false);
    expect([...o.panes]).toEqual(["graph", "timeline"]);
    expect(o.step).toBe(4);
    expect(o.theme).toBe("dark");
    expect(o.height).toBe(400);
    expect(o.autoplay && o.predict).toBe(true);
    expect(parseOptions(new URLSearchParams("autoplay=1")).step).toBe(0);
    expect(parseOptions(new URLSearchParams("readonly=0")).readonly).toBe(false);
  });
  it("under reduced motion, autoplay opens at the step asked for, else the end, and does not play", () => {
    const o = (q: string, reduced: boolean) => parseOptions(new URLSearchParams(q), reduced);
    expect(o("autoplay=1", false)).toMatchObject({ autoplay: true, autoplayHeld: false, step: 0 });
    expect(o("autoplay=1", true)).toMatchObject({ autoplay: false, autoplayHeld: true, step: "end" });
    expect(o("autoplay=1&step=2", true)).toMatchObject({ autoplay: false, step: 2 });
    expect(o("autoplay=1&step=start", true)).toMatchObject({ autoplay: false, step: 0 });
    expect(o("", true)).toMatchObject({ autoplay: false, autoplayHeld: false, step: "end" });
  });
  it("plays at the requested speed anywhere in 1-120 steps per second, 3 by default", () => {
    const speed = (q: string): number => parseOptions(new URLSearchParams(q)).speed;
    expect(speed("")).toBe(3);
    expect([speed("speed=1"), speed("speed=40"), speed("speed=2.5"), speed("speed=120")]).toEqual([1, 40, 2.5, 120]);
    expect([speed("speed=0.5"), speed("speed=121"), speed("speed=fast")]).toEqual([3, 3, 3]);
  });
  it("turns data attributes into known URL parameters only", () => {
    const p = optionsFromDataset({ readonly: "", panes: "code,graph", step: "3", onclick: "alert(1)" });
    expect(p.toString()).toBe("readonly=1&panes=code%2Cgraph&step=3");
  });
});

describe("annotations", () => {
  const src = "import torch  # gradtrace: hide\nx = torch.ones(2, requires_grad=True)\n# gradtrace: pause\ny = x * 2\ny.sum().backward()  # gradtrace: pause\n";
  it("hides setup lines and marker-only lines; pauses apply to the next code line", () => {
    const a = parseAnnotations(src);
    expect([...a.hide].sort()).toEqual([1, 3]);
    expect([...a.pause].sort()).toEqual([4, 5]);
    expect(stripMarkers("y = x  # gradtrace: pause")).toBe("y = x");
  });
  it("hides the examples' metadata header", () => {
    const a = parseAnnotations("# title: t\n# description: d\n# tags: x\nimport torch\n# title: not a header\n");
    expect([...a.hide]).toEqual([1, 2, 3]);
  });
  it("marks every run of hidden code with a fold, trailing lines included, but not marker or header comments", () => {
    const src = [
      "# title: t", "import torch  # gradtrace: hide", "x = torch.ones(2, requires_grad=True)", "# gradtrace: pause",
      "y = (x * 2).sum()", "y.backward()", "x.grad = torch.zeros(2)  # gradtrace: hide", "", "print('fake')  # gradtrace: hide", "",
    ].join("\n");
    const lines = sourceLines(src);
    const a = parseAnnotations(src);
    expect([...a.hide].sort((p, q) => p - q)).toEqual([1, 2, 4, 7, 9]);
    // Line 1 (the header) joins the fold with line 2; line 4 (a pause marker) hides no code.
    expect(hiddenFolds(lines, a.hide)).toEqual([{ start: 1, end: 2 }, { start: 7, end: 9 }]);
    expect(hiddenFolds(sourceLines("# title: t\n# gradtrace: pause\nx = 1\n"), new Set([1, 2]))).toEqual([]);
    // Text after a marker-only comment may be a string's content: that line counts as code.
    expect(hiddenFolds(["s = '''", "# gradtrace: hide x.grad.fill_(0)", "'''"], new Set([2]))).toEqual([{ start: 2, end: 2 }]);
  });
  it("never strips code that follows a marker, and numbers lines as Python does", () => {
    expect(stripMarkers("y = x  # gradtrace: hide ")).toBe("y = x");
    expect(stripMarkers("s = '# gradtrace: pause'; x.grad.zero_()")).toBe("s = '# gradtrace: pause'; x.grad.zero_()");
    // Python ends a line at a lone CR; a browser would draw it as a space inside the comment.
    expect(sourceLines("x = 1  # ok\rx.grad = None\r\ny = 2")).toEqual(["x = 1  # ok", "x.grad = None", "y = 2"]);
    expect(parseAnnotations("a = 1\rb = 2  # gradtrace: hide\n").hide).toEqual(new Set([2]));
  });
  it("pause steps are just before the first event of each pause line", () => {
    const events = [{ seq: 0, kind: "leaf", line: 2 }, { seq: 1, kind: "node", line: 4 }, { seq: 2, kind: "node", line: 4 }, { seq: 3, kind: "backward_begin", line: 5 }] as Trace["events"];
    expect(pauseSteps(events, new Set([4, 5]))).toEqual([1, 3]);
  });
});

describe("predict mode", () => {
  it("asks which node runs next in backward, with the right answer among the choices", () => {
    const model = buildModel(load("l1_l4_graph.json"));
    const q = predictQuestions(model).find((x) => x.kind === "next_backward");
    expect(q).toBeDefined();
    const ev = model.trace.events[q!.index]!;
    expect(ev.kind).toBe("execute");
    expect(q!.answer).toBe(ev.node);
    expect(q!.choices.map((c) => c.id)).toContain(ev.node);
    expect(q!.choices.length).toBeGreaterThan(1);
    expect(grade(q!, ev.node!)).toBe(true);
    expect(grade(q!, q!.choices.find((c) => c.id !== ev.node)!.id)).toBe(false);
  });
  it("asks whether a leaf's grad will be None, answered from the accumulations", () => {
    const model = buildModel(load("detach.json"));
    const i = model.trace.events.findIndex((e) => e.kind === "backward_begin");
    const q = predictQuestions(model).find((x) => x.index === i)!;
    expect(q.kind).toBe("grad_none");
    expect(q.prompt).toMatch(/\.grad` be None\?/);
    const name = /`(.+)\.grad`/.exec(q.prompt)![1]!;
    const t = model.trace.tensors.find((x) => x.names?.[0] === name)!;
    expect(q.answer).toBe(t.grad ? "no" : "yes");
  });
  it("asks once whether a line will raise: before the failing pass, not again at its error step", () => {
    const model = buildModel(load("backward_twice.json"));
    const raise = predictQuestions(model).filter((q) => q.kind === "will_raise" && q.answer === "yes");
    expect(raise.map((q) => q.prompt)).toEqual(["Will line 12 raise an error?"]);
    expect(model.trace.events[raise[0]!.index]!.kind).toBe("backward_begin");
  });
  it("also asks before the pass that runs, so the answer is not always yes", () => {
    const model = buildModel(load("backward_twice.json"));
    const raise = predictQuestions(model).filter((q) => q.kind === "will_raise");
    const passes = model.trace.backward_passes;
    expect(raise.map((q) => [q.prompt, q.answer])).toEqual(
      passes.map((p) => [`Will line ${p.line} raise an error?`, p.error ? "yes" : "no"]),
    );
  });
  it("asks about a tensor's grad once, and follows `.grad = None` between passes", () => {
    // retain_graph: two passes over the same graph; `a` was asked about before the first.
    const twice = predictQuestions(buildModel(load("../../../tests/examples/golden/retain_graph.json")));
    expect(twice.filter((q) => q.kind === "grad_none").map((q) => q.prompt)).toEqual(["After this backward pass, will `a.grad` be None?"]);
  });
});

// Every built-in example, as the tracer wrote it (tests/examples/golden): the questions a class gets.
const goldenDir = new URL("../../tests/examples/golden/", import.meta.url);
const goldens = readdirSync(goldenDir).filter((f) => f.endsWith(".json"));

describe.each(goldens)("predict questions for the built-in example %s", (file) => {
  const trace = normalizeTrace(JSON.parse(readFileSync(new URL(file, goldenDir), "utf8")) as Trace);
  const model = buildModel(trace);
  const qs = predictQuestions(model);

  it("asks about each fact once, at most once per step, in timeline order", () => {
    expect(new Set(qs.map((q) => q.fact)).size).toBe(qs.length);
    const steps = qs.map((q) => q.index);
    expect(steps).toEqual([...new Set(steps)].sort((a, b) => a - b));
  });
  it("asks whether a failure will happen once per failure", () => {
    const raises = qs.filter((q) => q.kind === "will_raise" && q.answer === "yes");
    const failures = trace.backward_passes.filter((p) => p.error != null).length
      + (trace.events.some((e) => e.kind === "error") && !trace.backward_passes.some((p) => p.error != null) ? 1 : 0);
    expect(raises.length).toBe(failures);
  });
  it("offers choices a learner can tell apart, named as the graph names them, with the answer among them", () => {
    for (const q of qs) {
      const labels = q.choices.map((c) => c.label);
      expect(new Set(labels).size).toBe(labels.length);
      expect(q.choices.map((c) => c.id)).toContain(q.answer);
      for (const l of labels) expect(l).not.toMatch(/::|^n\d+$/);
      if (q.kind === "next_backward") {
        expect(q.answer).toBe(trace.events[q.index]!.node);
        for (const c of q.choices) expect(model.nodeById.has(c.id)).toBe(true);
        // Every wrong choice is still waiting for a gradient from a node that has not run:
        // it could not be the next one, whatever the engine's tie-break between ready nodes.
        const passIndex = trace.events[q.index]!.backward_pass;
        const ran = new Set(trace.events.slice(0, q.index)
          .filter((e) => e.kind === "execute" && e.backward_pass === passIndex).map((e) => e.node));
        const order = trace.backward_passes.find((p) => p.index === passIndex)?.order ?? [];
        for (const c of q.choices.filter((x) => x.id !== q.answer)) {
          const from = trace.edges.filter((e) => e.target === c.id && order.includes(e.source)).map((e) => e.source);
          expect(from.some((src) => !ran.has(src))).toBe(true);
        }
      }
    }
  });
  it("answers grad questions as the trace ends (one backward pass)", () => {
    if (trace.backward_passes.length !== 1) return;
    for (const q of qs.filter((x) => x.kind === "grad_none")) {
      const name = /`(.+)\.grad`/.exec(q.prompt)![1]!;
      const t = trace.tensors.find((x) => x.names?.[0] === name)!;
      expect(q.answer).toBe(t.grad ? "no" : "yes");
    }
  });
});

describe("the order of a next-node question's choices", () => {
  it("does not give the answer away: across the built-in examples it sits in every position", () => {
    const positions = new Map<number, number>();
    let asked = 0;
    for (const file of goldens) {
      const trace = normalizeTrace(JSON.parse(readFileSync(new URL(file, goldenDir), "utf8")) as Trace);
      for (const q of predictQuestions(buildModel(trace)).filter((x) => x.kind === "next_backward" && x.choices.length === 4)) {
        const at = q.choices.findIndex((c) => c.id === q.answer);
        positions.set(at, (positions.get(at) ?? 0) + 1);
        asked++;
      }
    }
    expect(asked).toBeGreaterThan(40);
    for (const at of [0, 1, 2, 3]) expect(positions.get(at) ?? 0).toBeGreaterThan(asked / 10);
  });
  it("is the same on every load", () => {
    expect(shuffled(["a", "b", "c", "d"], "execute:7")).toEqual(shuffled(["a", "b", "c", "d"], "execute:7"));
    expect(new Set(shuffled(["a", "b", "c", "d"], "execute:7"))).toEqual(new Set(["a", "b", "c", "d"]));
  });
});

describe("trace diff", () => {
  const a = load("detach.json");
  it("a trace against itself has no differences", () => {
    const d = diffTraces(a, a);
    expect(diffSummary(d)).toBe("0 added, 0 removed, 0 changed");
    expect([...d.a.values()].every((s) => s === "same")).toBe(true);
  });
  it("removing a node's input path marks added nodes and changed consumers", () => {
    // B = A without its last AccumulateGrad node (as if that input had been detached).
    const acc = a.nodes.filter((n) => n.kind === "accumulate_grad");
    expect(acc.length).toBeGreaterThan(0);
    const gone = acc[acc.length - 1]!.id;
    const b: Trace = { ...a, nodes: a.nodes.filter((n) => n.id !== gone), edges: a.edges.filter((e) => e.target !== gone && e.source !== gone) };
    const d = diffTraces(b, a);
    expect(d.added).toEqual([gone]);
    expect(d.removed).toEqual([]);
    const consumers = a.edges.filter((e) => e.target === gone).map((e) => e.source);
    expect(d.changed.map(([, y]) => y).sort()).toEqual([...new Set(consumers)].sort());
  });
});

describe("share snippets", () => {
  it("escape the code in the embed.js snippet and point at the same id", () => {
    const s = shareSnippets({ id: "ab12", source: "x = '<b>'\n", origin: "https://gt.example" }, "zQQ");
    expect(s.link).toBe("https://gt.example/t/ab12");
    expect(s.iframe).toContain('src="https://gt.example/embed?trace=ab12"');
    expect(s.script).toContain("<pre data-gradtrace data-readonly>x = '&lt;b&gt;'</pre>");
    expect(s.codeLink).toBe("https://gt.example/embed#code=zQQ");
  });
});
