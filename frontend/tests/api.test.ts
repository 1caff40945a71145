// The SSE parser used for live progress: blocks, comments, partial chunks.
import { describe, expect, it } from "vitest";
import { ApiError, isRetryable, parseSse } from "../src/api/client";

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

describe("isRetryable", () => {
  it("is true when the service was unreachable or failed, false when it refused the request", () => {
    expect(isRetryable(new ApiError(0, "network", "unreachable"))).toBe(true);
    expect(isRetryable(new ApiError(503, "unavailable", "restarting"))).toBe(true);
    expect(isRetryable(new ApiError(500, "internal", "bug"))).toBe(true);
    expect(isRetryable(new TypeError("Failed to fetch"))).toBe(true);
    expect(isRetryable(new ApiError(413, "payload_too_large", "too big"))).toBe(false);
    expect(isRetryable(new ApiError(429, "rate_limited", "slow down"))).toBe(false);
    expect(isRetryable(new Error("The code in this link is damaged"))).toBe(false);
  });
});
