"""Bounded, deterministic output: long loops, huge graphs, byte caps."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from gradtrace.core.model import Trace
from gradtrace.core.tracer import trace_json, trace_source
from tests.core.oracle import run_plain
from tests.core.scenarios import SCENARIOS

LOOP = """
import torch
w = torch.zeros(3, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.01)
for i in range({n}):
    loss = ((w - 1.0) ** 2).sum()
    loss.backward()
    opt.step()
    opt.zero_grad()
print(round(float(loss), 6))
"""


def test_long_loop_keeps_head_tail_and_live_graph() -> None:
    trace = trace_source(LOOP.format(n=3000), max_nodes=2000).to_dict()
    assert trace["status"] == "ok" and trace["truncated"] is True
    t = trace["truncation"]
    assert t["events_elided"] > 0 and t["passes_elided"] > 0 and t["reasons"]
    events = trace["events"]
    kinds = [e["kind"] for e in events]
    assert "elided" in kinds
    # Head: the first iteration's construction and backward; tail: the last ones.
    assert events[0]["kind"] in ("leaf", "node")
    assert kinds[-1] == "print"
    assert [p["index"] for p in trace["backward_passes"]][:2] == [0, 1]
    assert trace["backward_passes"][-1]["index"] == 2999
    # The graph alive at the end (loss of the last iteration) is complete.
    ids = {n["id"] for n in trace["nodes"]}
    loss = next(x for x in trace["tensors"] if "loss" in x["names"])
    assert loss["grad_fn"] in ids
    assert len(trace["nodes"]) <= 2000
    # Same values as plain PyTorch: w converges towards 1.
    w = next(x for x in trace["tensors"] if x["names"] == ["w"])
    assert all(abs(v - 1.0) < 0.01 for v in w["value"]["values"])


def test_json_byte_cap_is_respected() -> None:
    src = LOOP.format(n=400)
    trace = trace_source(src, max_json_bytes=50_000)
    assert len(trace.to_json()) <= 50_000 and trace.truncated


def test_same_snippet_same_bytes() -> None:
    src = LOOP.format(n=50) + "\nimport random\nprint(torch.randn(2), random.random())\n"
    assert trace_source(src).to_json() == trace_source(src).to_json()


def test_deep_chain_has_no_recursion_limit(tmp_path: Path) -> None:
    # In a child process: freeing a graph this deep needs the big stack the CLI sets up.
    snippet = tmp_path / "deep.py"
    snippet.write_text(
        "import torch\nx = torch.ones(2, requires_grad=True)\ny = x\n"
        "for _ in range(30000):\n    y = y * 1.0\ny.sum().backward()\n"
    )
    out = tmp_path / "deep.json"
    proc = subprocess.run(
        [sys.executable, "-m", "gradtrace", "trace", str(snippet), "--max-nodes", "40000", "-o", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["status"] == "ok"
    # The engine ran every node (AccumulateGrad + 30000 MulBackward0 + SumBackward0); the
    # node list is cut to the 8 MiB default, keeping the latest nodes, and says so.
    assert len(doc["backward_passes"][0]["order"]) == 30002
    assert doc["truncated"] and doc["nodes"][-1]["name"] == "MulBackward0" and doc["nodes"][-1]["alive"]
    assert len(json.dumps(doc, separators=(",", ":"))) <= 8 << 20


def _refs_after_trace(monkeypatch: Any, source: str) -> list[Any]:
    """Trace `source` with the cyclic GC off (only trace_source's own collection may free
    anything) and return what its weakrefs point to afterwards. The snippet hands weakrefs
    out through the `gradtrace_probe` module."""
    probe = types.ModuleType("gradtrace_probe")
    probe.refs = []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gradtrace_probe", probe)
    gc.disable()
    try:
        assert trace_source("import weakref, torch, gradtrace_probe\n" + source).status == "ok"
        return [r() for r in probe.refs]  # type: ignore[attr-defined]
    finally:
        gc.enable()


def test_snippet_objects_are_freed_when_trace_returns(monkeypatch: Any) -> None:
    """What the snippet made (cycles included) is gone once trace_source returns, so a process
    that traces many snippets (a notebook, the test suite) does not carry one into the next."""
    source = (
        "class Box:\n    pass\n"
        "box = Box()\nbox.me = box\n"  # a reference cycle: only the cyclic GC frees it
        "box.t = torch.ones(1000, requires_grad=True) * 2\n"
        "def helper():\n    return box\n"  # functions hold the namespace: another cycle
        "gradtrace_probe.refs += [weakref.ref(box), weakref.ref(box.t)]\n"
    )
    assert _refs_after_trace(monkeypatch, source) == [None, None]


@pytest.mark.parametrize(
    "keep",
    [
        # A module imported during a trace keeps sys.stdout (sympy does `from sys import stdout`).
        "gradtrace_probe.kept = sys.stdout",
        "gradtrace_probe.kept = sys.stderr",
        # torch.overrides caches every function it finds in torch's namespaces, wrappers included.
        "gradtrace_probe.kept = torch.autograd.graph.increment_version",
        "gradtrace_probe.kept = torch.autograd._engine_run_backward",
        "gradtrace_probe.kept = torch.autograd.Function.apply",
    ],
)
def test_what_outlives_the_trace_keeps_nothing_of_it(monkeypatch: Any, capsys: Any, keep: str) -> None:
    """Our stand-ins (captured streams, wrapped torch functions) kept past the trace hold
    neither the recorder nor the snippet's namespace, and still work."""
    source = (
        "import sys\n"
        "x = torch.ones(3, requires_grad=True)\n"
        "print('hi')\n"
        f"{keep}\n"
        "gradtrace_probe.refs += [weakref.ref(x)]\n"
    )
    assert _refs_after_trace(monkeypatch, source) == [None]
    kept = sys.modules["gradtrace_probe"].kept  # type: ignore[attr-defined]
    if hasattr(kept, "write"):  # a stream: writes after the trace reach the real one
        kept.write("after\n")
        assert "after" in (capsys.readouterr().out if "stdout" in keep else capsys.readouterr().err)
    elif keep.endswith("increment_version"):
        import torch

        t = torch.ones(2)
        kept(t)
        assert t._version == 1


@pytest.mark.parametrize("retain", ["False", "True"])
def test_graphs_a_backward_pass_ran_over_are_freed(monkeypatch: Any, retain: str) -> None:
    """The hooks a pass leaves on nodes must not keep the graph (or the recorder, which holds
    the snippet's namespace) alive: a cycle through C++ hooks is one the GC cannot see."""
    source = (
        "w = torch.ones(3, requires_grad=True)\n"
        "h = w * 2\n"
        "h.retain_grad()\n"
        "loss = (h * h).sum()\n"
        f"loss.backward(retain_graph={retain})\n"
        "gradtrace_probe.refs += [weakref.ref(w), weakref.ref(h), weakref.ref(loss)]\n"
    )
    assert _refs_after_trace(monkeypatch, source) == [None, None, None]


@pytest.mark.parametrize(
    "source",
    [
        *(SCENARIOS[name] for name in sorted(SCENARIOS)),
        LOOP.format(n=3000),  # head/tail elision
        "x = 1 +\n",  # syntax error
        "print('caf\\u00e9 \\x00')\nraise ValueError('\\ud800')\n",  # non-ASCII and a NUL in stdout, a lone surrogate
    ],
)
def test_json_text_path_is_the_model(source: str) -> None:
    """trace_json (the sandbox worker's path, no pydantic) validates into what trace_source returns."""
    # A C++ warn-once warning (converting a tensor that requires grad to a scalar) shows in a
    # process's first run of the snippet only: run it once before comparing.
    trace_json(source, max_nodes=2000)
    text = trace_json(source, max_nodes=2000)
    assert Trace.model_validate_json(text).to_json() == trace_source(source, max_nodes=2000).to_json()


def test_json_text_path_respects_the_byte_cap() -> None:
    text = trace_json(LOOP.format(n=300), max_json_bytes=60_000)
    assert len(text.encode()) <= 60_000
    trace = Trace.model_validate_json(text)
    assert trace.truncated and trace.to_json() == trace_source(LOOP.format(n=300), max_json_bytes=60_000).to_json()


def test_a_huge_exception_message_is_clipped_and_the_byte_cap_holds() -> None:
    text = trace_json('raise ValueError("x" * 10**7)\n')
    assert len(text.encode()) <= 8 << 20
    err = json.loads(text)["error"]
    assert err["type"] == "ValueError" and err["line"] == 1
    assert err["message"].startswith("x" * 1000) and err["message"].endswith("more characters)")


LONG_TEXTS = (
    "import torch\nx = torch.ones(3, requires_grad=True)\ny = x\nfor i in range(50): y = y * 2\n"
    'y.sum().backward()\nprint("hello world " * 100)\nraise ValueError("x" * 5000)\n'
)


@pytest.mark.parametrize("cap", [1024, 2048, 4096])
def test_even_the_smallest_byte_cap_holds_with_long_texts(cap: int) -> None:
    # The snippet's own texts (a 5,000-character exception message, 1,200 characters of
    # output) outgrew small caps after every list was cut: the sandbox then had nothing to
    # show but "output_limit". Now the texts are cut too, last.
    plain = run_plain(LONG_TEXTS)
    text = trace_json(LONG_TEXTS, max_json_bytes=cap)
    assert len(text.encode()) <= cap
    trace = Trace.model_validate_json(text)
    assert trace.status == "error" and trace.truncated
    assert trace.error is not None and (trace.error.type, trace.error.line) == ("ValueError", plain.line)
    assert trace.error.message.startswith("xxx") and trace.stdout.startswith("hello world")


CHAIN = """
import torch
x = torch.ones(2, requires_grad=True)
y = x
for _ in range({n}):
    y = y * 1.0
loss = y.sum()
loss.backward()
"""


def _plain_graph(n: int) -> list[Any]:
    """The chain's nodes in creation order, built by plain PyTorch (the oracle)."""
    import torch

    x = torch.ones(2, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0
    loss = y.sum()
    nodes = []
    node = loss.grad_fn
    while node is not None:
        nodes.append(node)
        node = node.next_functions[0][0] if node.next_functions else None
    return nodes[::-1]


def test_a_graph_bigger_than_the_node_cap_keeps_both_ends() -> None:
    plain = _plain_graph(3000)
    trace = trace_source(CHAIN.format(n=3000), max_nodes=1000).to_dict()
    assert trace["status"] == "ok" and trace["truncated"]
    nodes = trace["nodes"]
    assert len(nodes) == 1000 and trace["truncation"]["nodes_elided"] == len(plain) - 1000
    # The first half of the cap (x's AccumulateGrad, the first multiplications) and the
    # latest nodes (the last multiplications, loss's SumBackward0) stay; the middle goes.
    assert [n["seq"] for n in nodes] == list(range(500)) + list(range(len(plain) - 500, len(plain)))
    assert [n["name"] for n in nodes] == [plain[i].name() for i in [n["seq"] for n in nodes]]
    x = next(t for t in trace["tensors"] if t["names"] == ["x"])
    loss = next(t for t in trace["tensors"] if t["names"] == ["loss"])
    assert nodes[0]["variable"] == x["id"] and nodes[-1]["id"] == loss["grad_fn"]
    ids = {n["id"] for n in nodes}
    assert all(e["source"] in ids and e["target"] in ids for e in trace["edges"])
    assert len(trace["edges"]) == 998  # the chain's edges, less the one across the gap
    assert any("middle of a graph bigger than the cap (1000)" in r for r in trace["truncation"]["reasons"])
    assert not any("no longer exist" in r for r in trace["truncation"]["reasons"])


def test_the_byte_cap_cuts_the_middle_of_a_graph_too() -> None:
    plain = _plain_graph(3000)
    trace = trace_source(CHAIN.format(n=3000), max_json_bytes=200_000).to_dict()
    assert len(json.dumps(trace, separators=(",", ":"))) <= 200_000
    nodes = trace["nodes"]
    assert 50 <= len(nodes) < len(plain)
    x = next(t for t in trace["tensors"] if t["names"] == ["x"])
    loss = next(t for t in trace["tensors"] if t["names"] == ["loss"])
    assert nodes[0]["variable"] == x["id"] and nodes[-1]["id"] == loss["grad_fn"]
    assert trace["truncation"]["nodes_elided"] == len(plain) - len(nodes)
    assert any("from the middle of the graph were left out to fit" in r for r in trace["truncation"]["reasons"])
