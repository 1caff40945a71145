"""Value summaries against torch's own reductions (computed in float64), edge cases included."""

from __future__ import annotations

import math

import pytest
import torch

from gradtrace.core.summary import summarize

torch.manual_seed(0)
CASES = {
    "randn": torch.randn(300, 70),
    "big_offset": torch.randn(500) + 1e4,  # |mean| >> spread: the sum-of-squares formula would cancel
    "constant": torch.full((40,), 3.5),
    "zeros": torch.zeros(8, 8),  # a fresh bias: min == max short-cut
    "negative_constant_int": torch.full((20,), -7),
    "transposed": torch.randn(30, 20).t(),  # not contiguous
    "int64": torch.arange(-50, 50),
    "uint8": torch.randint(0, 255, (64,), dtype=torch.uint8),
    "bool": torch.rand(33) > 0.5,
    "float16": torch.randn(100).half(),
    "bfloat16": torch.randn(100).bfloat16(),
    "float64": torch.randn(1000, dtype=torch.float64) * 1e-6,
    "with_grad": torch.randn(50, requires_grad=True) * 2,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_statistics_match_torch(name: str) -> None:
    t = CASES[name]
    s = summarize(t)
    assert s is not None and s["shape"] == list(t.shape) and s["numel"] == t.numel() and "values" not in s
    ref = t.detach().double()
    want = {"min": ref.min(), "max": ref.max(), "mean": ref.mean(), "std": ref.std()}
    for key, value in want.items():
        assert s[key] == pytest.approx(float(value), rel=1e-4, abs=1e-9), key


def test_non_finite_values_are_strings() -> None:
    s = summarize(torch.tensor([1.0, float("inf")] * 10))
    assert s is not None and (s["min"], s["max"], s["mean"]) == (1.0, "inf", "inf") and s["std"] == "nan"
    s = summarize(torch.tensor([1.0, float("nan")] * 10))
    assert s is not None and all(s[k] == "nan" for k in ("min", "max", "mean", "std"))


def test_small_tensors_give_every_value() -> None:
    t = torch.tensor([[1.5, -2.0], [math.pi, 0.0]])
    s = summarize(t)
    assert s is not None and s["values"] == t.reshape(-1).tolist() and "std" not in s


def test_small_sparse_tensors_are_shown_densely() -> None:
    sp = torch.sparse_coo_tensor(torch.tensor([[0, 1], [1, 0]]), torch.tensor([3.0, 4.0]), (2, 2))
    s = summarize(sp)
    assert s is not None and s["layout"] == "sparse_coo"
    assert s["values"] == sp.to_dense().reshape(-1).tolist()
    big = torch.sparse_coo_tensor(torch.tensor([[0], [0]]), torch.tensor([1.0]), (10, 10))
    s = summarize(big)
    assert s is not None and s["layout"] == "sparse_coo" and s["numel"] == 100 and "values" not in s
