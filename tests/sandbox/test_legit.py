"""Heavy but legitimate snippets must succeed within the default limits, through the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradtrace.core.examples import get_example

from .conftest import Sandbox

FIXTURES = Path(__file__).parent / "fixtures"


def test_small_cnn_trains_50_steps(sandbox: Sandbox) -> None:
    result = sandbox.run((FIXTURES / "cnn_50_steps.py").read_text())
    assert result["status"] == "ok", result["error"]
    assert "final loss" in result["stdout"] and result["nodes"]


def test_12_layer_transformer_forward_backward(sandbox: Sandbox) -> None:
    result = sandbox.run((FIXTURES / "transformer_12_layers.py").read_text())
    assert result["status"] == "ok", result["error"]
    assert "torch.Size([64, 128])" in result["stdout"]
    assert len(result["nodes"]) > 500


@pytest.mark.slow
def test_10000_iteration_training_loop_example(sandbox: Sandbox) -> None:
    result = sandbox.run(get_example("derived_param_in_forward").source)
    assert result["status"] == "ok", result["error"]
    assert "iteration 10000" in result["stdout"]


def test_a_100k_node_graph_is_built_and_freed(sandbox: Sandbox) -> None:
    # Freeing a long graph built under the tracer recurses deeply in libc10: this needs the
    # zygote's big main-thread stack (a crash would come back as status "error"/"crashed").
    source = "import torch\nx = torch.ones(1, requires_grad=True)\ny = x\nfor i in range(100000):\n    y = y * 1.0\ny.backward()\ndel y\nprint(x.grad)\n"
    result = sandbox.run(source)
    assert result["status"] == "ok", result["error"]
    assert result["truncated"] and "tensor([1.])" in result["stdout"]
