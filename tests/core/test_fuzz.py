"""Differential tests on random programs (tests/core/fuzz.py): each must trace exactly as
plain PyTorch runs it, and trace the same twice; training loops traced under random caps
must stay within them, cut the same way on both output paths, and keep their parameters.
These found real bugs (a written view's grad_fn read too early changed the engine's order;
a saved split view made stale by an optimizer step was not flagged;
the byte cap overrun by its own "reduced to fit" sentence; trace_source and trace_json
cutting differently; parameters dropped before the timeline), which scenarios then pinned."""

from __future__ import annotations

import json

import pytest
import torch

from gradtrace.core.model import Trace
from gradtrace.core.tracer import trace_json, trace_source
from tests.core.fuzz import (
    loop_program,
    mechanics_snippet,
    module_snippet,
    observer_snippet,
    snippet,
    zoo_snippet,
)
from tests.core.oracle import run_plain
from tests.core.test_fidelity import check_graph_and_saved, check_matches_plain

SEEDS = range(300)


def _traces_as_plain_runs_it(source: str) -> None:
    check_matches_plain(source)
    check_graph_and_saved(source)
    assert trace_json(source) == trace_json(source)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_program_traces_as_plain_pytorch_runs_it(seed: int) -> None:
    _traces_as_plain_runs_it(snippet(seed))


@pytest.mark.parametrize("seed", range(150))
def test_random_module_program_traces_as_plain_pytorch_runs_it(seed: int) -> None:
    _traces_as_plain_runs_it(module_snippet(seed))


@pytest.mark.parametrize("seed", [*range(100), 1130])  # 1130: a saved split view made stale by Adam
def test_random_layer_zoo_program_traces_as_plain_pytorch_runs_it(seed: int) -> None:
    _traces_as_plain_runs_it(zoo_snippet(seed))


@pytest.mark.parametrize("seed", range(100))
def test_random_training_mechanics_trace_as_plain_pytorch_runs_them(seed: int) -> None:
    _traces_as_plain_runs_it(mechanics_snippet(seed))


@pytest.mark.parametrize("seed", range(80))
def test_random_observer_program_sees_what_it_sees_in_plain_pytorch(seed: int) -> None:
    """The snippet logs what it can observe (subclass and mode calls, aten ops, pack/unpack,
    hooks) and prints the log: the trace must add nothing to it."""
    _traces_as_plain_runs_it(observer_snippet(seed))


@pytest.mark.parametrize("seed", range(40))
def test_random_training_loop_stays_within_its_caps(seed: int) -> None:
    source, caps = loop_program(seed)
    text = trace_json(source, **caps)
    assert len(text.encode()) <= caps["max_json_bytes"]
    assert Trace.model_validate_json(text).to_json() == trace_source(source, **caps).to_json()
    doc = json.loads(text)
    assert len(doc["nodes"]) <= caps["max_nodes"]
    ids = {n["id"] for n in doc["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in doc["edges"])
    seqs = [e["seq"] for e in doc["events"]]
    assert seqs == sorted(set(seqs))
    plain = run_plain(source)
    assert (plain.exception is None) == (doc["status"] == "ok")
    # The parameters are named tensors: cutting to the caps keeps them, with plain's values.
    by_name = {name: t for t in doc["tensors"] for name in t["names"]}
    for name, p in plain.namespace["model"].named_parameters(prefix="model"):
        values = by_name[name]["value"].get("values")
        if values is not None and all(isinstance(v, float) for v in values):
            assert torch.allclose(torch.tensor(values), p.detach().reshape(-1), atol=1e-6), name
