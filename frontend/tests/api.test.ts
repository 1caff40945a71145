// The SSE parser used for live progress: blocks, comments, partial chunks.
import { describe, expect, it } from "vitest";
import { parseSse } from "../src/api/client";

describe("parseSse", () => {
  it("parses complete blocks, skips keep-alive comments and keeps the partial rest", () => {
    const got: [string, string][] = [];
    const rest = parseSse('event: start\ndata: {"id":"a"}\n\n: keep-alive\n\nevent: timeline\nid: 3\ndata: {"seq":3}\n\nevent: tra', (e, d) => got.push([e, d]));
    expect(got).toEqual([["start", '{"id":"a"}'], ["timeline", '{"seq":3}']]);
    expect(rest).toBe("event: tra");
    const rest2 = parseSse(rest + 'ce\ndata: {"id":"a","trace":{}}\n\n', (e, d) => got.push([e, d]));
    expect(rest2).toBe("");
    expect(got[2]).toEqual(["trace", '{"id":"a","trace":{}}']);
  });
});
