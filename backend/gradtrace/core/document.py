"""Build the trace document from a finished recording: final graph walk, names, caps.

After the snippet ends we walk every graph still alive (from every tensor we know that is
still alive, and every tensor the learner can name), re-read saved tensors for their final
version/freed state, name tensors from the snippet's variables and module attributes, and
assemble plain dicts in a stable order. `shrink` keeps the JSON under its byte cap.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import orjson
import torch

from gradtrace.core import graph
from gradtrace.core.recorder import SNIPPET_FILENAME, Recorder, mapping_items, scope_items, submodules
from gradtrace.core.summary import shape_of, summarize


def collect_names(scopes: list[dict[str, Any]]) -> list[tuple[str, torch.Tensor]]:
    """(name, tensor) for every tensor a learner can name, in a stable order."""
    found: list[tuple[str, torch.Tensor]] = []
    for scope in scopes:
        for var, value in scope_items(scope):
            if issubclass(type(value), torch.Tensor):
                found.append((var, value))
            else:
                found.extend(_module_tensors(var, value))
    return found


def _module_tensors(prefix: str, module: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    out: list[tuple[str, torch.Tensor]] = []
    for sub_name, sub in submodules(prefix, module):
        for pname, p in mapping_items(vars(sub).get("_parameters")):
            if p is not None:
                out.append((f"{sub_name}.{pname}", p))
        for bname, b in mapping_items(vars(sub).get("_buffers")):
            if b is not None:
                out.append((f"{sub_name}.{bname}", b))
        for attr, v in vars(sub).items():
            if issubclass(type(v), torch.Tensor) and type(attr) is str and not attr.startswith("_"):
                out.append((f"{sub_name}.{attr}", v))
    return out


def _date_rebuilt_views(rec: Recorder) -> None:
    """A view written in place gets a new grad_fn (AsStridedBackward0) that autograd builds
    when the view is next read; a view never read again is first seen by the final walk,
    with no line. Its node gets the line and op of the write that made it."""
    for trec in list(rec.tensor_by_num.values()):
        t = trec.ref() if trec.versions else None
        if t is None or not t._is_view():
            continue
        gf = grad_fn_of(t)
        num = rec.node_num(gf) if gf is not None else None
        nrec = rec.nodes.get(num) if num is not None else None
        if nrec is None or nrec.line is not None:
            continue
        last = trec.versions[-1]
        event = next((e for e in itertools.chain(rec.events_head, rec.events_tail) if e["seq"] == last), None)
        if event is not None:
            nrec.line, nrec.op = event["line"], event.get("op")


def grad_fn_of(t: torch.Tensor) -> Any:
    """`t.grad_fn`, or None where reading it raises: a view made under no_grad whose base was
    then changed in place with grad on (the snippet's own error, which it has already seen)."""
    try:
        return t.grad_fn
    except RuntimeError:
        return None


def _tensor_dict(
    rec: Recorder, num: int, t: torch.Tensor, names: list[str], kept_seqs: set[int], bumps: dict[int, list[int]]
) -> dict[str, Any]:
    try:
        version: int | None = int(t._version)
    except Exception:
        version = None
    try:
        gf = t.grad_fn
        is_leaf = bool(t.is_leaf)
        readable = True
    except RuntimeError:  # a broken view, see grad_fn_of (once it has raised, is_leaf may not)
        gf, is_leaf, readable = None, True, False
    grad = None
    if readable and (is_leaf or t.retains_grad):  # (a broken view's .grad only warns)
        grad = summarize(t.grad) if t.grad is not None else None
    trec = rec.tensor_by_num.get(num)
    return {
        "id": f"t{num}",
        "names": names,
        "shape": shape_of(t),
        "dtype": str(t.dtype),
        "device": str(t.device),
        "requires_grad": bool(t.requires_grad),
        "is_leaf": is_leaf,
        "retains_grad": bool(t.retains_grad),
        "version": version,
        "grad_fn": rec.node_id(gf) if gf is not None else None,
        "grad": grad,
        # Statistics of big values only where a learner looks: named tensors and leaves (an
        # unnamed activation saved by the graph costs a full pass over its data otherwise).
        "value": summarize(t, stats=bool(names) or is_leaf),
        "is_parameter": isinstance(t, torch.nn.Parameter),
        "inference": bool(t.is_inference()),
        "versions": _versions(rec, t, trec, kept_seqs, bumps),
    }


def _versions(
    rec: Recorder, t: torch.Tensor, trec: Any, kept_seqs: set[int], bumps: dict[int, list[int]]
) -> list[int]:
    """Seqs of the kept in-place events that bumped `t`'s version counter: its own writes,
    and writes through a view of it, its base or a detached alias (they share the counter)."""
    try:
        owner = rec.counter_owner(t, create=False)
    except Exception:  # a broken view can refuse `_base`
        owner = None
    if owner is not None and owner in bumps:
        return bumps[owner]
    return [s for s in trec.versions if s in kept_seqs] if trec else []


def _bumps_by_counter(rec: Recorder, kept_seqs: set[int]) -> dict[int, list[int]]:
    """Kept in-place event seqs per version-counter owner (see `Recorder.event_family`)."""
    bumps: dict[int, list[int]] = {}
    for seq, owner in sorted(rec.event_family.items()):
        if seq in kept_seqs:
            bumps.setdefault(owner, []).append(seq)
    return bumps


def graph_dicts(rec: Recorder, live_ids: set[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The document's `nodes` and `edges` from the kept node records, in creation order."""
    kept_nums = set(rec.nodes)
    nodes = []
    edges = []
    for num in sorted(kept_nums):
        n = rec.nodes[num]
        n.alive = num in live_ids
        nid = f"n{num}"
        nodes.append(
            {
                "id": nid,
                "name": n.name,
                "seq": n.num,
                "sequence_nr": n.sequence_nr,
                "kind": n.kind,
                "line": n.line,
                "stack": n.stack,
                "module": n.module,
                "op": n.op,
                "saved": n.saved,
                "variable": n.variable,
                "output": n.output,
                "created_by_pass": n.created_by_pass,
                "alive": n.alive,
                "released": n.released,
                "stale": n.stale,
            }
        )
        for index, target, input_nr in n.edges:
            if target in kept_nums:
                edges.append({"source": nid, "target": f"n{target}", "input_nr": input_nr, "index": index})
    return nodes, edges


def build(
    rec: Recorder,
    *,
    scopes: list[dict[str, Any]],
    status: str,
    error: dict[str, Any] | None,
    stdout: str,
    stderr: str,
    torch_version: str,
    source_lines: int,
    truncation: dict[str, Any],
    named: list[tuple[str, torch.Tensor]] | None = None,
) -> dict[str, Any]:
    """The trace document; `named` is `collect_names(scopes)` when the caller has it already."""
    if named is None:
        named = collect_names(scopes)
    # Every graph still alive: from known live tensors and from named ones.
    roots = []
    for trec in list(rec.tensor_by_num.values()):
        t = trec.ref()
        if t is not None:
            roots.append(grad_fn_of(t))
    roots += [grad_fn_of(t) for _, t in named]
    live = graph.reachable(roots)
    rec.discover(live, None)  # nodes built where we could not see them (rare)
    _date_rebuilt_views(rec)
    live_ids: set[int] = set()
    for node in live:
        num = rec.node_num(node)
        if num is None:
            continue
        live_ids.add(num)
        # Only an in-place op since creation can have moved a saved tensor's version; freed
        # buffers were marked by the pass that freed them. Others need no second read.
        if rec.maybe_stale(node):
            rec.refresh_saved(node)

    # Tensors: named ones, leaves of kept nodes, and every tracked tensor still alive.
    names_by_num: dict[int, list[str]] = {}
    tensors_by_num: dict[int, torch.Tensor] = {}
    for name, t in named:
        named_rec = rec.tensor_record(t)
        assert named_rec is not None
        if name not in names_by_num.setdefault(named_rec.num, []):
            names_by_num[named_rec.num].append(name)
        tensors_by_num[named_rec.num] = t
    for num, trec in list(rec.tensor_by_num.items()):
        t = trec.ref()
        if t is not None:
            tensors_by_num.setdefault(num, t)
    tensor_nums = sorted(tensors_by_num)
    tensors_elided = max(0, len(tensor_nums) - rec.limits.max_tensors)
    if tensors_elided:
        # Keep named tensors first, then the earliest others.
        named_nums = [n for n in tensor_nums if n in names_by_num]
        others = [n for n in tensor_nums if n not in names_by_num]
        tensor_nums = sorted((named_nums + others)[: rec.limits.max_tensors])
    events = rec.all_events()
    kept_seqs = {e["seq"] for e in events}
    bumps = _bumps_by_counter(rec, kept_seqs)
    tensors = [_tensor_dict(rec, n, tensors_by_num[n], names_by_num.get(n, []), kept_seqs, bumps) for n in tensor_nums]

    nodes, edges = graph_dicts(rec, live_ids)

    truncation = dict(truncation)
    truncation["nodes_elided"] = rec.nodes_elided + rec.nodes_cut
    truncation["events_elided"] = max(0, rec.event_count - len(rec.events_head) - len(rec.events_tail))
    truncation["tensors_elided"] = tensors_elided
    reasons = list(truncation.get("reasons", []))
    if rec.nodes_elided:
        reasons.append(
            f"{rec.nodes_elided} nodes of graphs that no longer exist were left out (kept: those of the"
            f" timeline's first steps and the {rec.limits.max_recent_dead_nodes} most recent)"
        )
    if rec.nodes_cut:
        reasons.append(
            f"{rec.nodes_cut} nodes in the middle of a graph bigger than the cap ({rec.limits.max_nodes}) were left out:"
            " the nodes made first and the latest ones are kept"
        )
    if truncation["events_elided"]:
        reasons.append(f"{truncation['events_elided']} timeline events in the middle of the run were left out")
    truncation["passes_elided"] = rec.passes_elided
    if rec.passes_elided:
        reasons.append(f"{rec.passes_elided} backward passes in the middle of the run were left out")
    if tensors_elided:
        reasons.append(f"{tensors_elided} tensors were left out (cap {rec.limits.max_tensors})")
    truncation["reasons"] = reasons
    return {
        "schema_version": "1",
        "torch_version": torch_version,
        "status": status,
        "error": error,
        "tensors": tensors,
        "nodes": nodes,
        "edges": edges,
        "backward_passes": rec.passes,
        "events": events,
        "stdout": stdout,
        "stderr": stderr,
        "truncated": bool(reasons),
        "truncation": truncation,
        "source_lines": source_lines,
    }


def _drop_values(obj: Any) -> None:
    """Remove element values from every summary (keeps shapes and statistics)."""
    if isinstance(obj, dict):
        if "numel" in obj and "values" in obj:
            obj["values"] = None
        for v in obj.values():
            _drop_values(v)
    elif isinstance(obj, list):
        for v in obj:
            _drop_values(v)


def scrub(obj: Any) -> Any:
    """A copy with every lone surrogate in strings (and keys) replaced by "?".

    Python strings may hold them (a snippet can print "\\ud800"), UTF-8 and strict JSON
    parsers cannot; only called when a document would not serialize.
    """
    if isinstance(obj, str):
        return obj.encode("utf-8", "replace").decode("utf-8")
    if isinstance(obj, dict):
        return {scrub(k): scrub(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub(v) for v in obj]
    return obj


def encode(doc: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON of a document; its length is what the byte caps count.

    orjson: ~10x the stdlib encoder on traces (many small dicts). It refuses lone
    surrogates (a snippet can print "\\ud800"), so those documents are scrubbed first, and
    integers past 64 bits, which the stdlib encoder writes. Summaries spell non-finite floats
    as strings, so no NaN reaches here.
    """
    try:
        return orjson.dumps(doc)
    except orjson.JSONEncodeError:
        text = json.dumps(scrub(doc), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode()


def size_of(doc: dict[str, Any]) -> int:
    return len(encode(doc))


def shrink(doc: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """Cut the document until it fits, saying what was cut. The graph alive at the end goes last."""
    if size_of(doc) <= max_bytes:
        return doc
    doc["truncated"] = True
    # Said first: the sentence counts towards the size it is about.
    doc["truncation"]["reasons"].append(f"the trace was reduced to fit {max_bytes} bytes of JSON")
    steps = [
        _cut_event_values, _cut_events, _cut_dead_nodes, _cut_all_values, _cut_nodes, _cut_output, _halve_all, _cut_text
    ]
    for step in steps:
        step(doc, max_bytes)
        if size_of(doc) <= max_bytes:
            break
    return doc


def _cut_event_values(doc: dict[str, Any], _max_bytes: int) -> None:
    _drop_values(doc["events"])
    _drop_values(doc["backward_passes"])
    doc["truncation"]["values_dropped"] = True


def _cut_events(doc: dict[str, Any], _max_bytes: int) -> None:
    events = doc["events"]
    if len(events) > 2000:
        keep = events[:1000] + events[-1000:]
        doc["truncation"]["events_elided"] += len(events) - len(keep)
        marker = {"seq": keep[999]["seq"] + 1, "kind": "elided", "line": None, "count": len(events) - len(keep)}
        doc["events"] = keep[:1000] + [marker] + keep[1000:] if marker["seq"] < keep[1000]["seq"] else keep


def _cut_dead_nodes(doc: dict[str, Any], _max_bytes: int) -> None:
    before = len(doc["nodes"])
    doc["nodes"] = [n for n in doc["nodes"] if n["alive"]]
    _fix_edges(doc)
    doc["truncation"]["nodes_elided"] += before - len(doc["nodes"])


def _cut_all_values(doc: dict[str, Any], _max_bytes: int) -> None:
    _drop_values(doc)
    for p in doc["backward_passes"]:
        p["received"] = []
    doc["truncation"]["values_dropped"] = True


def _cut_nodes(doc: dict[str, Any], max_bytes: int) -> None:
    """Halve the node list until the document fits, cutting its middle: the first nodes (the
    leaves, where construction began) and the latest (where backward begins) stay."""
    cut = 0
    while size_of(doc) > max_bytes and len(doc["nodes"]) > 100:
        nodes = doc["nodes"]
        first, last = len(nodes) // 4, len(nodes) // 2 - len(nodes) // 4
        cut += len(nodes) - first - last
        doc["nodes"] = nodes[:first] + nodes[len(nodes) - last :]
        _fix_edges(doc)
    if cut:
        doc["truncation"]["nodes_elided"] += cut
        doc["truncation"]["reasons"].append(f"{cut} more nodes from the middle of the graph were left out to fit")


def _keep_tensors(doc: dict[str, Any], n: int) -> None:
    """Keep `n` tensors: named ones first (what a learner asked about), in document order."""
    tensors = doc["tensors"]
    if len(tensors) <= n:
        return
    named = [t for t in tensors if t["names"]]
    keep = {id(t) for t in (named + [t for t in tensors if not t["names"]])[:n]}
    doc["tensors"] = [t for t in tensors if id(t) in keep]
    doc["truncation"]["tensors_elided"] += len(tensors) - len(doc["tensors"])


def _cut_output(doc: dict[str, Any], _max_bytes: int) -> None:
    doc["stdout"] = doc["stdout"][:10_000]
    doc["stderr"] = doc["stderr"][:10_000]
    doc["events"] = doc["events"][:100]
    _keep_tensors(doc, 100)


def _halve_all(doc: dict[str, Any], max_bytes: int) -> None:
    """Last resort: halve the timeline, passes and nodes (keeping the latest items), then the
    tensors, until the document fits."""
    lists = ("events", "backward_passes", "nodes")
    doc["stdout"] = doc["stdout"][:1000]
    doc["stderr"] = doc["stderr"][:1000]
    while size_of(doc) > max_bytes and any(doc[k] for k in lists):
        for key in lists:
            items = doc[key]
            doc[key] = items[len(items) // 2 :] if len(items) > 1 else []
        _fix_edges(doc)
    # Tensors go last, unnamed ones first.
    while size_of(doc) > max_bytes and doc["tensors"]:
        _keep_tensors(doc, len(doc["tensors"]) // 2)


def _cut_text(doc: dict[str, Any], max_bytes: int) -> None:
    """After the lists: the texts a snippet controls (an exception message of 5,000 characters
    alone outgrew a small cap), then the explanation, so even the smallest cap holds the
    status, the error's type, kind and line."""
    error = doc.get("error")
    if error and len(error.get("message") or "") > 300:
        message = error["message"]
        error["message"] = message[:300] + f"… ({len(message) - 300} more characters cut)"
    for key in ("stdout", "stderr"):
        if size_of(doc) > max_bytes:
            doc[key] = doc[key][:100]
    if error and size_of(doc) > max_bytes:
        error["explanation"] = None
    if error and size_of(doc) > max_bytes:
        error["message"] = error["message"][:80] + "…"


def _fix_edges(doc: dict[str, Any]) -> None:
    ids = {n["id"] for n in doc["nodes"]}
    doc["edges"] = [e for e in doc["edges"] if e["source"] in ids and e["target"] in ids]


__all__ = ["build", "graph_dicts", "encode", "scrub", "shrink", "collect_names", "SNIPPET_FILENAME"]
