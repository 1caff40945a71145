// Typed fetch wrappers for the gradtrace REST API v1; non-2xx bodies become ApiError.
import type { ApiErrorBody, Example, ExampleInfo, ExampleList, TraceEvent, TraceResponse } from "./types";

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly detail?: unknown) {
    super(message);
  }
}

/** Worth trying again as it was: the service could not be reached (network, a stream cut
 *  short) or failed on its side (5xx, e.g. 503 while it restarts); not a request it refused. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof ApiError) return e.status === 0 || e.status >= 500;
  return e instanceof TypeError; // fetch() itself failed: offline, refused, DNS
}

// Absolute, like the asset URLs: pages at nested routes (/t/ID, /embed) reach the same API.
const BASE = "/api/v1";

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${BASE}${path}`, init);
  } catch (e) {
    throw new ApiError(0, "network", "The gradtrace service could not be reached. Is `gradtrace serve` running?", String(e));
  }
  if (!res.ok) {
    let body: ApiErrorBody | null = null;
    try { body = (await res.json()) as ApiErrorBody; } catch { /* not JSON */ }
    const err = body?.error;
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `HTTP ${res.status}`, err?.detail);
  }
  return (await res.json()) as T;
}

export function createTrace(source: string, signal?: AbortSignal): Promise<TraceResponse> {
  return request<TraceResponse>("/traces", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ source }),
    ...(signal ? { signal } : {}),
  });
}

export function getTrace(id: string): Promise<TraceResponse> {
  return request<TraceResponse>(`/traces/${encodeURIComponent(id)}`);
}

export async function listExamples(): Promise<ExampleInfo[]> {
  return (await request<ExampleList>("/examples")).examples;
}

export function getExample(name: string): Promise<Example> {
  return request<Example>(`/examples/${encodeURIComponent(name)}`);
}

export async function getDot(id: string): Promise<string> {
  const res = await fetch(`${BASE}/traces/${encodeURIComponent(id)}?format=dot`);
  if (!res.ok) throw new ApiError(res.status, `http_${res.status}`, `DOT export failed (HTTP ${res.status})`);
  return res.text();
}

export interface StreamHandlers {
  onEvent: (ev: TraceEvent) => void;
}

/** Parses complete SSE blocks out of `buf`; returns the unparsed rest. */
export function parseSse(buf: string, on: (event: string, data: string) => void): string {
  let idx: number;
  while ((idx = buf.indexOf("\n\n")) >= 0) {
    const block = buf.slice(0, idx);
    buf = buf.slice(idx + 2);
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // keep-alive comment
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (data.length) on(event, data.join("\n"));
  }
  return buf;
}

/**
 * POST /traces/stream: the timeline arrives event by event while the snippet runs (for live
 * progress), then the whole trace. Falls back to the plain POST if streaming is unavailable.
 */
export async function streamTrace(source: string, handlers: StreamHandlers): Promise<TraceResponse> {
  let res: Response;
  try {
    res = await fetch(`${BASE}/traces/stream`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ source }),
    });
  } catch {
    return createTrace(source);
  }
  if (res.status === 404 || res.status === 405 || !res.body) return createTrace(source);
  if (!res.ok) {
    let body: ApiErrorBody | null = null;
    try { body = (await res.json()) as ApiErrorBody; } catch { /* not JSON */ }
    const err = body?.error;
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `HTTP ${res.status}`, err?.detail);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let result: TraceResponse | null = null;
  let failure: ApiError | null = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (value) {
      buf = parseSse(buf + value, (event, data) => {
        if (event === "timeline") handlers.onEvent(JSON.parse(data) as TraceEvent);
        else if (event === "trace") result = JSON.parse(data) as TraceResponse;
        else if (event === "error") {
          const e = (JSON.parse(data) as ApiErrorBody).error;
          failure = new ApiError(500, e.code, e.message, e.detail);
        }
      });
    }
    if (done) break;
  }
  if (failure) throw failure;
  if (!result) throw new ApiError(0, "stream_ended", "The trace stream ended before the trace arrived. Try again.");
  return result;
}
