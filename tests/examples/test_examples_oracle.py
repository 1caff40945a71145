"""Every built-in example teaches something true: checked against plain PyTorch.

All examples run once, in a fresh interpreter, under plain PyTorch (``harness.py``); each
test then checks what its example claims: the gradients against an independent
computation from the reported values, the exact exception type, message and line for the
error examples, and the output the comments promise.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from gradtrace.core.examples import EXAMPLE_ORDER, get_example, list_examples, parse_header

from .conftest import REPO

Run = dict[str, Any]


# ----------------------------------------------------------------------------- helpers


def line_of(name: str, text: str, nth: int = 0) -> int:
    """1-based line of the nth line of the example's code (comments ignored) containing ``text``."""
    lines = get_example(name).source.splitlines()
    hits = [i for i, line in enumerate(lines, 1) if text in line.split("#", 1)[0]]
    assert hits, f"{text!r} not found in example {name}"
    return hits[nth]


def close(actual: Any, expected: Any, tol: float = 1e-5) -> bool:
    if isinstance(expected, int | float):
        expected = [expected]
    if isinstance(actual, int | float):
        actual = [actual]
    return len(actual) == len(expected) and all(
        math.isclose(a, e, rel_tol=tol, abs_tol=tol) for a, e in zip(actual, expected, strict=True)
    )


def grad(run: Run, tensor: str) -> list[float] | None:
    result: list[float] | None = run["tensors"][tensor]["grad"]
    return result


def value(run: Run, tensor: str) -> list[float]:
    result: list[float] = run["tensors"][tensor]["value"]
    return result


def assert_ok(run: Run) -> None:
    assert run["status"] == "ok", run["error"]


def assert_error(
    run: Run, name: str, fragment: str, line_text: str, nth: int = 0, type_: str = "RuntimeError"
) -> None:
    assert run["status"] == "error", f"{name} was expected to raise; stdout:\n{run['stdout']}"
    error = run["error"]
    assert error["type"] == type_, error
    assert fragment in error["message"], error["message"]
    assert error["line"] == line_of(name, line_text, nth), error


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# ------------------------------------------------------------------ per-example checks


def check_first_gradient(run: Run) -> None:
    assert_ok(run)
    assert close(grad(run, "x"), [2 * v for v in value(run, "x")])
    assert close(grad(run, "x"), [4.0])
    assert run["tensors"]["y"]["grad_fn"] == "PowBackward0"


def check_chain_rule(run: Run) -> None:
    assert_ok(run)
    assert close(grad(run, "x"), [2 * (v + 2) for v in value(run, "x")])
    assert close(grad(run, "x"), [10.0, 12.0])
    assert [run["tensors"][n]["grad_fn"] for n in ("x", "z", "y", "total")] == [
        None,
        "AddBackward0",
        "PowBackward0",
        "SumBackward0",
    ]
    assert "None AddBackward0 PowBackward0" in run["stdout"]


def check_leaf_tensors(run: Run) -> None:
    assert_ok(run)
    assert run["stdout"].splitlines()[0] == "True False False"
    assert close(grad(run, "a"), [math.exp(3) / 4] * 4)
    assert grad(run, "b") is None and grad(run, "c") is None
    assert [t["is_leaf"] for t in (run["tensors"][n] for n in "abc")] == [True, False, False]
    # Reading b.grad warns, at the line that reads it.
    (warning,) = run["warnings"]
    assert "not a leaf Tensor" in warning["message"]
    assert warning["line"] == line_of("leaf_tensors", "print(b.grad)")


def check_rebinding_vs_inplace(run: Run) -> None:
    assert_ok(run)
    assert run["stdout"].splitlines() == ["False 0 0", "True 1"]
    assert run["tensors"]["old"]["value"] == [3.0, 1.0]  # the original tensor was not touched
    assert close(value(run, "a"), [math.exp(3.0), math.exp(1.0)])
    assert run["tensors"]["b"]["version"] == 1 and value(run, "b") == [10.0, 1.0]


def check_l1_l4_graph(run: Run) -> None:
    assert_ok(run)
    w1, w2, w3 = (value(run, n)[0] for n in ("w1", "w2", "w3"))
    xs = value(run, "x")
    # loss = mean((x*w1 + w2) * (x*w1*w3)); derivatives by hand, summed over the 4 cells.
    n = len(xs)
    d_w1 = sum((x * w1 * w3) * x + (x * w1 + w2) * x * w3 for x in xs) / n
    d_w2 = sum(x * w1 * w3 for x in xs) / n
    d_w3 = sum((x * w1 + w2) * x * w1 for x in xs) / n
    assert close(grad(run, "w1"), d_w1) and close(grad(run, "w2"), d_w2) and close(grad(run, "w3"), d_w3)
    assert (grad(run, "w1"), grad(run, "w2"), grad(run, "w3")) == ([28.0], [8.0], [10.0])
    assert value(run, "loss") == [40.0]
    for name in ("x", "l1", "l2", "l3", "l4", "loss"):
        assert grad(run, name) is None
    assert run["tensors"]["x"]["requires_grad"] is False
    assert run["stdout"].splitlines() == ["None None 40.0", "tensor(28.) tensor(8.) tensor(10.)"]


def check_nonscalar_backward_gradient(run: Run) -> None:
    assert_ok(run)
    assert close(grad(run, "x"), [2 * g for g in value(run, "v")])
    assert close(grad(run, "x"), [2.0, 0.2])


def check_retain_grad(run: Run) -> None:
    assert_ok(run)
    y = value(run, "y")[0]
    assert run["tensors"]["y"]["retains_grad"] is True
    assert close(grad(run, "y"), 2 * y) and close(grad(run, "x"), 2 * y)
    assert grad(run, "z") is None


def check_detach(run: Run) -> None:
    assert_ok(run)
    assert run["stdout"].splitlines()[0] == "False True"
    assert run["tensors"]["z"]["requires_grad"] is False and run["tensors"]["z"]["grad_fn"] is None
    x = value(run, "x")[0]
    assert close(grad(run, "x"), x**2)  # z is a constant: d(x * z)/dx = z
    assert not close(grad(run, "x"), 3 * x**2)


def check_no_grad(run: Run) -> None:
    assert_ok(run)
    inference, out = run["tensors"]["inference"], run["tensors"]["out"]
    assert inference["requires_grad"] is False and inference["grad_fn"] is None
    assert out["requires_grad"] is True and out["grad_fn"] == "AddmmBackward0"
    assert close(inference["value"], out["value"])  # same numbers either way
    inp = value(run, "inp")
    col_sums = [sum(inp[r * 3 + c] for r in range(4)) for c in range(3)]
    assert close(grad(run, "model.weight"), col_sums)
    assert close(grad(run, "model.bias"), [4.0])


def check_retain_graph(run: Run) -> None:
    assert_ok(run)
    a = value(run, "a")
    assert close(grad(run, "a"), [2 * v for v in a])  # two passes of d mean(a*a)/da = a
    assert run["stdout"].splitlines() == ["tensor([3., 1.])", "tensor([6., 2.])"]


def check_rebuild_graph(run: Run) -> None:
    assert_ok(run)
    assert close(grad(run, "a"), [6.0, 2.0])
    assert run["stdout"].splitlines() == ["0 tensor([3., 1.])", "1 tensor([6., 2.])"]


def check_second_derivative(run: Run) -> None:
    assert_ok(run)
    x = value(run, "x")[0]
    assert close(value(run, "dy"), 3 * x**2) and close(value(run, "d2y"), 6 * x)
    assert run["tensors"]["dy"]["grad_fn"] is not None
    assert run["tensors"]["d2y"]["grad_fn"] is None
    assert grad(run, "x") is None  # autograd.grad returns grads, it does not fill .grad


def check_custom_relu(run: Run) -> None:
    assert_ok(run)
    assert run["tensors"]["y"]["grad_fn"] == "MyReLUBackward"
    assert close(grad(run, "x"), [1.0 if v > 0 else 0.0 for v in value(run, "x")])
    assert close(grad(run, "x"), [0.0, 1.0])


def check_custom_leaky_relu(run: Run) -> None:
    assert_ok(run)
    xs = value(run, "x")
    assert run["tensors"]["y"]["grad_fn"] == "LeakyReLUBackward"
    assert close(value(run, "y"), [v if v > 0 else 0.05 * v for v in xs])
    assert close(grad(run, "x"), [1.0 if v > 0 else 0.05 for v in xs])
    assert any(v > 0 for v in xs) and any(v < 0 for v in xs)  # both branches are shown


def check_linear_bce_named_parameters(run: Run) -> None:
    assert_ok(run)
    y = value(run, "y")[0]
    assert close(y, sigmoid(value(run, "net1.weight")[0] * 0 + value(run, "net1.bias")[0]))
    # BCE with target 0: loss = -log(1 - y); dloss/dy = 1/(1-y); dloss/dbias = y; input 0 -> weight grad 0.
    assert close(grad(run, "y"), 1 / (1 - y))
    assert close(grad(run, "net1.bias"), y)
    assert grad(run, "net1.weight") == [0.0]
    lines = run["stdout"].splitlines()
    assert lines[0].startswith("weight True") and lines[1].startswith("bias True")


def check_conv_requires_grad_propagation(run: Run) -> None:
    assert_ok(run)
    assert run["tensors"]["inp"]["requires_grad"] is False
    assert run["tensors"]["output"]["requires_grad"] is True
    params = [n for n in run["tensors"] if n.startswith("model.")]
    assert sorted(params) == ["model.0.bias", "model.0.weight", "model.1.bias", "model.1.weight"]
    for name in params:
        assert run["tensors"][name]["requires_grad"] and grad(run, name) is not None, name
    # output.mean(): the last bias gets 1/16 per output channel (mean over the other dims).
    assert close(grad(run, "model.1.bias"), [1 / 16] * 16)
    assert run["stdout"].splitlines()[0] == "False"


def check_mlp_training_step(run: Run) -> None:
    assert_ok(run)
    pred, targets = value(run, "pred"), value(run, "targets")
    diffs = [p - t for p, t in zip(pred, targets, strict=True)]
    assert close(value(run, "loss"), sum(d * d for d in diffs) / len(diffs))
    assert close(grad(run, "model.2.bias"), 2 * sum(diffs) / len(diffs))
    for name in ("model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"):
        assert grad(run, name) is not None


def check_transformer_encoder(run: Run) -> None:
    assert_ok(run)
    out, target = value(run, "out"), value(run, "target")
    assert run["tensors"]["out"]["shape"] == [2, 5, 32]
    assert close(
        value(run, "loss"), sum((o - t) ** 2 for o, t in zip(out, target, strict=True)) / len(out), 1e-4
    )
    encoder = [n for n in run["tensors"] if n.startswith("encoder.layers.")]
    template = [n for n in run["tensors"] if n.startswith("layer.")]
    assert len(encoder) == 2 * len(template) > 0
    assert all(grad(run, n) is not None for n in encoder)
    assert all(grad(run, n) is None for n in template)  # the deep-copied template stays untouched


def check_clamp_vs_sigmoid(run: Run) -> None:
    assert_ok(run)
    raw = value(run, "raw")[0]
    assert raw > 1.0
    s = sigmoid(raw)
    assert close(grad(run, "raw"), s * (1 - s))  # the last backward: sigmoid's
    first, second = run["stdout"].splitlines()
    assert first == "tensor(0.)" and second == f"tensor({s * (1 - s):.4f})"
    assert run["tensors"]["clamped"]["grad_fn"] == "ClampBackward1"


def check_derived_param_in_forward(run: Run) -> None:
    assert_ok(run)
    lines = run["stdout"].splitlines()
    assert (
        len(lines) == 8 and lines[0].startswith("iteration 1:") and lines[-1].startswith("iteration 10000:")
    )
    x_raw = value(run, "model.x_raw")[0]
    assert abs(sigmoid(x_raw) - 0.9) < 1e-4  # trained to the target
    assert "x 0.8999" in lines[-1] or "x 0.9000" in lines[-1]


def check_vector_to_parameters_backward(run: Run) -> None:
    assert_ok(run)
    vparams = value(run, "vparams")
    assert grad(run, "vparams") is None
    w, b = value(run, "model.linear.weight"), value(run, "model.linear.bias")
    assert vparams == w + b  # the numbers were copied ...
    x, t = value(run, "input_data"), value(run, "target")[0]
    out = dot(w, x) + b[0]
    assert close(grad(run, "model.linear.weight"), [2 * (out - t) * xi for xi in x])  # ... the link was not
    assert close(value(run, "wgrad"), grad(run, "model.linear.weight"))
    assert run["stdout"].splitlines() == ["torch.Size([1, 10]) True", "None"]


def check_vector_to_parameters_functional_call(run: Run) -> None:
    assert_ok(run)
    vparams = value(run, "vparams")
    x, t = value(run, "input_data"), value(run, "target")[0]
    out = dot(vparams[:10], x) + vparams[10]
    assert close(value(run, "output"), out)
    assert close(grad(run, "vparams"), [2 * (out - t) * xi for xi in x] + [2 * (out - t)])
    assert grad(run, "model.linear.weight") is None


def check_inplace_harmless(run: Run) -> None:
    assert_ok(run)
    assert run["tensors"]["b"]["version"] == 1
    assert close(value(run, "b"), [2 * v + 100 for v in value(run, "a")])
    assert close(grad(run, "a"), [2.0, 2.0])


def _check_leaf_fix(run: Run) -> None:
    assert_ok(run)
    a = run["tensors"]["a"]
    assert a["is_leaf"] and a["requires_grad"] and a["grad_fn"] is None
    assert a["value"] == [10.0] * 4
    assert close(grad(run, "a"), [2 * v / 4 for v in a["value"]])
    assert close(grad(run, "a"), [5.0] * 4)


def check_derived_param_in_init(run: Run) -> None:
    assert_error(
        run, "derived_param_in_init", "Trying to backward through the graph a second time", "loss.backward()"
    )
    lines = run["stdout"].splitlines()
    assert len(lines) == 2 and lines[0].split("x ")[1] == lines[1].split("x ")[1]  # x never moved
    assert lines[1].split("loss ")[1] == lines[0].split("loss ")[1]
    assert run["tensors"]["model.x"]["grad_fn"] == "SigmoidBackward0"
    # Adam did take the first step on x_raw, which model.x never sees.
    assert value(run, "model.x_raw")[0] != 0.0
    assert close(value(run, "model.x"), 0.5)


def check_backward_twice(run: Run) -> None:
    assert_error(
        run, "backward_twice", "Trying to backward through the graph a second time", "loss.backward()", 1
    )
    assert "retain_graph=True" in run["error"]["message"]
    assert close(grad(run, "a"), value(run, "a"))  # the first pass completed: [3, 1]


def check_inplace_version_error(run: Run) -> None:
    assert_error(run, "inplace_version_error", "modified by an inplace operation", "loss.backward()")
    assert "is at version 1; expected version 0 instead" in run["error"]["message"]
    assert run["tensors"]["b"]["version"] == 1 and value(run, "b")[0] == 1000.0
    assert run["stdout"].splitlines() == ["0", "1"]
    assert grad(run, "a") is None


def check_inplace_leaf_after_use_error(run: Run) -> None:
    # no_grad allowed the write on the leaf; the node that saved a then refuses in backward.
    assert_error(run, "inplace_leaf_after_use_error", "modified by an inplace operation", "loss.backward()")
    assert "is at version 1; expected version 0 instead" in run["error"]["message"]
    assert run["tensors"]["a"]["version"] == 1 and value(run, "a") == [10.0] * 4
    assert run["stdout"].splitlines() == ["1"] and grad(run, "a") is None


def check_inplace_sigmoid_output(run: Run) -> None:
    assert_error(run, "inplace_sigmoid_output", "modified by an inplace operation", "loss.backward()")
    assert "output 0 of Sigmoid, is at version 1; expected version 0" in run["error"]["message"]
    assert run["tensors"]["y"]["version"] == 1
    assert close(value(run, "y"), [2 * sigmoid(v) for v in value(run, "x")])
    assert grad(run, "x") is None


def _check_leaf_refused(run: Run, name: str, line_text: str) -> None:
    assert_error(
        run, name, "a leaf Variable that requires grad is being used in an in-place operation", line_text
    )
    a = run["tensors"]["a"]
    assert a["is_leaf"] and a["version"] == 0 and a["value"] == [10.0, 5.0, 2.0, 3.0]  # nothing was written


def check_vector_to_parameters_unused(run: Run) -> None:
    assert_error(
        run,
        "vector_to_parameters_unused",
        "appears to not have been used in the graph",
        "torch.autograd.grad(loss, vparams)",
    )
    assert grad(run, "vparams") is None and "vgrads" not in run["tensors"]


def check_parameter_from_slice(run: Run) -> None:
    assert_error(
        run,
        "parameter_from_slice",
        "appears to not have been used in the graph",
        "g = torch.autograd.grad(b, a)",
    )
    assert run["stdout"].splitlines() == ["tensor([0., 1., 0.])"]
    b, c = run["tensors"]["b"], run["tensors"]["c"]
    assert b["is_leaf"] and b["grad_fn"] is None
    assert c["grad_fn"] == "SelectBackward0"


def check_nonscalar_backward_error(run: Run) -> None:
    assert_error(
        run,
        "nonscalar_backward_error",
        "grad can be implicitly created only for scalar outputs",
        "y.backward()",
    )
    assert grad(run, "x") is None


def check_detach_then_backward(run: Run) -> None:
    assert_error(
        run,
        "detach_then_backward",
        "element 0 of tensors does not require grad and does not have a grad_fn",
        "w.backward()",
    )
    assert run["stdout"].splitlines() == ["False None"]
    assert grad(run, "x") is None


def check_custom_function_wrong_grad_count(run: Run) -> None:
    assert_error(
        run,
        "custom_function_wrong_grad_count",
        "function LeakyReLUBackward returned an incorrect number of gradients (expected 2, got 1)",
        "y.sum().backward()",
    )
    assert run["tensors"]["y"]["grad_fn"] == "LeakyReLUBackward"


def check_inference_tensor_saved(run: Run) -> None:
    assert_error(
        run, "inference_tensor_saved", "Inference tensors cannot be saved for backward", "y = w * scale"
    )
    assert run["tensors"]["scale"]["inference"] is True and "y" not in run["tensors"]


def check_requires_grad_integer(run: Run) -> None:
    assert_error(
        run,
        "requires_grad_integer",
        "Only Tensors of floating point and complex dtype can require gradients",
        "requires_grad=True",
    )
    assert "w" not in run["tensors"] and run["tensors"]["counts"]["dtype"] == "torch.int64"


def check_loss_shape_broadcast(run: Run) -> None:
    assert_ok(run)
    w, x, t = value(run, "w"), value(run, "x"), value(run, "target")
    rows = [x[i * 3:(i + 1) * 3] for i in range(4)]
    pred = [dot(r, w) for r in rows]
    # Broadcast: the mean over all 16 pairs (pred_i - t_j)^2; matched: over the 4 pairs (pred_i - t_i)^2.
    d_wrong = [sum(2 * (p - tj) for tj in t) / 16 for p in pred]
    d_right = [2 * (p - ti) / 4 for p, ti in zip(pred, t, strict=True)]
    want_wrong = [sum(d * r[k] for d, r in zip(d_wrong, rows, strict=True)) for k in range(3)]
    want_right = [sum(d * r[k] for d, r in zip(d_right, rows, strict=True)) for k in range(3)]
    assert close(value(run, "wrong_grad"), want_wrong, 1e-4) and close(grad(run, "w"), want_right, 1e-4)
    assert not close(want_wrong, want_right, 1e-2)
    assert "Using a target size" in run["warnings"][0]["message"]


def check_running_total_keeps_graphs(run: Run) -> None:
    assert_ok(run)
    w, x, y = value(run, "w0"), value(run, "x"), value(run, "y")
    rows = [x[i * 3:(i + 1) * 3] for i in range(4)]
    total = 0.0
    for _ in range(3):  # gradient descent on the mean squared error, by hand
        err = [dot(r, w) - t for r, t in zip(rows, y, strict=True)]
        total += sum(e * e for e in err) / 4
        g = [sum(2 * e * r[k] for e, r in zip(err, rows, strict=True)) / 4 for k in range(3)]
        w = [wk - 0.1 * gk for wk, gk in zip(w, g, strict=True)]
    assert close(value(run, "w"), w, 1e-4)
    assert close(value(run, "total_loss"), [total], 1e-4)
    total_loss = run["tensors"]["total_loss"]
    assert total_loss["requires_grad"] and not total_loss["is_leaf"]
    assert run["stdout"].splitlines()[0] == "AddBackward0"


def check_requires_grad_nonleaf(run: Run) -> None:
    assert_error(
        run,
        "requires_grad_nonleaf",
        "you can only change requires_grad flags of leaf variables",
        "y.requires_grad_(False)",
    )
    assert run["tensors"]["y"]["requires_grad"] is True
    assert run["tensors"]["frozen"]["requires_grad"] is False


CHECKS: dict[str, Callable[[Run], None]] = {
    "first_gradient": check_first_gradient,
    "chain_rule": check_chain_rule,
    "leaf_tensors": check_leaf_tensors,
    "rebinding_vs_inplace": check_rebinding_vs_inplace,
    "l1_l4_graph": check_l1_l4_graph,
    "nonscalar_backward_gradient": check_nonscalar_backward_gradient,
    "retain_grad": check_retain_grad,
    "detach": check_detach,
    "no_grad": check_no_grad,
    "retain_graph": check_retain_graph,
    "rebuild_graph": check_rebuild_graph,
    "second_derivative": check_second_derivative,
    "custom_relu": check_custom_relu,
    "custom_leaky_relu": check_custom_leaky_relu,
    "linear_bce_named_parameters": check_linear_bce_named_parameters,
    "conv_requires_grad_propagation": check_conv_requires_grad_propagation,
    "mlp_training_step": check_mlp_training_step,
    "transformer_encoder": check_transformer_encoder,
    "clamp_vs_sigmoid": check_clamp_vs_sigmoid,
    "loss_shape_broadcast": check_loss_shape_broadcast,
    "running_total_keeps_graphs": check_running_total_keeps_graphs,
    "derived_param_in_forward": check_derived_param_in_forward,
    "vector_to_parameters_backward": check_vector_to_parameters_backward,
    "vector_to_parameters_functional_call": check_vector_to_parameters_functional_call,
    "inplace_harmless": check_inplace_harmless,
    "inplace_leaf_data_fix": _check_leaf_fix,
    "inplace_leaf_no_grad_fix": _check_leaf_fix,
    "derived_param_in_init": check_derived_param_in_init,
    "backward_twice": check_backward_twice,
    "inplace_version_error": check_inplace_version_error,
    "inplace_sigmoid_output": check_inplace_sigmoid_output,
    "inplace_leaf_error": lambda run: _check_leaf_refused(run, "inplace_leaf_error", "a.add_(10.0)"),
    "slice_assign_leaf": lambda run: _check_leaf_refused(run, "slice_assign_leaf", "a[:] = 0"),
    "inplace_leaf_after_use_error": check_inplace_leaf_after_use_error,
    "vector_to_parameters_unused": check_vector_to_parameters_unused,
    "parameter_from_slice": check_parameter_from_slice,
    "nonscalar_backward_error": check_nonscalar_backward_error,
    "detach_then_backward": check_detach_then_backward,
    "custom_function_wrong_grad_count": check_custom_function_wrong_grad_count,
    "inference_tensor_saved": check_inference_tensor_saved,
    "requires_grad_integer": check_requires_grad_integer,
    "requires_grad_nonleaf": check_requires_grad_nonleaf,
}

# Warnings an example is meant to show; any other warning is a defect of the example.
EXPECTED_WARNINGS = {"leaf_tensors": 1, "loss_shape_broadcast": 1}
SLOW = {"derived_param_in_forward"}


# ------------------------------------------------------------------------------ tests


def test_every_example_has_a_check() -> None:
    assert list(CHECKS) == list(EXAMPLE_ORDER)


@pytest.mark.parametrize("name", EXAMPLE_ORDER)
def test_example_teaches_what_pytorch_does(name: str, plain_runs: dict[str, Run]) -> None:
    CHECKS[name](plain_runs[name])


@pytest.mark.parametrize("name", EXAMPLE_ORDER)
def test_example_is_tidy(name: str, plain_runs: dict[str, Run]) -> None:
    run, example = plain_runs[name], get_example(name)
    # Error examples say so in their title and tags, and only they raise.
    is_error = run["status"] == "error"
    assert example.title.startswith("Error:") == is_error, example.title
    assert ("error" in example.tags) == is_error, example.tags
    # Short output, no unexpected warnings.
    assert len(run["stdout"]) < 1200 and run["stdout"].count("\n") <= 12, run["stdout"]
    assert len(run["warnings"]) == EXPECTED_WARNINGS.get(name, 0), run["warnings"]
    # Randomness (random tensors, randomly initialised layers) is seeded.
    if re.search(r"\brand\w*\(|nn\.(Linear|Conv\w*|Transformer\w*|Dropout)\(", example.source):
        assert "torch.manual_seed(0)" in example.source
    # Quick to run (generous bounds: the machine is shared; the target is < 2 s, the loop < 5 s).
    assert run["seconds"] < (15.0 if name in SLOW else 4.0), run["seconds"]


def test_examples_are_deterministic() -> None:
    """Two fresh runs of the seeded examples report identical values and grads."""
    from .conftest import run_plain

    names = [
        "custom_leaky_relu",
        "mlp_training_step",
        "transformer_encoder",
        "vector_to_parameters_functional_call",
    ]
    first, second = run_plain(names), run_plain(names)
    for name in names:
        assert first[name]["tensors"] == second[name]["tensors"], name
        assert first[name]["stdout"] == second[name]["stdout"], name


def test_example_runs_as_a_standalone_script(tmp_path: Any) -> None:
    """A learner can save an example to a file and run it with plain python."""
    from .conftest import oracle_python

    for name, expect_ok in (("l1_l4_graph", True), ("backward_twice", False)):
        path = tmp_path / f"{name}.py"
        path.write_text(get_example(name).source, encoding="utf-8")
        proc = subprocess.run([oracle_python(), str(path)], capture_output=True, text=True, timeout=120)
        assert (proc.returncode == 0) == expect_ok, proc.stderr
        if not expect_ok:
            assert f'File "{path}", line {line_of(name, "loss.backward()", 1)}' in proc.stderr


# --------------------------------------------------------------------------- registry


def test_registry_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from gradtrace.core.examples import list_examples, get_example\n"
        "examples = list_examples()\n"
        "get_example(examples[0].name)\n"
        "assert 'torch' not in sys.modules, 'the examples registry imported torch'\n"
        "print(len(examples))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == len(EXAMPLE_ORDER)


def test_registry_order_is_curated_and_stable() -> None:
    names = [e.name for e in list_examples()]
    assert names == list(EXAMPLE_ORDER)
    assert names == [e.name for e in list_examples()]  # same on every call
    assert len(set(names)) == len(names)
    assert names != sorted(names)  # curated, not alphabetical
    # Basics before errors: once the first error example appears, only errors follow.
    kinds = ["error" in e.tags for e in list_examples()]
    first_error = kinds.index(True)
    assert all(kinds[first_error:]) and not any(kinds[:first_error])


def test_every_example_has_a_header() -> None:
    for example in list_examples():
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", example.name), example.name
        assert example.title and "\n" not in example.title and len(example.title) <= 80, example.title
        assert example.description and len(example.description) <= 160, example.description
        assert example.tags and all(tag == tag.strip() and tag for tag in example.tags)
        header = parse_header(example.source)
        assert set(header) == {"title", "description", "tags"}, example.name
        assert example.source.startswith("# title: ")
        compile(example.source, example.name, "exec")  # valid Python
    titles = [e.title for e in list_examples()]
    assert len(set(titles)) == len(titles)


def test_get_example() -> None:
    example = get_example("backward_twice")
    assert example in list_examples()
    assert "loss.backward()" in example.source
    with pytest.raises(KeyError) as info:
        get_example("backward-twice")
    message = str(info.value)
    assert "backward_twice" in message and "Known examples" in message
    with pytest.raises(KeyError, match="no built-in example named 'nope'"):
        get_example("nope")


def test_examples_cover_the_seed_articles() -> None:
    """The scenarios of the five source articles, by the API each one is about."""
    sources = {e.name: e.source for e in list_examples()}
    wanted = {
        "derived_param_in_init": "self.x = torch.sigmoid(self.x_raw)",
        "derived_param_in_forward": "range(10000)",
        "vector_to_parameters_unused": "vector_to_parameters(vparams, model.parameters())",
        "detach": ".detach()",
        "no_grad": "with torch.no_grad():",
        "retain_grad": ".retain_grad()",
        "retain_graph": "retain_graph=True",
        "nonscalar_backward_gradient": "y.backward(gradient=v)",
        "custom_relu": "class MyReLU(torch.autograd.Function)",
        "custom_leaky_relu": "class LeakyReLU(torch.autograd.Function)",
        "l1_l4_graph": "l4 = l2 * l3",
        "inplace_version_error": "b[0] = 1000.0",
        "inplace_leaf_error": "a.add_(10.0)",
        "slice_assign_leaf": "a[:] = 0",
        "inplace_leaf_data_fix": "a.data.fill_(10.0)",
        "inplace_leaf_no_grad_fix": "a[:] = 10.0",
        "inplace_leaf_after_use_error": "with torch.no_grad():\n    a[:] = 10.0",
        "backward_twice": "loss.backward()",
        "conv_requires_grad_propagation": "nn.Conv2d(3, 8, 3, 1, 1)",
        "linear_bce_named_parameters": "nn.BCELoss()",
        "rebinding_vs_inplace": "a = a.exp()",
        "clamp_vs_sigmoid": "raw.clamp(0.0, 1.0)",
        "vector_to_parameters_backward": "loss.backward()",
        "parameter_from_slice": "nn.Parameter(a[1])",
    }
    for name, fragment in wanted.items():
        assert fragment in sources[name], (name, fragment)


def test_registry_module_is_lint_clean() -> None:
    """pyproject exempts the example snippets from lint; the registry next to them is held to it."""
    ruff = REPO / ".venv" / "bin" / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed in .venv")
    registry = REPO / "backend" / "gradtrace" / "core" / "examples" / "__init__.py"
    proc = subprocess.run(
        [str(ruff), "check", "--isolated", "--select", "E,F,W,I,B,UP", "--ignore", "E501", str(registry)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
