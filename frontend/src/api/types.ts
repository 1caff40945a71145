// Names for the generated OpenAPI types, so the rest of the app never touches schema.gen.ts paths.
import type { components } from "./schema.gen";

type S = components["schemas"];

export type Trace = S["Trace"] & { id?: string };
export type TraceNode = S["Node"];
export type TraceEdge = S["Edge"];
export type TraceTensor = S["Tensor"];
export type TraceEvent = S["Event"];
export type TraceError = S["TraceError"];
export type BackwardPass = S["BackwardPass"];
export type SavedTensor = S["SavedTensor"];
export type ValueSummary = S["ValueSummary"];
export type Explanation = S["Explanation"];
export type EventKind = TraceEvent["kind"];
export type TraceStatus = Trace["status"];

/** An entry of GET /api/v1/examples. */
export interface ExampleInfo {
  name: string;
  title: string;
  description: string;
}

/** GET /api/v1/examples/{name}. */
export interface Example extends ExampleInfo {
  source: string;
}

/** The service's error envelope for every non-2xx response. */
export interface ApiErrorBody {
  error: { code: string; message: string; detail?: unknown };
}
