// Typed fetch wrappers for the gradtrace REST API v1; non-2xx bodies become ApiError.
import type { ApiErrorBody, Example, ExampleInfo, ExampleList, TraceResponse } from "./types";

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly detail?: unknown) {
    super(message);
  }
}

const BASE = "api/v1";

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
