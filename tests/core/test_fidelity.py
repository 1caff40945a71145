"""The trace agrees with plain PyTorch: grads, flags, versions, errors, graphs, engine order."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.nn.parameter import is_lazy

from gradtrace.core.tracer import trace_source
from tests.core.oracle import graph_names, run_plain
from tests.core.scenarios import ERROR_KINDS, SCENARIOS


def _named_tensors(namespace: dict[str, Any]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for var, value in namespace.items():
        if not isinstance(var, str) or var.startswith("__"):
            continue
        if issubclass(type(value), torch.Tensor):  # (not an object whose __class__ says so)
            out[var] = value
        elif isinstance(value, torch.nn.Module):
            # nn.Module's own walk: the snippet's override of named_modules may refuse by now.
            seen: set[int] = set()
            for prefix, module in torch.nn.Module.named_modules(value, prefix=var):
                for name, p in module._parameters.items():
                    if p is not None and id(p) not in seen:
                        seen.add(id(p))
                        out[f"{prefix}.{name}"] = p
    return out


def _unreadable_graph(t: torch.Tensor) -> bool:
    """A view made under no_grad whose base was then written with grad on: PyTorch refuses
    to say whether it is a leaf or what its grad_fn is (the snippet got that error)."""
    try:
        t.grad_fn  # noqa: B018 - reading it is the check
    except RuntimeError:
        return True
    return False


def _values(summary: dict[str, Any] | None) -> list[float] | None:
    return None if summary is None else summary.get("values")


def _same_values(values: list[Any], t: torch.Tensor) -> bool:
    """Summary values (non-finite floats and complex numbers spelled as strings) against `t`."""
    ref = t.detach().reshape(-1)
    if ref.is_complex():
        got = torch.tensor([complex(v) for v in values], dtype=torch.complex128)
        return torch.allclose(got, ref.to(torch.complex128), equal_nan=True)
    got = torch.tensor([float(v) for v in values], dtype=torch.float64)
    return torch.allclose(got, ref.double(), equal_nan=True)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trace_matches_plain_pytorch(name: str) -> None:
    check_matches_plain(SCENARIOS[name])


def check_matches_plain(source: str) -> None:
    """Outcome, stdout, named tensors (flags, versions, values, grads, graphs) and every
    backward pass's engine order agree with a plain run of `source`."""
    plain = run_plain(source, record_order=True)
    trace = trace_source(source).to_dict()

    # Same outcome: the same exception (type and message), or none.
    if plain.exception is None:
        assert trace["status"] == "ok", trace["error"]
    else:
        assert trace["status"] == "error"
        assert trace["error"]["type"] == type(plain.exception).__name__
        assert trace["error"]["message"] == str(plain.exception)
        assert trace["error"]["line"] == plain.line, "the error is not at the line plain Python reports"
    # Same prints (scenarios seed their randomness, so printed values match too).
    assert trace["stdout"] == plain.stdout

    by_name = {n: t for t in trace["tensors"] for n in t["names"]}
    nodes = {n["id"]: n for n in trace["nodes"]}
    children: dict[str, list[str]] = {}
    for e in trace["edges"]:
        children.setdefault(e["source"], []).append(e["target"])

    for var, t in _named_tensors(plain.namespace).items():
        assert var in by_name, f"{var} missing from the trace's tensors"
        rec = by_name[var]
        if is_lazy(t):  # a lazy layer's parameter before its first forward: torch refuses reads but size()
            assert (rec["shape"], rec["value"]["layout"], rec["grad"]) == (list(t.size()), "uninitialized", None)
            assert rec["dtype"] == str(t.dtype) and rec["requires_grad"] == t.requires_grad
            continue
        assert rec["shape"] == _shape(t)
        assert rec["dtype"] == str(t.dtype)
        assert rec["requires_grad"] == t.requires_grad
        if _unreadable_graph(t):
            assert rec["grad_fn"] is None and rec["grad"] is None, var
            continue
        assert rec["is_leaf"] == t.is_leaf
        assert rec["retains_grad"] == t.retains_grad
        if not t.is_inference():
            assert rec["version"] == t._version, var
        assert rec["value"]["shape"] == _shape(t)
        if t.numel() <= 16 and not t.is_nested:
            assert _same_values(rec["value"]["values"], t), var
        if t.is_leaf or t.retains_grad:
            if t.grad is None:
                assert rec["grad"] is None, var
            else:
                assert rec["grad"] is not None, var
                if t.grad.numel() <= 16:
                    assert _same_values(_values(rec["grad"]) or [], t.grad), (var, rec["grad"], t.grad)
        # The graph behind the tensor has the same nodes.
        if t.grad_fn is not None:
            assert rec["grad_fn"] is not None
            assert nodes[rec["grad_fn"]]["name"] == t.grad_fn.name()
            seen, todo, names = set(), [rec["grad_fn"]], []
            while todo:
                nid = todo.pop()
                if nid in seen:
                    continue
                seen.add(nid)
                names.append(nodes[nid]["name"])
                todo.extend(children.get(nid, []))
            assert sorted(names) == graph_names(t.grad_fn), var
        else:
            assert rec["grad_fn"] is None

    # Backward passes that reached the engine: same count, same engine order (as node names).
    # (A call that failed its argument checks, e.g. non-scalar without gradient, is a pass
    # with an error and an empty order for us, and never reaches the engine.)
    passes = [p for p in trace["backward_passes"] if p["order"]]
    orders = [o for o in plain.order if o]
    assert len(passes) == len(orders)
    for p, expected in zip(passes, orders, strict=True):
        assert [nodes[n]["name"] for n in p["order"]] == expected


def _shape(t: torch.Tensor) -> list[int]:
    """A tensor's shape; for a nested tensor, from its components (-1 where they differ)."""
    if not t.is_nested:
        return list(t.shape)
    parts = [c.shape for c in t.unbind()]
    return [len(parts), *(sizes[0] if len(set(sizes)) == 1 else -1 for sizes in zip(*parts, strict=True))]


@pytest.mark.parametrize("name", sorted(ERROR_KINDS))
def test_error_kind_and_line(name: str) -> None:
    source = SCENARIOS[name]
    trace = trace_source(source).to_dict()
    err = trace["error"]
    assert err["kind"] == ERROR_KINDS[name]
    # The line is where plain Python raised it (innermost frame of the snippet).
    plain = run_plain(source)
    assert plain.exception is not None
    tb, line = plain.exception.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<plain>":
            line = tb.tb_lineno
        tb = tb.tb_next
    assert err["line"] == line
    assert err["explanation"]["title"] and err["explanation"]["fix"]
    assert trace["events"][-1]["kind"] == "error"


def _plain_saved(node: Any) -> dict[str, Any]:
    """What autograd saved on a plain node, read the way a user would (`node._saved_*`, or
    `saved_tensors` for a custom Function); lists of tensors give one entry per element."""
    if isinstance(node, torch.autograd.function.BackwardCFunction):
        try:
            return {f"saved_tensors[{i}]": t for i, t in enumerate(node.saved_tensors)}
        except RuntimeError as exc:
            return {"saved_tensors": exc}
    out: dict[str, Any] = {}
    for attr in dir(node):
        if not attr.startswith("_saved_"):
            continue
        key = attr[len("_saved_"):]
        try:
            value = getattr(node, attr)
        except RuntimeError as exc:  # freed by a backward pass, or stale after an in-place op
            out[key] = exc
            continue
        if isinstance(value, tuple | list) and value and all(isinstance(v, torch.Tensor) for v in value):
            out.update({f"{key}[{i}]": v for i, v in enumerate(value)})
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_graph_edges_and_saved_values_match_plain_pytorch(name: str) -> None:
    check_graph_and_saved(SCENARIOS[name])


def check_graph_and_saved(source: str) -> None:
    """Walk each named tensor's graph in the plain run and in the trace side by side: same
    node names, same edges (order and input_nr), same saved values (names, shapes, dtypes,
    versions, freed or stale)."""
    plain = run_plain(source)
    trace = trace_source(source).to_dict()
    by_name = {n: t for t in trace["tensors"] for n in t["names"]}
    nodes = {n["id"]: n for n in trace["nodes"]}
    edges: dict[str, list[dict[str, Any]]] = {}
    for e in trace["edges"]:
        edges.setdefault(e["source"], []).append(e)

    todo = [
        (t.grad_fn, by_name[var]["grad_fn"])
        for var, t in _named_tensors(plain.namespace).items()
        if not _unreadable_graph(t) and t.grad_fn is not None and var in by_name
    ]
    paired: dict[int, str] = {}
    while todo:
        pnode, nid = todo.pop()
        if id(pnode) in paired:
            assert paired[id(pnode)] == nid, "one PyTorch node became two trace nodes"
            continue
        paired[id(pnode)] = nid
        node = nodes[nid]
        assert node["name"] == pnode.name()

        nexts = [(fn, nr) for fn, nr in pnode.next_functions if fn is not None]
        mine = sorted(edges.get(nid, []), key=lambda e: e["index"])
        assert [(nodes[e["target"]]["name"], e["input_nr"]) for e in mine] == [(fn.name(), nr) for fn, nr in nexts]
        todo.extend((fn, e["target"]) for (fn, _), e in zip(nexts, mine, strict=True))

        saved = {s["name"]: s for s in node["saved"]}
        expected = _plain_saved(pnode)
        for key, value in expected.items():
            if isinstance(value, RuntimeError):
                # Unreadable now as a whole; the trace read it before, element by element.
                parts = [s for n, s in saved.items() if n == key or n.startswith(key + "[")]
                freed = "second time" in str(value)
                assert parts or (freed and node["kind"] == "custom"), (nid, key)  # a ctx that saved nothing
                assert all(s["freed"] if freed else s["stale"] for s in parts), (nid, key, str(value))
                for s in parts:
                    saved.pop(s["name"])
                continue
            entry = saved.pop(key, None)
            assert entry is not None, (nid, key, "missing from the trace")
            if isinstance(value, torch.Tensor):
                assert entry["kind"] == "tensor" and not entry["freed"] and not entry["stale"], (nid, key)
                assert (entry["shape"], entry["dtype"]) == (_shape(value), str(value.dtype)), (nid, key)
                if entry.get("packed"):  # a pack hook holds it: no version (autograd checks none)
                    continue
                if not value.is_inference():
                    assert entry["version_now"] == value._version, (nid, key)
            else:
                assert entry["kind"] == "value" and entry["repr"], (nid, key)
                if value is None:
                    assert entry["repr"] == "None", (nid, key)
        assert not saved, (nid, "saved entries PyTorch does not have", sorted(saved))
