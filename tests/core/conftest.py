"""Fixtures shared by the tracing-core tests."""

from __future__ import annotations

import warnings

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _spend_warn_once_warnings() -> None:
    """Some PyTorch warnings fire once per process (TORCH_WARN_ONCE), so the first trace of a
    snippet that triggers one differs from every later trace. Tests that compare two traces of
    one snippet (determinism) need the process past that first time: trigger them here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nested.as_nested_tensor([torch.ones(1, 2), torch.ones(2, 2)])
