// The playground's run status and when a failure is explained (pure pieces, no DOM).
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type { Trace } from "../src/api/types";
import { normalizeTrace } from "../src/graph/model";
import { explainFromStep } from "../src/view/panels";
import { RunProgress } from "../src/view/runProgress";

const fixture = (name: string): Trace => normalizeTrace(JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8")) as Trace);

describe("RunProgress", () => {
  const setup = () => {
    const queued: (() => void)[] = [];
    const shown: [string, number | null][] = [];
    const p = new RunProgress((text, line) => shown.push([text, line]), (cb) => queued.push(cb));
    const flush = (): void => { for (const cb of queued.splice(0)) cb(); };
    return { p, shown, flush, queued };
  };
  it("shows the count once a frame, with the last line", () => {
    const { p, shown, flush, queued } = setup();
    p.event({ kind: "leaf", line: 2 });
    p.event({ kind: "node", line: 3 });
    expect(queued).toHaveLength(1);
    flush();
    expect(shown).toEqual([["Running… 2 events, 1 node, line 3", 3]]);
  });
  it("does nothing once the run finished, even for a frame queued before", () => {
    const { p, shown, flush } = setup();
    p.event({ kind: "node", line: 8 });
    p.finish(); // the final status is set now; the queued frame must not overwrite it
    flush();
    p.event({ kind: "node", line: 9 });
    flush();
    expect(shown).toEqual([]);
    expect(p.done).toBe(true);
  });
});

describe("explainFromStep", () => {
  it("explains an error from the step that raised it, not before", () => {
    const t = fixture("inplace_version_error");
    const errIdx = t.events.findIndex((e) => e.kind === "error");
    expect(errIdx).toBeGreaterThan(0);
    expect(explainFromStep(t, t.events.length)).toBe(errIdx + 1);
  });
  it("explains an error without an error event (a syntax error) at the end; an ok run never", () => {
    const t = fixture("inplace_version_error");
    const noEvent = { ...t, events: t.events.filter((e) => e.kind !== "error") };
    expect(explainFromStep(noEvent, 7)).toBe(7);
    expect(explainFromStep({ ...t, error: null, status: "ok", truncated: false, events: noEvent.events }, 7)).toBe(Infinity);
  });
});
