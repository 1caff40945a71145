// Synthetic transformer-like traces of any size, for unit tests and the browser benchmark.
import type { Trace, TraceEdge, TraceEvent, TraceNode, TraceTensor } from "../api/types";

const OPS = ["AddmmBackward0", "ReluBackward0", "MulBackward0", "AddBackward0", "NativeLayerNormBackward0", "SoftmaxBackward0", "BmmBackward0", "ViewBackward0"];

/**
 * `n` grad_fn nodes in `layers` modules (model.layers.<i>.<sub>), each op consuming the previous
 * one (plus a skip connection every 4th op), one weight parameter per 8 ops, then one backward pass.
 */
export function syntheticTrace(n: number, opts: { modules?: boolean; backward?: boolean } = {}): Trace {
  const modules = opts.modules ?? true;
  const withBackward = opts.backward ?? true;
  const nodes: TraceNode[] = [];
  const edges: TraceEdge[] = [];
  const tensors: TraceTensor[] = [];
  const events: TraceEvent[] = [];
  const perLayer = Math.max(8, Math.ceil(n / Math.max(1, Math.round(n / 60))));
  const vs = (shape: number[]) => ({ shape, dtype: "torch.float32", numel: shape.reduce((a, b) => a * b, 1), values: null, min: -1, max: 1, mean: 0, std: 0.5 });
  let ops = 0, id = 0;
  const nid = () => "n" + id++;
  let prev: string | null = null;
  const opIds: string[] = [];
  while (ops < n) {
    const layer = Math.floor(ops / perLayer);
    const sub = ["attn", "ffn", "norm"][Math.floor((ops % perLayer) / Math.ceil(perLayer / 3))] ?? "ffn";
    const module = modules ? `model.layers.${layer}.${sub}` : null;
    const line = 10 + (ops % 7);
    const opId = nid();
    const name = OPS[ops % OPS.length]!;
    nodes.push({ id: opId, name, seq: nodes.length, kind: "op", line, module, op: name.replace(/Backward\d$/, "").toLowerCase(),
      saved: [{ name: "self", kind: "tensor", shape: [4, 64], dtype: "torch.float32", version_at_save: 0, version_now: 0, freed: false, stale: false }] } as TraceNode);
    events.push({ seq: events.length, kind: "node", line, node: opId, module } as TraceEvent);
    let k = 0;
    if (prev) edges.push({ source: opId, target: prev, input_nr: 0, index: k++ });
    if (ops % 4 === 3 && opIds.length > 3) edges.push({ source: opId, target: opIds[opIds.length - 3]!, input_nr: 0, index: k++ });
    if (ops % 8 === 0) {
      const tid = "t" + tensors.length;
      const pname = modules ? `${module}.weight` : `w${tensors.length}`;
      tensors.push({ id: tid, names: [pname], shape: [64, 64], dtype: "torch.float32", requires_grad: true, is_leaf: true, version: 0, grad_fn: null, grad: withBackward ? vs([64, 64]) : null, value: vs([64, 64]), is_parameter: true } as TraceTensor);
      const acc = nid();
      nodes.push({ id: acc, name: "torch::autograd::AccumulateGrad", seq: nodes.length, kind: "accumulate_grad", line: null, module, saved: [], variable: tid } as unknown as TraceNode);
      edges.push({ source: opId, target: acc, input_nr: 0, index: k++ });
    }
    opIds.push(opId);
    prev = opId;
    ops++;
  }
  const lossT = "t" + tensors.length;
  tensors.push({ id: lossT, names: ["loss"], shape: [], dtype: "torch.float32", requires_grad: true, is_leaf: false, version: 0, grad_fn: prev, grad: null, value: vs([]) } as unknown as TraceTensor);
  const order: string[] = [];
  if (withBackward) {
    events.push({ seq: events.length, kind: "backward_begin", line: 30, backward_pass: 0 } as TraceEvent);
    // Reverse creation order is a valid engine order for this graph.
    const incoming = new Map<string, string[]>();
    for (const e of edges) { const l = incoming.get(e.source) ?? []; l.push(e.target); incoming.set(e.source, l); }
    for (let i = nodes.length - 1; i >= 0; i--) {
      const nd = nodes[i]!;
      order.push(nd.id);
      events.push({ seq: events.length, kind: "execute", line: 30, node: nd.id, backward_pass: 0, grads: [vs([4, 64])], sent: (incoming.get(nd.id) ?? []).map(() => vs([4, 64])) } as TraceEvent);
      if (nd.kind === "accumulate_grad") events.push({ seq: events.length, kind: "accumulate", line: 30, node: nd.id, tensor: nd.variable, backward_pass: 0, before: null, after: vs([64, 64]) } as TraceEvent);
    }
    events.push({ seq: events.length, kind: "free", line: 30, nodes: opIds, backward_pass: 0 } as TraceEvent);
    events.push({ seq: events.length, kind: "backward_end", line: 30, backward_pass: 0 } as TraceEvent);
  }
  return {
    schema_version: "1", torch_version: "synthetic", status: "ok", error: null, tensors, nodes, edges,
    backward_passes: withBackward ? [{ index: 0, api: "Tensor.backward", line: 30, retain_graph: false, create_graph: false, roots: [lossT], order, error: null }] : [],
    events, stdout: "", stderr: "", truncated: false,
  } as Trace;
}
