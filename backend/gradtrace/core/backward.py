"""Backward passes: record the engine's true execution order, grads, accumulation, frees.

Before the real call we walk the graph from the roots, flag nodes whose saved tensors are
already stale, and make sure every node carries our prehook and hook (how PyTorch's own
autograd logging works). The hooks only read, and only while one of our passes runs: a
node keeps them for life and they report to the current pass. The real API is then called
with the caller's arguments, unchanged.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

from gradtrace.core import errors, graph
from gradtrace.core.recorder import PlainGradient, Recorder
from gradtrace.core.summary import dtype_name, summarize

# Parameter order of each backward API, so positional and keyword calls bind the same way.
_PARAMS = {
    "Tensor.backward": ("self", "gradient", "retain_graph", "create_graph", "inputs"),
    "torch.autograd.backward": ("tensors", "grad_tensors", "retain_graph", "create_graph", "grad_variables", "inputs"),
    "torch.autograd.grad": (
        "outputs", "inputs", "grad_outputs", "retain_graph", "create_graph", "only_inputs", "allow_unused",
        "is_grads_batched", "materialize_grads",
    ),
}


def _bind(api: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    params = dict(zip(_PARAMS[api], args, strict=False))
    params.update(kwargs)
    return params


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return list(value.values())
    try:
        return list(value)
    except TypeError:
        return [value]


def _small(t: Any, shapes: dict[tuple[Any, Any], dict[str, Any]]) -> dict[str, Any] | None:
    """Grad summary for the hot path: values for small tensors, shape only otherwise.

    Shape-only summaries are shared through `shapes` (the recorder's, one per trace): a
    pass sends the same few shapes thousands of times, and nothing edits a summary
    without values.
    """
    if not isinstance(t, torch.Tensor):
        return None
    numel = t.numel()
    if numel <= 16 or t.is_nested:  # (a strided nested tensor has no .shape)
        return summarize(t)
    key = (t.shape, t.dtype)
    found = shapes.get(key)
    if found is None:
        found = shapes[key] = {"shape": list(t.shape), "dtype": dtype_name(t.dtype), "numel": numel}
    return found


def run(rec: Recorder, api: str, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run one backward API call under observation."""
    params = _bind(api, args, kwargs)
    if api == "Tensor.backward":
        roots = [params.get("self")]
        inputs = _as_list(params.get("inputs"))
    elif api == "torch.autograd.backward":
        roots = _as_list(params.get("tensors"))
        inputs = _as_list(params.get("inputs"))
    else:
        roots = _as_list(params.get("outputs"))
        inputs = _as_list(params.get("inputs"))
    create_graph = bool(params.get("create_graph") or False)
    retain = params.get("retain_graph")
    retain_graph = bool(create_graph if retain is None else retain)

    rec.suspended += 1
    try:
        with graph.quiet():  # our reads must not run the snippet's code
            ctx = rec.context(api)
            index = rec.pass_count
            root_tensors = [t for t in roots if isinstance(t, torch.Tensor)]
            root_nodes = [t.grad_fn for t in root_tensors if t.grad_fn is not None]
            # Leaves as roots (v.backward(g) on a leaf) run their AccumulateGrad only.
            for t in root_tensors:
                if t.grad_fn is None and t.requires_grad:
                    acc = _grad_accumulator(t)
                    if acc is not None:
                        root_nodes.append(acc)
            new = rec.discover(root_nodes, ctx, {id(t.grad_fn): t for t in root_tensors if t.grad_fn is not None})
            rec.emit_nodes(new, ctx)
            nodes = graph.reachable(root_nodes)
            record: dict[str, Any] = {
                "index": index,
                "api": api,
                "line": ctx.line,
                "retain_graph": retain_graph,
                "create_graph": create_graph,
                "roots": [rec.tensor_id(t) for t in root_tensors],
                "inputs": [rec.tensor_id(t) if isinstance(t, torch.Tensor) else None for t in inputs],
                "order": [],
                "received": [],
                "accumulated": [],
                "freed": [],
                "created_nodes": [],
                "stale_nodes": [],
                "results": [],
                "error": None,
            }
            rec.add_pass(record)
            outer = (rec.current_pass, rec.executing)  # a pass run inside another's backward nests
            rec.current_pass = record
            rec.executing = {}
            rec.emit("backward_begin", ctx.line, backward_pass=index, op=api, tensors=[r for r in record["roots"] if r])
            known = [(node, num) for node in nodes if (num := rec.node_num(node)) is not None]
            for node, _ in known:
                nrec = rec.refresh_saved(node) if rec.maybe_stale(node) else None
                if nrec is not None and nrec.stale:
                    record["stale_nodes"].append(nrec.id)
                    rec.emit_stale(nrec, ctx.line)
            # Each node gets our two hooks once, the first time a pass can reach it; they report to
            # whichever pass is running and do nothing outside one (registering and removing them
            # per pass cost more than the hooks themselves).
            hooked = rec.hooked
            for node, num in known:
                if num not in hooked:
                    hooked.add(num)
                    var = getattr(node, "variable", None)
                    var = var if isinstance(var, torch.Tensor) else None
                    node.register_prehook(_prehook(rec, num, f"n{num}", var))
                    node.register_hook(_posthook(rec, num, f"n{num}", var))
    finally:
        rec.suspended -= 1

    try:
        result = func(*args, **kwargs)
    except BaseException as exc:
        rec.suspended += 1
        try:
            with graph.quiet():
                # A write made during this pass (a tensor hook's x.mul_()) can break a node's
                # saved value after the check before the pass: re-read the failing node's.
                for node, num in known:
                    if num in rec.executing and rec.maybe_stale(node):
                        rec.refresh_saved(node)
                record["error"] = errors.describe(rec, exc, record)
                _finish(rec, record, known, ctx.line, retain_graph, failed=True)
        finally:
            rec.suspended -= 1
            rec.current_pass, rec.executing = outer
        raise
    rec.suspended += 1
    try:
        with graph.quiet():
            if api == "torch.autograd.grad":
                record["results"] = [_small(r, rec.grad_shapes) for r in _as_list(result)]
                plain = [r for r in _as_list(result) if isinstance(r, torch.Tensor) and r.grad_fn is None]
                if plain:
                    cut = _once_differentiable(known) if create_graph else ()
                    rec.plain_gradients.extend(PlainGradient(weakref.ref(r), ctx.line, create_graph, cut) for r in plain)
            if create_graph:
                grads = [r for r in _as_list(result) if isinstance(r, torch.Tensor)]
                grads += [t.grad for t in _leaves(nodes) if t.grad is not None]
                # Under torch.func.grad a result wraps the tensors of outer levels: the nodes
                # this pass built for a closed-over leaf are on those, and are this line's.
                layers = [layer for g in grads for layer in graph.functorch_layers(g)]
                fresh = rec.discover([g.grad_fn for g in layers if g.grad_fn is not None], ctx, None, created_by_pass=index)
                # (Nodes that Python code inside the pass built are in created_nodes already.)
                record["created_nodes"] += [n.id for n in fresh]
                rec.emit_nodes(fresh, ctx, index)
            _finish(rec, record, known, ctx.line, retain_graph, failed=False)
    finally:
        rec.suspended -= 1
        rec.current_pass, rec.executing = outer
    return result


def _once_differentiable(known: list[tuple[Any, int]]) -> tuple[str, ...]:
    """Names of the pass's custom Function nodes whose backward is wrapped by
    `@once_differentiable` (it runs under no_grad, so create_graph builds nothing through it)."""
    names = []
    for node, _ in known:
        backward_fn = getattr(getattr(type(node), "_forward_cls", None), "backward", None)
        code = getattr(backward_fn, "__code__", None)
        if code is not None and code.co_name == "wrapper" and code.co_filename == _FUNCTION_FILE:
            names.append(node.name())
    return tuple(dict.fromkeys(names))


_FUNCTION_FILE = torch.autograd.function.__file__


def _grad_accumulator(t: torch.Tensor) -> Any:
    try:
        return torch.autograd.graph.get_gradient_edge(t).node
    except Exception:
        return None


def _leaves(nodes: list[Any]) -> list[torch.Tensor]:
    out = []
    for node in nodes:
        var = getattr(node, "variable", None)
        if isinstance(var, torch.Tensor):
            out.append(var)
    return out


# The hooks stay on their node for life, so they hold the recorder weakly: the recorder holds
# the snippet's namespace, which holds the graph, and a cycle through C++ hooks is one the
# garbage collector cannot see (it would keep every traced snippet alive).


def _prehook(rec: Recorder, num: int, nid: str, var: torch.Tensor | None) -> Any:
    # Hot: runs once per executed node. Only reads.
    rec_ref = weakref.ref(rec)
    limits = rec.limits

    def hook(grad_outputs: Any) -> None:
        rec = rec_ref()
        record = rec.current_pass if rec is not None else None
        if rec is None or record is None:  # a pass we do not observe (or the trace is over)
            return
        # Our mode is on the stack during a pass (see instrument.engine_run); our own reads
        # skip torch-function dispatch altogether (suspending would still pay for it).
        with torch._C.DisableTorchFunction():
            _record_execute(rec, record, num, nid, var, grad_outputs, limits)

    return hook


def _record_execute(
    rec: Recorder, record: dict[str, Any], num: int, nid: str, var: torch.Tensor | None, grad_outputs: Any, limits: Any
) -> None:
    shapes = rec.grad_shapes
    grads = [_small(g, shapes) for g in grad_outputs]
    # A pass over a huge graph keeps its full order up to the node cap, and the
    # gradients received for the first nodes only (the execute events carry the rest).
    order = record["order"]
    if len(order) < limits.max_nodes:
        order.append(nid)
    else:
        record["order_elided"] = record.get("order_elided", 0) + 1
    if len(record["received"]) < limits.max_pass_details:
        record["received"].append({"node": nid, "grads": grads})
    event = rec.push(
        {"seq": 0, "kind": "execute", "line": record["line"], "node": nid, "backward_pass": record["index"], "grads": grads}
    )
    rec.executing[num] = (event, _small(var.grad, shapes) if var is not None else None)


def _posthook(rec: Recorder, num: int, nid: str, var: torch.Tensor | None) -> Any:
    rec_ref = weakref.ref(rec)
    limits = rec.limits

    def hook(grad_inputs: Any, _grad_outputs: Any) -> None:
        rec = rec_ref()
        record = rec.current_pass if rec is not None else None
        if rec is None or record is None:
            return
        with torch._C.DisableTorchFunction():  # as in the pre hook
            _record_done(rec, record, num, nid, var, grad_inputs, limits)

    return hook


def _record_done(
    rec: Recorder, record: dict[str, Any], num: int, nid: str, var: torch.Tensor | None, grad_inputs: Any, limits: Any
) -> None:
    state = rec.executing.pop(num, None)
    if state is not None and grad_inputs:
        state[0]["sent"] = [_small(g, rec.grad_shapes) for g in grad_inputs]
    if var is not None:
        after = _small(var.grad, rec.grad_shapes)
        before = state[1] if state is not None else None
        tid = rec.tensor_id(var)
        if len(record["accumulated"]) < limits.max_pass_details:
            record["accumulated"].append({"node": nid, "tensor": tid, "before": before, "after": after})
        rec.emit("accumulate", record["line"], node=nid, tensor=tid, backward_pass=record["index"], before=before, after=after)


def _finish(
    rec: Recorder,
    record: dict[str, Any],
    known: list[tuple[Any, int]],
    line: int | None,
    retain_graph: bool,
    failed: bool,
) -> None:
    running = set(rec.executing)  # pre hook ran, post hook did not: the node that raised
    if not retain_graph:
        executed = set(record["order"])
        freed = []
        for _, num in known:
            nid = f"n{num}"
            if nid not in executed or num in running:
                continue
            # The engine releases the saved variables of every node it ran to the end
            # (keep_graph=False); one that raised keeps them.
            nrec = rec.nodes.get(num)
            if nrec is None:
                continue
            tensors = [e for e in nrec.saved if e["kind"] == "tensor"]
            if tensors:
                for e in tensors:
                    e["freed"] = True
                nrec.released = True
                freed.append(nid)
        record["freed"] = freed
        if freed:
            seq = rec.emit("free", line, backward_pass=record["index"], nodes=freed)["seq"]
            for nid in freed:
                rec.freed_at[int(nid[1:])] = seq
    if not failed:
        rec.emit("backward_end", line, backward_pass=record["index"])
