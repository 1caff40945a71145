// Names for the generated types, so the rest of the app never touches the .gen.ts files.
import type { components } from "./schema.gen";
import type { components as modelComponents } from "./trace-model.gen";

type S = components["schemas"];
// The trace document's types come from the models' validation-mode schema: sparse models (Event,
// ValueSummary drop unset fields with a custom serializer) appear in the OpenAPI as open objects.
type M = modelComponents["schemas"];

type Lists = "nodes" | "edges" | "tensors" | "events" | "backward_passes";
/** The lists always exist after normalizeTrace() (the server always sends them). */
export type Trace = Omit<M["Trace"], Lists> & Required<Pick<M["Trace"], Lists>> & { id?: string };
export type RawTrace = M["Trace"];
export type TraceNode = M["Node"];
export type TraceEdge = M["Edge"];
export type TraceTensor = M["Tensor"];
export type TraceEvent = M["Event"];
export type TraceError = M["TraceError"];
export type BackwardPass = M["BackwardPass"];
export type SavedTensor = M["SavedTensor"];
export type ValueSummary = M["ValueSummary"];
export type Explanation = M["Explanation"];
export type EventKind = TraceEvent["kind"];
export type TraceStatus = Trace["status"];

export type TraceResponse = Omit<S["TraceResponse"], "trace"> & { trace: Trace };
export type ExampleInfo = S["ExampleSummary"];
export type Example = S["ExampleDetail"];
export type ExampleList = S["ExampleList"];
export type ApiErrorBody = S["ErrorEnvelope"];
export type Health = S["Health"];
