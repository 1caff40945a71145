"""Differential tests on random programs (tests/core/fuzz.py): each must trace exactly as
plain PyTorch runs it, and trace the same twice. This found a real bug (a written view's
grad_fn read too early changed the engine's order), which the scenarios then pinned down."""

from __future__ import annotations

import pytest

from gradtrace.core.tracer import trace_json
from tests.core.fuzz import module_snippet, snippet
from tests.core.test_fidelity import check_graph_and_saved, check_matches_plain

SEEDS = range(300)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_program_traces_as_plain_pytorch_runs_it(seed: int) -> None:
    source = snippet(seed)
    check_matches_plain(source)
    check_graph_and_saved(source)
    assert trace_json(source) == trace_json(source)


@pytest.mark.parametrize("seed", range(150))
def test_random_module_program_traces_as_plain_pytorch_runs_it(seed: int) -> None:
    source = module_snippet(seed)
    check_matches_plain(source)
    check_graph_and_saved(source)
    assert trace_json(source) == trace_json(source)
