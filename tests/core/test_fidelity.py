"""The trace agrees with plain PyTorch: grads, flags, versions, errors, graphs, engine order."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from gradtrace.core.tracer import trace_source
from tests.core.oracle import graph_names, run_plain
from tests.core.scenarios import ERROR_KINDS, SCENARIOS


def _named_tensors(namespace: dict[str, Any]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for var, value in namespace.items():
        if var.startswith("__"):
            continue
        if isinstance(value, torch.Tensor):
            out[var] = value
        elif isinstance(value, torch.nn.Module):
            for name, p in value.named_parameters(prefix=var):
                out[name] = p
    return out


def _values(summary: dict[str, Any] | None) -> list[float] | None:
    return None if summary is None else summary.get("values")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trace_matches_plain_pytorch(name: str) -> None:
    source = SCENARIOS[name]
    plain = run_plain(source, record_order=True)
    trace = trace_source(source).to_dict()

    # Same outcome: the same exception (type and message), or none.
    if plain.exception is None:
        assert trace["status"] == "ok", trace["error"]
    else:
        assert trace["status"] == "error"
        assert trace["error"]["type"] == type(plain.exception).__name__
        assert trace["error"]["message"] == str(plain.exception)

    by_name = {n: t for t in trace["tensors"] for n in t["names"]}
    nodes = {n["id"]: n for n in trace["nodes"]}
    children: dict[str, list[str]] = {}
    for e in trace["edges"]:
        children.setdefault(e["source"], []).append(e["target"])

    for var, t in _named_tensors(plain.namespace).items():
        assert var in by_name, f"{var} missing from the trace's tensors"
        rec = by_name[var]
        assert rec["shape"] == list(t.shape)
        assert rec["dtype"] == str(t.dtype)
        assert rec["requires_grad"] == t.requires_grad
        assert rec["is_leaf"] == t.is_leaf
        assert rec["retains_grad"] == t.retains_grad
        if not t.is_inference():
            assert rec["version"] == t._version, var
        assert rec["value"]["shape"] == list(t.shape)
        if t.numel() <= 16:
            assert torch.allclose(torch.tensor(rec["value"]["values"], dtype=torch.float64),
                                  t.detach().double().reshape(-1), equal_nan=True), var
        if t.is_leaf or t.retains_grad:
            if t.grad is None:
                assert rec["grad"] is None, var
            else:
                assert rec["grad"] is not None, var
                if t.grad.numel() <= 16:
                    got = torch.tensor(_values(rec["grad"]), dtype=torch.float64)
                    assert torch.allclose(got, t.grad.double().reshape(-1)), (var, got, t.grad)
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
