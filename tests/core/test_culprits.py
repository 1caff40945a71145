"""Errors pin the right node/tensor; the timeline shows how it came to be."""

from __future__ import annotations

import contextlib
import inspect
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from gradtrace.core.tracer import trace_source
from tests.core.oracle import run_plain
from tests.core.scenarios import SCENARIOS


def _trace(src: str) -> dict[str, Any]:
    return trace_source(src).to_dict()


def _node(trace: dict[str, Any], nid: str | None) -> dict[str, Any]:
    assert nid is not None
    return next(n for n in trace["nodes"] if n["id"] == nid)


def _tensor(trace: dict[str, Any], tid: str | None) -> dict[str, Any]:
    assert tid is not None
    return next(t for t in trace["tensors"] if t["id"] == tid)


def test_inplace_version_pins_stale_node_op_and_versions() -> None:
    t = _trace(SCENARIOS["inplace_version_error"])
    err = t["error"]
    node = _node(t, err["node"])
    assert node["name"] == "SigmoidBackward0"  # the node whose saved output was overwritten
    assert node["stale"] is True
    saved = node["saved"][0]
    assert (saved["version_at_save"], saved["version_now"]) == (0, 1)
    assert (err["version_at_save"], err["version_now"]) == (0, 1)
    assert err["related_line"] == 6  # b.mul_(3) (the scenario starts with a blank line)
    assert "b" in _tensor(t, err["tensor"])["names"]
    # Flagged before backward ran: a stale event precedes the failing pass's first execute.
    kinds = [e["kind"] for e in t["events"]]
    assert kinds.index("stale") < kinds.index("execute")
    inplace = next(e for e in t["events"] if e["kind"] == "inplace")
    assert (inplace["op"], inplace["version_before"], inplace["version_after"]) == ("mul_", 0, 1)


WRITE_IN_A_HOOK = """import torch
x = torch.ones(3, requires_grad=True)
a = x * 2
b = a * a
c = b * 3
def hook(g):
    a.mul_(3)
    return g
c.register_hook(hook)
c.sum().backward()
"""


CHECKPOINT_INPUT_WRITTEN = """import torch
from torch.utils.checkpoint import checkpoint
w = torch.ones(3, requires_grad=True)
x = w * 2
y = checkpoint(lambda t: (t * t).sum(), x, use_reentrant=False)
x.mul_(3)
y.backward()
"""


@pytest.mark.parametrize(
    ("source", "line", "write_line", "name", "node"),
    [
        # The hook's a.mul_(3) runs inside the pass, after the stale check before it: the error
        # had no tensor, no line for the write and no versions.
        (WRITE_IN_A_HOOK, 10, 7, "a", ("MulBackward0", 4)),
        # Checkpointing saves through saved-tensor hooks, so the tracer never sees the saved
        # value go stale; the error's versions still lead to the write.
        (CHECKPOINT_INPUT_WRITTEN, 7, 6, "x", None),
    ],
    ids=["write_in_a_backward_hook", "write_to_a_checkpointed_input"],
)
def test_a_write_the_stale_check_cannot_see_is_still_pinned(
    source: str, line: int, write_line: int, name: str, node: tuple[str, int] | None
) -> None:
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.line == line
    t = _trace(source)
    err = t["error"]
    assert (err["kind"], err["line"], err["related_line"]) == ("inplace_version", line, write_line)
    if node is not None:
        assert (_node(t, err["node"])["name"], _node(t, err["node"])["line"]) == node
    assert name in _tensor(t, err["tensor"])["names"]
    assert (err["version_at_save"], err["version_now"]) == (0, plain.namespace[name]._version)


def test_backward_twice_pins_freed_node_and_first_pass() -> None:
    t = _trace(SCENARIOS["backward_twice_error"])
    err = t["error"]
    assert _node(t, err["node"])["name"] == "ExpBackward0"
    assert err["related_line"] == 5  # the first backward freed it
    assert "retain_graph" in err["explanation"]["fix"]
    first, second = t["backward_passes"]
    assert err["node"] in first["freed"]
    assert second["error"]["kind"] == "backward_twice"


def test_backward_into_an_earlier_iterations_graph_says_detach() -> None:
    # PyTorch's own verdict: the carried hidden state fails at the second backward, the
    # detached one runs; the trace tells the two apart from its records.
    plain = run_plain(SCENARIOS["rnn_hidden_state_carried_error"])
    assert isinstance(plain.exception, RuntimeError) and plain.line == 12
    assert run_plain(SCENARIOS["rnn_hidden_state_detached"]).exception is None
    t = _trace(SCENARIOS["rnn_hidden_state_carried_error"])
    err = t["error"]
    assert (err["kind"], err["line"], err["related_line"]) == ("backward_twice", 12, 12)
    node = _node(t, err["node"])
    assert (node["name"], node["line"]) == ("TanhBackward0", 9)
    assert err["node"] in t["backward_passes"][0]["freed"]  # the first iteration's
    assert err["explanation"]["title"] == "Backward into an earlier iteration's graph"
    assert "h = h.detach()" in err["explanation"]["fix"]
    assert "line 9 takes it as an input" in err["explanation"]["what"]
    # The same tensor differentiated twice is its own, simpler lesson.
    once = _trace(SCENARIOS["backward_twice_error"])["error"]["explanation"]
    assert once["title"] == "Backward called twice on the same graph"


RUNNING_TOTAL = """import torch
w = torch.ones(2, requires_grad=True)
total = 0
for i in range(3):
    loss = (w * w).sum() * i
    loss.backward()
    total += loss
total.backward()
"""


def test_a_running_total_of_losses_gets_the_carried_graph_lesson() -> None:
    # The failing node is the last iteration's, so its line never ran again after the free;
    # the graph of `total` still holds every iteration's nodes.
    plain = run_plain(RUNNING_TOTAL)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 8
    err = _trace(RUNNING_TOTAL)["error"]
    assert (err["kind"], err["line"], err["related_line"]) == ("backward_twice", 8, 6)
    assert err["explanation"]["title"] == "Backward through a graph collected over several iterations"
    assert "total += loss.item()" in err["explanation"]["fix"]
    # The fix it gives works under plain PyTorch.
    fixed = RUNNING_TOTAL.replace("total += loss\n", "total += loss.item()\n").replace("total.backward()\n", "print(total)\n")
    assert run_plain(fixed).exception is None


SHARED_SUBGRAPH = """import torch
w = torch.ones(2, requires_grad=True)
y = w * w
a = y.sum()
b = (y * 2).sum()
a.backward()
b.backward()
"""


@pytest.mark.parametrize(
    ("src", "line", "first", "title", "fix_says"),
    [
        (SCENARIOS["backward_twice_error"], 6, 5, "Backward called twice on the same graph", "run the forward"),
        (SHARED_SUBGRAPH, 7, 6, "Backward through a graph whose buffers were already freed", "(loss1 + loss2).backward()"),
    ],
    ids=["same_tensor", "two_losses_sharing_a_graph"],
)
def test_a_second_backward_is_explained_by_how_it_reached_the_freed_graph(
    src: str, line: int, first: int, title: str, fix_says: str
) -> None:
    plain = run_plain(src)
    assert isinstance(plain.exception, RuntimeError) and plain.line == line
    err = _trace(src)["error"]
    assert (err["kind"], err["line"], err["related_line"]) == ("backward_twice", line, first)
    assert err["explanation"]["title"] == title
    assert fix_says in err["explanation"]["fix"] and "retain_graph=True" in err["explanation"]["fix"]
    # The fix the lesson gives works under plain PyTorch: retain_graph on the first pass.
    lines = src.splitlines()
    lines[first - 1] = lines[first - 1].replace(".backward()", ".backward(retain_graph=True)")
    assert run_plain("\n".join(lines) + "\n").exception is None


@pytest.mark.parametrize(
    ("call", "argument"),
    [("torch.autograd.grad(out, x)", "grad_outputs"), ("torch.autograd.backward(out)", "grad_tensors")],
)
def test_nonscalar_output_fix_names_the_calls_own_argument(call: str, argument: str) -> None:
    src = f"import torch\nx = torch.randn(3, requires_grad=True)\nout = x * 2\n{call}\n"
    assert isinstance(run_plain(src).exception, RuntimeError)
    err = _trace(src)["error"]
    assert (err["kind"], err["line"]) == ("nonscalar_backward", 4)
    assert argument in err["explanation"]["title"]
    # Both fixes the explanation gives run under plain PyTorch in place of the failing call.
    fixes = re.findall(r"torch\.autograd\.\w+\(out(?:\.sum\(\))?(?:, [^()]*(?:\([^()]*\))?)?\)", err["explanation"]["fix"])
    assert len(fixes) == 2 and any(argument in f for f in fixes)
    for fix in fixes:
        assert run_plain(src.replace(call, fix)).exception is None, fix


def test_derived_parameter_in_init_pins_sigmoid_node() -> None:
    src = """
import torch
import torch.nn as nn
import torch.nn.functional as F
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.x_raw = nn.Parameter(torch.tensor(0.0))
        self.x = F.sigmoid(self.x_raw)
    def forward(self):
        return self.x
model = M()
opt = torch.optim.Adam(model.parameters())
for i in range(2):
    loss = (model() - 0.9) ** 2
    loss.backward()
    opt.step()
    opt.zero_grad()
"""
    t = _trace(src)
    err = t["error"]
    assert err["kind"] == "backward_twice"
    node = _node(t, err["node"])
    assert node["name"] == "SigmoidBackward0"
    assert node["line"] == 9  # created in __init__
    names = {n for x in t["tensors"] for n in x["names"]}
    assert {"model.x_raw", "model.x"} <= names
    # The optimizer step is an in-place event on the parameter.
    steps = [e for e in t["events"] if e["kind"] == "inplace" and e["op"] == "Adam.step"]
    assert steps and _tensor(t, steps[0]["tensor"])["names"] == ["model.x_raw"]


def test_inplace_leaf_pins_leaf_tensor() -> None:
    t = _trace(SCENARIOS["inplace_leaf_error"])
    assert _tensor(t, t["error"]["tensor"])["names"] == ["w"]


def test_unused_input_pins_the_unused_tensor() -> None:
    t = _trace(SCENARIOS["unused_input_error"])
    assert _tensor(t, t["error"]["tensor"])["names"] == ["y"]


def test_nonscalar_and_no_grad_fn_pin_root() -> None:
    t = _trace(SCENARIOS["nonscalar_error"])
    assert _tensor(t, t["error"]["tensor"])["names"] == ["y"]
    t = _trace(SCENARIOS["no_grad_fn_error"])
    assert _tensor(t, t["error"]["tensor"])["names"] == ["y"]


def test_custom_function_wrong_grads_pins_custom_node() -> None:
    t = _trace(SCENARIOS["custom_wrong_grads"])
    node = _node(t, t["error"]["node"])
    assert node["name"] == "BadBackward" and node["kind"] == "custom"


def test_unknown_error_falls_back_on_partial_graph() -> None:
    t = _trace("import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 2\nraise ValueError('boom <b>')\n")
    err = t["error"]
    assert (err["type"], err["message"], err["line"], err["kind"]) == ("ValueError", "boom <b>", 4, "exception")
    assert [n["name"] for n in t["nodes"]] == ["torch::autograd::AccumulateGrad", "MulBackward0"]
    assert "ValueError: boom <b>" in t["stderr"]


def test_syntax_error_has_line_and_column() -> None:
    t = _trace("import torch\nx = (1,\ny = 2 +\n")
    err = t["error"]
    assert t["status"] == "error" and err["kind"] == "syntax_error"
    assert err["type"] == "SyntaxError" and err["line"] == 2 and err["column"] is not None
    t = _trace("x = 1\n  y = 2\n")
    assert t["error"]["type"] == "IndentationError" and t["error"]["line"] == 2


@pytest.mark.parametrize(
    ("source", "title", "mentions"),
    [
        ("import torch\n%matplotlib inline\nx = torch.ones(2)\n", "Jupyter", "%matplotlib"),
        ("!pip install torch\nimport torch\n", "Jupyter", "!pip install"),
        (">>> import torch\n>>> x = torch.ones(2)\n", "prompts", ">>>"),
        ("import torch\nx = torch.ones(2\uff09\n", "punctuation", "Replace \uff09 with )"),
        ("x = \u201chi\u201d\n", "punctuation", 'Replace \u201c with "'),
        ("x = 1\n\u3000y = 2\n", "full-width space", "ordinary space"),
        ("x\u00a0= 1\n", "invisible", "U+00A0"),
        ("if True:\n    x = 1\n\ty = 2\n", "Tabs and spaces", "spaces only"),
    ],
)
def test_pasted_code_that_does_not_parse_is_explained(source: str, title: str, mentions: str) -> None:
    # Learners paste from notebooks, docs and chat windows, and type with CJK input methods.
    with pytest.raises(SyntaxError) as python:
        compile(source, "<snippet>", "exec")
    err = _trace(source)["error"]
    assert (err["type"], err["line"], err["kind"]) == (type(python.value).__name__, python.value.lineno, "syntax_error")
    text = " ".join(err["explanation"].values())
    assert title in err["explanation"]["title"] and mentions in text


def test_a_byte_order_mark_is_skipped_as_python_skips_it_in_files() -> None:
    source = "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 3).sum().backward()\nprint(x.grad)\n"
    with_bom = "\ufeff" + source
    compile(with_bom.encode("utf-8"), "<snippet>", "exec")  # Python reading the file: fine
    assert _trace(with_bom) == _trace(source)


def test_a_long_expression_compiles_or_not_as_in_python(tmp_path: Path) -> None:
    # CPython's compiler gives up on expressions nested deeper than its limit, which counts the
    # depth it is called at: find where `python file.py` gives up, and trace both sides.
    def source(n: int) -> str:
        return "x = " + " + ".join(["1"] * n) + "\nprint(x)\n"

    def python_compiles(n: int) -> bool:
        path = tmp_path / "long.py"
        path.write_text(source(n))
        return subprocess.run([sys.executable, str(path)], capture_output=True, timeout=60).returncode == 0

    lo, hi = 100, 20_000
    assert python_compiles(lo) and not python_compiles(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if python_compiles(mid) else (lo, mid)
    assert _trace(source(lo))["status"] == "ok"  # whatever the test runner's own stack depth
    # (The compiler counts depth in thirds of a call: the trace may compile a few terms more.)
    trace = _trace(source(hi + 10))
    err = trace["error"]
    assert (err["type"], err["kind"]) == ("RecursionError", "code_too_nested")
    # stderr as Python's: the error alone (no "File ..., line None": there is no place to name)
    path = tmp_path / "long.py"
    path.write_text(source(hi + 10))
    plain = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    assert trace["stderr"] == plain.stderr.splitlines(keepends=True)[-1] == f"RecursionError: {err['message']}\n"


def test_a_null_byte_is_pinned_to_its_line_and_column() -> None:
    err = _trace("import torch\nx = torch.ones(2)\ny = x.s\0um()\n")["error"]
    assert (err["kind"], err["line"], err["column"]) == ("syntax_error", 3, 8)
    assert "invisible" in err["explanation"]["title"] and "U+0000" in err["explanation"]["what"]


def test_optimizer_given_a_non_leaf_pins_that_tensor() -> None:
    # No torch call failed (the optimizer checks is_leaf itself): the culprit comes from
    # the optimizer's frame.
    t = _trace(SCENARIOS["optimizer_nonleaf_error"])
    err = t["error"]
    assert (err["kind"], err["line"]) == ("optimizer_nonleaf", 4)
    assert _tensor(t, err["tensor"])["names"] == ["w"] and _tensor(t, err["tensor"])["is_leaf"] is False


def test_common_mistakes_pin_the_tensor_involved() -> None:
    t = _trace(SCENARIOS["numpy_requires_grad_error"])
    assert t["error"]["kind"] == "numpy_requires_grad" and "x" in _tensor(t, t["error"]["tensor"])["names"]
    t = _trace(SCENARIOS["hook_no_grad_error"])
    assert "x" in _tensor(t, t["error"]["tensor"])["names"]
    t = _trace(SCENARIOS["grad_input_no_grad_error"])  # z, the input that does not require grad
    assert "z" in _tensor(t, t["error"]["tensor"])["names"]


@pytest.mark.parametrize(
    ("scenario", "kind", "name"),
    [
        ("embedding_index_error", "index_out_of_range", "tokens"),  # the ids, not the table
        ("item_of_vector_error", "not_a_scalar", "loss"),
        ("bce_on_logits_error", "probabilities_expected", "scores"),  # the input, not the target
        ("sum_over_missing_dim_error", "dim_out_of_range", "x"),
        ("optimizer_given_tensor_error", "optimizer_params_type", "w"),  # from the optimizer's frame
        ("grad_assign_wrong_shape_error", "grad_assign_mismatch", "w"),  # the tensor, not the value
        ("inference_tensor_requires_grad_error", "inference_requires_grad", "data"),
        ("index_into_loss_error", "index_scalar", "loss"),
        ("mean_of_integers_error", "float_expected", "marks"),
        ("fractional_add_to_integers_error", "float_expected", "counts"),
        ("model_name_reused_error", "tensor_not_callable", "model"),  # the name now holding a tensor
        ("inplace_add_grows_tensor_error", "inplace_broadcast", "total"),  # the tensor written in place
    ],
)
def test_first_week_errors_pin_the_tensor_to_look_at(scenario: str, kind: str, name: str) -> None:
    t = _trace(SCENARIOS[scenario])
    err = t["error"]
    assert err["kind"] == kind and name in _tensor(t, err["tensor"])["names"]


def test_a_plain_tensor_refused_as_parameter_is_pinned() -> None:
    # No torch call failed (nn.Module.__setattr__ refused it): the culprit comes from its frame.
    t = _trace(SCENARIOS["plain_tensor_as_parameter_error"])
    err = t["error"]
    assert (err["kind"], err["line"]) == ("parameter_expected", 5)
    refused = _tensor(t, err["tensor"])
    assert refused["is_leaf"] is False and refused["shape"] == [2, 2] and refused["names"] == []


def test_a_hook_that_changes_the_gradient_shape_pins_the_hooked_node() -> None:
    t = _trace(SCENARIOS["hook_changes_grad_shape_error"])
    err = t["error"]
    # The hook is on y: pinned with the node that made it, not the node that sent the gradient.
    assert err["kind"] == "hook_changed_grad" and _node(t, err["node"])["name"] == "MulBackward0"
    assert _tensor(t, err["tensor"])["names"] == ["y"]
    leaf = _trace(SCENARIOS["hook_changes_grad_shape_error"].replace("y.register_hook", "x.register_hook"))
    assert leaf["error"]["kind"] == "hook_changed_grad" and _tensor(leaf, leaf["error"]["tensor"])["names"] == ["x"]
    assert _node(leaf, leaf["error"]["node"])["name"] == "torch::autograd::AccumulateGrad"


def test_a_gradient_of_the_wrong_shape_pins_the_output_it_was_given_for() -> None:
    t = _trace(SCENARIOS["gradient_of_wrong_shape_error"])
    err = t["error"]
    assert (err["kind"], err["line"]) == ("gradient_shape", 5) and _tensor(t, err["tensor"])["names"] == ["y"]


@pytest.mark.parametrize(
    ("scenario", "advice"),
    [
        ("backwards_typo_error", "Did you mean backward?"),  # as Python's own traceback would suggest
        ("tensor_zero_grad_error", "w.grad = None"),  # a name that belongs to optimizers and modules
    ],
)
def test_a_missing_tensor_attribute_gets_a_suggestion(scenario: str, advice: str) -> None:
    err = _trace(SCENARIOS[scenario])["error"]
    assert err["kind"] == "no_such_attribute" and advice in err["explanation"]["fix"]


def test_the_failed_call_is_given_with_its_inputs_as_the_snippet_made_them() -> None:
    source = SCENARIOS["stack_unequal_error"]
    plain = run_plain(source)
    t = _trace(source)
    call = t["error"]["call"]
    assert call["op"] == "stack" and call["inputs_elided"] == 0
    named = [(_tensor(t, i["tensor"])["names"], i["shape"], i["dtype"]) for i in call["inputs"]]
    a, b = plain.namespace["a"], plain.namespace["b"]
    assert named == [(["a"], list(a.shape), str(a.dtype)), (["b"], list(b.shape), str(b.dtype))]


def test_a_call_that_failed_earlier_is_not_blamed_for_a_later_error() -> None:
    t = _trace(
        "import torch\nw = torch.ones(2, requires_grad=True)\ntry:\n    w @ torch.ones(3)\n"
        "except RuntimeError:\n    pass\nw.requires_grad_(False)\nw.numpy()\nraise ValueError('mine')\n"
    )
    assert t["error"]["type"] == "ValueError" and t["error"]["call"] is None and t["error"]["tensor"] is None


@pytest.mark.parametrize(
    "source",
    [
        "import torch\nw = torch.ones(2, requires_grad=True)\nw.grad.zero_()\n",  # before any backward
        "import torch\nw = torch.ones(2, requires_grad=True)\nwith torch.no_grad():\n    w.grad += 1\n",  # a statement
        "import torch\nw = torch.ones(2)\nloss = (w * 2).sum()\nprint(w.grad + 1)\n",  # needs no grad
        "import torch\nx = torch.ones(2, requires_grad=True)\nw = x * 2\nw.sum().backward()\nw.grad.zero_()\n",  # non-leaf
        "import torch\nx = torch.ones(2, requires_grad=True)\nw = torch.ones(2, requires_grad=True)\n"
        "(x * 2).sum().backward()\nprint(w.grad * 3)\n",  # not reached by the pass that ran
    ],
)
def test_a_none_grad_pins_the_tensor_and_says_which_reason(source: str) -> None:
    plain = run_plain(source)
    w = plain.namespace["w"]  # PyTorch's own flags decide which reason is the true one
    assert isinstance(plain.exception, AttributeError | TypeError) and w.grad is None
    if not w.requires_grad:
        reason = "w does not require grad"
    elif not w.is_leaf:
        reason = "w is not a leaf"
    elif "backward()" in source:
        reason = "did not reach it"
    else:
        reason = "no backward pass has run yet"
    t = _trace(source)
    err = t["error"]
    assert err["kind"] == "grad_is_none" and _tensor(t, err["tensor"])["names"] == ["w"]
    assert err["explanation"]["what"].startswith("w.grad is None here: ") and reason in err["explanation"]["what"]


NET = "import torch, torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 1)\n\nnet = Net()\nmodel = nn.Sequential(nn.Linear(2, 2))\nparams = {'w': torch.ones(2, requires_grad=True)}\n"


@pytest.mark.parametrize(
    ("expr", "path", "name"),
    [
        ("net.fc.weight.grad.norm()", ("fc", "weight"), "net.fc.weight"),
        ("model[0].weight.grad * 0.1", ("0", "weight"), "model.0.weight"),
        ("model[-1].bias.grad.zero_()", ("0", "bias"), "model.0.bias"),
        ("params['w'].grad + 1", None, "params['w']"),
    ],
)
def test_a_none_grad_reached_through_a_module_or_container_is_pinned(expr: str, path: Any, name: str) -> None:
    # Only a bare `w.grad` was pinned; parameters are usually reached by a path.
    source = NET + f"print({expr})\n"
    plain = run_plain(source)
    assert isinstance(plain.exception, AttributeError | TypeError) and plain.line == 10
    t = _trace(source)
    err = t["error"]
    assert (err["kind"], err["line"]) == ("grad_is_none", 10) and err["tensor"] is not None
    assert name in _tensor(t, err["tensor"])["names"] or name.startswith("params")
    shown = expr.split(".grad")[0]
    assert err["explanation"]["what"].startswith(f"{shown}.grad is None here: ")
    assert "no backward pass has run yet" in err["explanation"]["what"]


@pytest.mark.parametrize(
    ("source", "says", "fix_says"),
    [
        ("import torch\ntorch.set_grad_enabled(False)\nx = torch.ones(2, requires_grad=True)\ny = (x * 2).sum()\n"
         "y.backward()\n", "off since line 2", "torch.set_grad_enabled(True)"),
        ("import torch\nx = torch.ones(2)\ny = (x * 2).sum()\nx.requires_grad_()\ny.backward()\n",
         "switched on at line 4", "before computing the output"),
        ("import torch\nx = torch.ones(2)\ny = (x * 2).sum()\ny.backward()\n", "", "requires_grad=True"),
    ],
    ids=["grad_turned_off_globally", "requires_grad_too_late", "never_required"],
)
def test_an_output_without_grad_fn_says_which_cause_this_snippet_has(source: str, says: str, fix_says: str) -> None:
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.namespace["y"].grad_fn is None
    err = _trace(source)["error"]
    assert (err["kind"], err["line"]) == ("no_grad_fn", plain.line)
    assert says in err["explanation"]["what"] and fix_says in err["explanation"]["fix"]
    # The fix works under plain PyTorch: tracking on / requires_grad set before the output.
    fixed = source.replace("torch.set_grad_enabled(False)", "torch.set_grad_enabled(True)")
    fixed = fixed.replace("x = torch.ones(2)\n", "x = torch.ones(2, requires_grad=True)\n")
    assert run_plain(fixed).exception is None


def test_a_saved_tensor_detached_in_place_pins_the_node_that_needed_it() -> None:
    t = _trace(SCENARIOS["saved_then_detached_in_place_error"])
    err = t["error"]
    c = next(x for x in t["tensors"] if x["names"] == ["c"])
    assert err["kind"] == "saved_detached_inplace" and err["node"] == c["grad_fn"]


def test_inplace_inside_forward_pins_the_module_line() -> None:
    t = _trace(SCENARIOS["inplace_in_module_forward_error"])
    err = t["error"]
    node = _node(t, err["node"])
    assert node["name"] == "ExpBackward0" and node["module"] == "net" and node["line"] == 9
    assert err["related_line"] == 10 and err["line"] == 14


def test_anomaly_nan_pins_the_node_that_produced_it() -> None:
    t = _trace(SCENARIOS["anomaly_nan_error"])
    err = t["error"]
    assert err["kind"] == "anomaly_nan"
    node = _node(t, err["node"])
    assert f"Function '{node['name']}'" in err["message"] and node["line"] == 5


def test_a_none_grad_pins_the_non_leaf_it_was_read_from() -> None:
    for name, var, line in [("nonleaf_grad_none_error", "y", 6), ("manual_sgd_nonleaf_error", "w", 8)]:
        t = _trace(SCENARIOS[name])
        err = t["error"]
        assert (err["kind"], err["line"]) == ("grad_is_none", line)
        pinned = _tensor(t, err["tensor"])
        assert var in pinned["names"] and not pinned["is_leaf"]
        warning = next(e for e in t["events"] if e["seq"] == err["related_event"])
        assert warning["kind"] == "warning" and warning["line"] == line


def test_stale_saved_view_pins_node_and_the_write_into_its_base() -> None:
    t = _trace(SCENARIOS["saved_view_base_inplace_error"])
    err = t["error"]
    assert err["kind"] == "saved_view_inplace"
    node = _node(t, err["node"])
    assert node["name"] == "MmBackward0"
    mat2 = next(s for s in node["saved"] if s["name"] == "mat2")
    # PyTorch's message for a stale view gives no versions: they come from the write itself.
    assert (mat2["stale"], mat2["version_at_save"], mat2["version_now"]) == (True, 0, 1)
    assert (err["version_at_save"], err["version_now"]) == (0, 1)
    assert err["related_line"] == 8  # w.mul_(2) under no_grad
    kinds = [e["kind"] for e in t["events"]]
    assert kinds.index("stale") < kinds.index("execute")


def test_view_made_in_init_and_stale_after_a_step_pins_the_view_and_the_step() -> None:
    t = _trace(SCENARIOS["derived_split_in_init_error"])
    err = t["error"]
    assert err["kind"] == "saved_view_inplace"
    assert "model.w_q" in _tensor(t, err["tensor"])["names"]
    assert err["related_line"] == 21  # opt.step()
    assert "forward()" in err["explanation"]["fix"]
    assert len(t["backward_passes"]) == 1  # the first step ran; the second forward failed


def test_frozen_input_of_backward_is_explained_as_an_input_not_retain_grad() -> None:
    t = _trace(SCENARIOS["backward_inputs_frozen_error"])
    err = t["error"]
    assert "retain_grad" in err["message"]  # PyTorch's wording...
    assert err["kind"] == "input_no_grad"  # ...but the learner passed a frozen input
    assert "model.weight" in _tensor(t, err["tensor"])["names"]
    assert "inputs=" in err["explanation"]["what"]


def test_common_non_autograd_and_double_backward_errors_pin_their_tensor_or_node() -> None:
    t = _trace(SCENARIOS["detach_view_inplace_error"])
    assert "first" in _tensor(t, t["error"]["tensor"])["names"]
    t = _trace(SCENARIOS["view_after_transpose_error"])
    assert _tensor(t, t["error"]["tensor"])["shape"] == [4, 3]  # w.t(), the tensor view() was called on
    assert "reshape" in t["error"]["explanation"]["fix"]
    t = _trace(SCENARIOS["double_backward_sdpa_error"])
    # The node the second pass could not run: the first pass's backward, built by create_graph.
    node = _node(t, t["error"]["node"])
    assert node["id"] in t["backward_passes"][0]["created_nodes"]
    assert t["backward_passes"][1]["order"][-1] == node["id"]


def test_every_error_kind_is_in_the_documented_table() -> None:
    from pathlib import Path

    from gradtrace.core import explain

    doc = (Path(__file__).resolve().parents[2] / "docs" / "trace-format.md").read_text()
    missing = [rule.kind for rule in explain.RULES if f"`{rule.kind}`" not in doc]
    assert not missing, f"add these kinds to docs/trace-format.md's error table: {missing}"


def test_beginner_dtype_errors_pin_the_data_tensor() -> None:
    """The tensor pinned is the one to convert: the NumPy input, not the layer's weight; the
    float targets or indices; the integer BCE target."""
    for name, expected in [
        ("numpy_float64_into_linear_error", "x"),
        ("float_class_targets_error", "target"),
        ("embedding_float_indices_error", "ids"),
        ("bce_integer_targets_error", "y"),
    ]:
        t = _trace(SCENARIOS[name])
        assert t["error"]["kind"] in ("dtype_mismatch", "integer_expected"), name
        assert expected in _tensor(t, t["error"]["tensor"])["names"], name


def test_tensor_used_as_condition_pins_it() -> None:
    t = _trace(SCENARIOS["tensor_as_condition_error"])
    assert t["error"]["kind"] == "tensor_bool"
    assert _tensor(t, t["error"]["tensor"])["shape"] == [3]  # the comparison w.grad > 1
    assert t["error"]["line"] == 6


def test_saved_no_grad_view_written_later_is_flagged_stale_and_pinned() -> None:
    """A view made under no_grad, saved by a later op, then its base written with grad on:
    PyTorch refuses to read it in backward with a view error (no versions in the message).
    The saving node is flagged stale before the pass and pinned, with the write's line."""
    t = _trace(SCENARIOS["saved_no_grad_view_written_error"])
    err = t["error"]
    assert err["kind"] == "view_no_grad_inplace"
    node = _node(t, err["node"])
    assert node["name"] == "MulBackward0" and node["stale"] is True
    assert "v" in _tensor(t, err["tensor"])["names"]
    assert (err["version_at_save"], err["version_now"], err["related_line"]) == (0, 1, 9)
    kinds = [e["kind"] for e in t["events"]]
    assert kinds.index("stale") < kinds.index("execute")


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        ("loss_name_typo_error", "name_not_defined"),
        ("layer_attribute_typo_error", "no_such_member"),  # a parameter of a PyTorch layer
        ("submodule_name_typo_error", "no_such_member"),  # a layer the snippet's own module registered
        ("optimizer_method_typo_error", "no_such_member"),
        ("activation_class_typo_error", "no_such_member"),  # a class of torch.nn, case aside
    ],
)
def test_a_mistyped_name_gets_the_suggestion_python_itself_prints(scenario: str, kind: str) -> None:
    source = SCENARIOS[scenario]
    plain = run_plain(source)
    assert plain.exception is not None
    printed = io.StringIO()  # the interpreter's own display (the traceback module of 3.11 has no suggestions)
    with contextlib.redirect_stderr(printed):
        sys.__excepthook__(type(plain.exception), plain.exception, plain.exception.__traceback__)
    suggested = re.search(r"Did you mean: '(\w+)'\?", printed.getvalue())
    assert suggested is not None
    err = _trace(source)["error"]
    assert err["kind"] == kind and err["explanation"]["fix"].startswith(f"Did you mean {suggested.group(1)}")


def test_an_alias_used_without_its_import_gets_the_import() -> None:
    err = _trace(SCENARIOS["functional_not_imported_error"])["error"]
    fix = err["explanation"]["fix"]
    assert err["kind"] == "name_not_defined" and "import torch.nn.functional as F" in fix
    # The import it names really defines F for the rest of the snippet.
    fixed = SCENARIOS["functional_not_imported_error"].replace("import torch\n", "import torch\nimport torch.nn.functional as F\n", 1)
    assert run_plain(fixed).exception is None


@pytest.mark.parametrize(
    ("source", "function", "suggested"),
    [
        (SCENARIOS["linear_keyword_typo_error"], torch.nn.Linear.__init__, "out_features"),
        ("import torch\nclass Net(torch.nn.Module):\n    def __init__(self, hidden):\n        super().__init__()\nnet = Net(hiden=3)\n", None, "hidden"),
    ],
)
def test_a_mistyped_keyword_gets_the_parameter_it_was_meant_to_be(source: str, function: Any, suggested: str) -> None:
    err = _trace(source)["error"]
    assert err["kind"] == "unexpected_keyword" and f"Did you mean {suggested}" in err["explanation"]["fix"]
    if function is not None:  # the suggestion is one of the function's real parameters
        assert suggested in inspect.signature(function).parameters
    fixed = source.replace("out_feature=", "out_features=").replace("hiden=", "hidden=")
    assert run_plain(fixed).exception is None


def test_a_keyword_from_an_older_pytorch_gets_its_new_name() -> None:
    source = SCENARIOS["backward_retain_variables_error"]
    err = _trace(source)["error"]
    assert err["kind"] == "unexpected_keyword" and "retain_graph" in err["explanation"]["fix"]
    assert run_plain(source.replace("retain_variables", "retain_graph")).exception is None


def test_a_lazy_layer_before_its_first_forward_is_listed_with_its_placeholder_shape() -> None:
    source = "import torch\nimport torch.nn as nn\nmodel = nn.Sequential(nn.LazyLinear(3), nn.ReLU())\n"
    t = _trace(source)
    assert t["status"] == "ok"
    plain = run_plain(source).namespace["model"][0].weight
    weight = next(x for x in t["tensors"] if x["names"] == ["model.0.weight"])
    assert weight["value"] == {"shape": list(plain.size()), "dtype": str(plain.dtype), "numel": 0, "layout": "uninitialized"}


@pytest.mark.parametrize(
    "source",
    [
        # a class whose listing raises
        "class Meta(type):\n    def __dir__(cls):\n        raise RuntimeError('no dir')\nclass A(metaclass=Meta):\n    pass\na = A()\na.foo\n",
        # an instance whose __dict__ raises
        "class A:\n    @property\n    def __dict__(self):\n        raise RuntimeError('no dict')\na = A()\na.foo\n",
    ],
)
def test_objects_that_refuse_to_be_listed_keep_the_lesson_without_a_suggestion(source: str) -> None:
    plain = run_plain(source)
    err = _trace(source)["error"]
    assert (err["type"], err["message"]) == (type(plain.exception).__name__, str(plain.exception))
    assert err["kind"] == "no_such_member" and "Did you mean" not in err["explanation"]["fix"]


@pytest.mark.parametrize(
    ("scenario", "first_pass", "fixed_pass", "subject"),
    [
        ("gradient_differentiated_again_error", "grad(y, x)", "grad(y, x, create_graph=True)", "computed from a gradient autograd.grad() returned"),
        ("leaf_grad_backward_again_error", ".sum().backward()\nx.grad", ".sum().backward(create_graph=True)\nx.grad", "It is computed from a .grad"),
    ],
)
def test_differentiating_a_gradient_made_without_create_graph_says_so(
    scenario: str, first_pass: str, fixed_pass: str, subject: str
) -> None:
    source = SCENARIOS[scenario]
    err = _trace(source)["error"]
    assert err["kind"] == "no_grad_fn" and subject in err["explanation"]["what"]
    assert "create_graph=True" in err["explanation"]["fix"]
    # The fix it gives works in plain PyTorch: the first pass with create_graph=True.
    fixed = source.replace(first_pass, fixed_pass)
    assert fixed != source and run_plain(fixed).exception is None


def test_an_output_without_grad_fn_and_no_earlier_pass_gets_no_second_derivative_hint() -> None:
    err = _trace(SCENARIOS["no_grad_fn_error"])["error"]
    assert err["kind"] == "no_grad_fn" and "create_graph" not in err["explanation"]["what"]


def test_an_earlier_unrelated_pass_gets_no_second_derivative_hint() -> None:
    # A first training step ran backward; the failing output was never a gradient.
    source = ("import torch\nw = torch.ones(2, requires_grad=True)\n(w * 2).sum().backward()\n"
              "loss = (torch.ones(2) * 3).sum()\nloss.backward()\n")
    plain = run_plain(source)
    assert plain.namespace["loss"].grad_fn is None and plain.line == 5
    err = _trace(source)["error"]
    assert err["kind"] == "no_grad_fn" and "create_graph" not in err["explanation"]["what"] + err["explanation"]["fix"]
    assert "cut by" not in err["explanation"]["what"]  # nothing in it requires grad


# The scenario's Function, differentiated twice with a grad_outputs that does not require
# grad: PyTorch's "element 0 ... does not require grad" rather than its own once_differentiable error.
ONCE_DIFFERENTIABLE_TWICE = SCENARIOS["once_differentiable_twice_error"].replace(
    "v = torch.ones(2, requires_grad=True)\n(g,) = torch.autograd.grad(Square.apply(x), x, grad_outputs=v, create_graph=True)\n",
    "(g,) = torch.autograd.grad(Square.apply(x).sum(), x, create_graph=True)\n",
)


def test_a_second_derivative_through_a_once_differentiable_backward_names_it() -> None:
    # create_graph=True was given: the usual hint would be wrong. The decorator is the cause.
    assert "grad_outputs" not in ONCE_DIFFERENTIABLE_TWICE
    lines = ONCE_DIFFERENTIABLE_TWICE.splitlines()
    grad_line = next(i for i, text in enumerate(lines, 1) if "autograd.grad(" in text)
    plain = run_plain(ONCE_DIFFERENTIABLE_TWICE)
    assert plain.namespace["g"].grad_fn is None and plain.line == grad_line + 1
    assert "does not require grad" in str(plain.exception)
    err = _trace(ONCE_DIFFERENTIABLE_TWICE)["error"]
    assert err["kind"] == "no_grad_fn" and err["line"] == grad_line + 1
    assert "SquareBackward is decorated with @once_differentiable" in err["explanation"]["what"]
    assert f"returned at line {grad_line}" in err["explanation"]["what"]
    fixed = ONCE_DIFFERENTIABLE_TWICE.replace("    @once_differentiable\n", "")
    assert "remove @once_differentiable" in err["explanation"]["fix"] and run_plain(fixed).exception is None


@pytest.mark.parametrize(
    ("source", "cut", "line"),
    [
        ("correct = logits.argmax(1) == y\nacc = correct.float().mean()\nacc.backward()\n", "argmax() and a comparison (==) on line 4", 6),
        ("(logits.argmax(1) == y).float().mean().backward()\n", "argmax() and a comparison (==) on line 4", 4),
        ("model = torch.nn.Linear(3, 3)\nloss = 1 - (model(logits.detach()).argmax(1) == y).float().mean()\nloss.backward()\n",
         "argmax() and a comparison (==) on line 5", 6),  # the grad is in the module's parameters
        ("pred = logits.sum(1).round().long()\nloss = (pred - y).float().pow(2).mean()\nloss.backward()\n", "long() on line 4", 6),
    ],
)
def test_backward_through_an_op_without_gradients_names_the_cut(source: str, cut: str, line: int) -> None:
    source = "import torch\nlogits = torch.randn(4, 3, requires_grad=True)\ny = torch.tensor([0, 1, 2, 1])\n" + source
    plain = run_plain(source)
    assert plain.namespace["logits"].requires_grad and plain.line == line
    assert "does not require grad and does not have a grad_fn" in str(plain.exception)
    err = _trace(source)["error"]
    assert err["kind"] == "no_grad_fn" and err["line"] == line
    assert f"the graph was cut by {cut}" in err["explanation"]["what"]
    assert "cross_entropy" in err["explanation"]["fix"]


SHARED_FORWARD_TWO_LOSSES = """import torch, torch.nn as nn
G = nn.Sequential(nn.Linear(2, 4), nn.Linear(4, 2))
fake = G(torch.randn(3, 2))
l1 = fake.pow(2).sum()
l1.backward()
l2 = fake.exp().sum()
l2.backward()
"""


def test_two_losses_of_one_forward_are_not_called_several_iterations() -> None:
    # Line 3 builds two AddmmBackward0 (two Linear layers), freed by one pass: no loop at all.
    plain = run_plain(SHARED_FORWARD_TWO_LOSSES)
    assert "a second time" in str(plain.exception) and plain.line == 7
    err = _trace(SHARED_FORWARD_TWO_LOSSES)["error"]
    assert err["kind"] == "backward_twice" and "iteration" not in err["explanation"]["title"]
    assert "(loss1 + loss2).backward()" in err["explanation"]["fix"]
    fixed = SHARED_FORWARD_TWO_LOSSES.replace("l1.backward()\n", "").replace("l2.backward()", "(l1 + l2).backward()")
    assert run_plain(fixed).exception is None


CARRIED_STATE_WITH_STEP = """import torch, torch.nn as nn
lstm = nn.LSTM(2, 3)
hc = (torch.zeros(1, 1, 3), torch.zeros(1, 1, 3))
opt = torch.optim.Adam(lstm.parameters())
for t in range(3):
    out, hc = lstm(torch.randn(4, 1, 2), hc)
    loss = out.pow(2).sum()
    opt.zero_grad()
    loss.backward(retain_graph=True)
    opt.step()
"""


def test_a_carried_hidden_state_past_a_step_gets_the_detach_lesson() -> None:
    # The step lesson's "run the forward again" is already done here: the state is the cause.
    plain = run_plain(CARRIED_STATE_WITH_STEP)
    assert "inplace operation" in str(plain.exception) and plain.line == 9
    err = _trace(CARRIED_STATE_WITH_STEP)["error"]
    assert err["kind"] == "inplace_version" and err["line"] == 9
    assert err["explanation"]["title"] == "Backward into an earlier iteration's graph, past an optimizer step"
    assert "line 6" in err["explanation"]["what"] and "retain_graph=True kept" in err["explanation"]["what"]
    assert "hc = tuple(t.detach() for t in hc)" in err["explanation"]["fix"]
    fixed = CARRIED_STATE_WITH_STEP.replace("    opt.step()\n", "    opt.step()\n    hc = tuple(t.detach() for t in hc)\n")
    assert run_plain(fixed.replace("retain_graph=True", "")).exception is None


# Unlike the article's sigmoid (which saves its output, so retain_graph=True there raises
# nothing and x silently never moves), softplus saves the parameter itself: the step's write
# then breaks every later pass.
DERIVED_IN_INIT_WITH_STEP = """import torch, torch.nn as nn, torch.nn.functional as F
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.raw = nn.Parameter(torch.tensor(0.5))
        self.var = F.softplus(self.raw)
    def forward(self):
        return self.var
model = M()
opt = torch.optim.Adam(model.parameters())
for i in range(2):
    loss = (model() - 2.0) ** 2
    loss.backward(retain_graph=True)
    opt.step()
    opt.zero_grad()
"""


def test_a_value_derived_in_init_and_stale_after_a_step_says_to_compute_it_in_forward() -> None:
    # The step lesson ("run the forward pass again after the step") is already done here.
    plain = run_plain(DERIVED_IN_INIT_WITH_STEP)
    assert "inplace operation" in str(plain.exception) and plain.line == 13
    err = _trace(DERIVED_IN_INIT_WITH_STEP)["error"]
    assert err["kind"] == "inplace_version" and err["line"] == 13
    assert "built in __init__, at line 6" in err["explanation"]["what"]
    assert "inside forward()" in err["explanation"]["fix"]
    fixed = DERIVED_IN_INIT_WITH_STEP.replace("        self.var = F.softplus(self.raw)\n", "").replace(
        "return self.var", "return F.softplus(self.raw)").replace("retain_graph=True", "")
    assert run_plain(fixed).exception is None


def test_retain_grad_after_backward_says_it_came_too_late() -> None:
    source = ("import torch\nx = torch.tensor([2.0, 1.0], requires_grad=True)\ny = x * 3\nloss = (y ** 2).sum()\n"
              "loss.backward()\ny.retain_grad()\nprint(y.grad.sum())\n")
    plain = run_plain(source)
    assert isinstance(plain.exception, AttributeError) and plain.line == 7 and plain.namespace["y"].retains_grad
    err = _trace(source)["error"]
    assert err["kind"] == "grad_is_none" and _tensor(_trace(source), err["tensor"])["names"] == ["y"]
    assert "y.retain_grad() at line 6 came after the backward pass at line 5" in err["explanation"]["what"]
    fixed = source.replace("loss.backward()\ny.retain_grad()\n", "y.retain_grad()\nloss.backward()\n")
    assert run_plain(fixed).exception is None


def test_a_layers_own_inplace_write_says_to_drop_inplace_true() -> None:
    source = ("import torch, torch.nn as nn\nmodel = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.ReLU(inplace=True), "
              "nn.Linear(4, 1))\nmodel(torch.randn(3, 4)).sum().backward()\n")
    plain = run_plain(source)
    assert "inplace operation" in str(plain.exception)
    err = _trace(source)["error"]
    assert err["kind"] == "inplace_version" and "model.2" in err["explanation"]["fix"]
    assert "without inplace=True" in err["explanation"]["fix"]
    assert run_plain(source.replace("nn.ReLU(inplace=True)", "nn.ReLU()")).exception is None


@pytest.mark.parametrize("write", ["r = w[0]\nr.mul_(2)\n", "w.t().zero_()\n", "w[0, 1] = 5\n"])
def test_an_inplace_write_through_a_view_of_a_leaf_pins_the_leaf(write: str) -> None:
    source = "import torch\nw = torch.randn(2, 3, requires_grad=True)\n" + write
    plain = run_plain(source)
    assert "view of a leaf Variable" in str(plain.exception)
    t = _trace(source)
    assert t["error"]["kind"] == "inplace_leaf_view" and _tensor(t, t["error"]["tensor"])["names"] == ["w"]


@pytest.mark.parametrize("clear", ["model.zero_grad()", "opt.zero_grad()", "model.weight.grad = None"])
def test_a_grad_cleared_after_backward_says_so(clear: str) -> None:
    source = ("import torch, torch.nn as nn\nmodel = nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              f"model(torch.ones(1, 2)).sum().backward()\n{clear}\nprint(model.weight.grad.norm())\n")
    plain = run_plain(source)
    assert isinstance(plain.exception, AttributeError) and plain.namespace["model"].weight.grad is None
    err = _trace(source)["error"]
    assert err["kind"] == "grad_is_none" and err["line"] == plain.line == 6
    what = err["explanation"]["what"]
    assert "backward pass at line 4 did fill model.weight.grad" in what and "did not reach" not in what
    assert "set_to_none=False" in err["explanation"]["fix"]


def test_a_hand_written_update_that_rebinds_the_leaf_is_named_with_its_line() -> None:
    source = SCENARIOS["rebinding_update_error"]
    plain = run_plain(source)
    w = plain.namespace["w"]
    assert not w.is_leaf and w.grad_fn is not None  # PyTorch: the name now holds a non-leaf
    err = _trace(source)["error"]
    assert (err["kind"], err["line"]) == ("grad_is_none", 8)
    assert "line 8 (w = w - 0.1 * w.grad) rebinds the name w" in err["explanation"]["what"]
    assert "with torch.no_grad(): w -= lr * w.grad" in err["explanation"]["fix"]
    # The fix it gives runs: an in-place update under no_grad keeps w a leaf with a .grad.
    fixed = source.replace("    w = w - 0.1 * w.grad\n", "    with torch.no_grad():\n        w -= 0.1 * w.grad\n    w.grad.zero_()\n")
    after = run_plain(fixed)
    assert after.exception is None and after.namespace["w"].is_leaf


def test_a_class_of_the_snippet_named_tensor_is_not_taken_for_torch_tensor() -> None:
    source = "import torch\nclass Tensor:\n    def backwards(self):\n        pass\nt = Tensor()\nt.backward()\n"
    plain = run_plain(source)
    assert isinstance(plain.exception, AttributeError) and hasattr(torch.Tensor, "backward")
    err = _trace(source)["error"]
    # torch.Tensor has backward: the suggestion comes from the snippet's own class
    assert err["kind"] == "no_such_member" and err["explanation"]["fix"] == "Did you mean backwards?"


def test_a_tensor_formatted_like_a_number_is_pinned() -> None:
    t = _trace(SCENARIOS["format_vector_loss_error"])
    err = t["error"]
    assert err["kind"] == "format_tensor" and _tensor(t, err["tensor"])["names"] == ["loss"]
    assert _tensor(t, err["tensor"])["shape"] == list(run_plain(SCENARIOS["format_vector_loss_error"]).namespace["loss"].shape)


def test_a_leaf_scaled_on_the_line_that_made_it_is_explained_with_the_fix_that_works() -> None:
    source = SCENARIOS["scaled_at_creation_error"]
    w = run_plain(source).namespace["w"]
    assert not w.is_leaf and w.grad_fn.name() == "MulBackward0"  # PyTorch: w is the product, not the leaf
    err = _trace(source)["error"]
    assert (err["kind"], err["line"]) == ("grad_is_none", 7)
    assert "on line 3 (w = torch.randn(3, requires_grad=True) * 0.01) the tensor created with" in err["explanation"]["what"]
    fixed = source.replace("torch.randn(3, requires_grad=True) * 0.01", "(torch.randn(3) * 0.01).requires_grad_()")
    after = run_plain(fixed)
    assert after.exception is None and after.namespace["w"].is_leaf


def test_multiprocessing_without_shared_memory_is_explained() -> None:
    # In the sandbox a Pool fails with a bare FileNotFoundError from multiprocessing's own
    # code (no shared memory); the same failure, raised here by looking up a segment that
    # does not exist, is told apart from a snippet's missing file by where it was raised.
    src = (
        "from multiprocessing import shared_memory\n"
        "import torch\n"
        "seg = shared_memory.SharedMemory(name='gradtrace-no-such-segment')\n"
    )
    plain = run_plain(src)
    assert isinstance(plain.exception, FileNotFoundError) and plain.line == 3
    err = _trace(src)["error"]
    assert (err["type"], err["line"], err["kind"]) == ("FileNotFoundError", 3, "multiprocessing_unavailable")
    assert "pool.map" in err["explanation"]["fix"]
    missing_file = _trace("open('/nonexistent/gradtrace/data.csv')\n")["error"]
    assert (missing_file["type"], missing_file["kind"]) == ("FileNotFoundError", "exception")


def test_backward_through_a_frozen_model_names_the_freezing_lines() -> None:
    src = """import torch
lin = torch.nn.Linear(2, 2)
for p in lin.parameters():
    p.requires_grad = False
out = lin(torch.randn(1, 2)).sum()
out.backward()
"""
    plain = run_plain(src)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 6
    err = _trace(src)["error"]
    assert (err["kind"], err["line"]) == ("no_grad_fn", 6)
    assert "switched requires_grad off (froze) 2 tensors (line 4)" in err["explanation"]["what"]
    assert "Freeze only the layers you do not train" in err["explanation"]["fix"]
    # Without any freezing, the general lesson only.
    plain_err = _trace("import torch\nx = torch.ones(2)\n(x * 2).sum().backward()\n")["error"]
    assert plain_err["kind"] == "no_grad_fn" and "froze" not in plain_err["explanation"]["what"]


def test_inplace_culprit_is_the_write_that_broke_the_saved_value() -> None:
    src = (
        "import torch\n"
        "x = torch.ones(2, requires_grad=True)\n"
        "y = x.exp()\n"  # ExpBackward0 saves its result, y, at version 0
        "z = y.sum()\n"
        "y.mul_(2)\n"  # line 5: moves y away from the saved version
        "y.add_(1)\n"  # line 6: moves it further
        "z.backward()\n"
    )
    plain = run_plain(src)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 7
    err = _trace(src)["error"]
    assert err["kind"] == "inplace_version"
    assert (err["version_at_save"], err["version_now"]) == (0, plain.namespace["y"]._version)
    assert err["related_line"] == 5
    # Without line 5 the same error remains (line 6 alone breaks it too): the culprit is
    # then that write.
    without = src.replace("y.mul_(2)\n", "")
    assert isinstance(run_plain(without).exception, RuntimeError)
    assert _trace(without)["error"]["related_line"] == 5


def test_reading_freed_saved_values_is_not_called_a_second_backward() -> None:
    src = SCENARIOS["saved_read_after_backward_error"]
    plain = run_plain(src)
    err = _trace(src)["error"]
    assert err["type"] == type(plain.exception).__name__ and err["line"] == plain.line
    assert err["kind"] == "saved_freed_read" and err["backward_pass"] is None
    assert "no second backward ran" in err["explanation"]["what"]


GAN_STEP = """import torch
import torch.nn as nn
G = nn.Linear(2, 3)
D = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
optG = torch.optim.SGD(G.parameters(), lr=0.1)
optD = torch.optim.SGD(D.parameters(), lr=0.1)
bce = nn.BCEWithLogitsLoss()
fake = G(torch.randn(5, 2))
d_out = D(fake)
d_loss = bce(d_out, torch.zeros(5, 1))
g_loss = bce(d_out, torch.ones(5, 1))
d_loss.backward(retain_graph=True)
optD.step()
g_loss.backward()
"""


def test_an_optimizer_step_that_broke_a_graph_is_named_with_its_parameter() -> None:
    plain = run_plain(GAN_STEP)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 14
    t = _trace(GAN_STEP)
    err = t["error"]
    assert err["kind"] == "inplace_version" and err["line"] == 14 and err["related_line"] == 13
    # The fix speaks of the step (the out-of-place advice cannot apply to it) and the culprit
    # is the parameter the step wrote, by name, not the unnamed weight.t() autograd saved.
    assert "optimizer.step()" in err["explanation"]["fix"]
    assert next(x for x in t["tensors"] if x["id"] == err["tensor"])["names"] == ["D.2.weight"]


def test_an_attention_mask_made_for_batch_first_inputs_is_explained_with_fixes_that_work() -> None:
    source = SCENARIOS["attention_mask_batch_first_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 8
    err = _trace(source)["error"]
    assert (err["type"], err["kind"], err["line"]) == ("RuntimeError", "attention_mask_shape", 8)
    assert "batch_first=True" in err["explanation"]["fix"]
    # The first fix: (batch, seq, embed) inputs with batch_first=True take the (L, S) mask.
    fixed = run_plain(source.replace("nn.MultiheadAttention(16, 4)", "nn.MultiheadAttention(16, 4, batch_first=True)"))
    assert fixed.exception is None and tuple(fixed.namespace["out"].shape) == (2, 5, 16)
    # The second: a per-example (N, L, S) mask repeated per head.
    assert "repeat_interleave(num_heads, dim=0)" in err["explanation"]["fix"]
    per_example = source.replace("nn.MultiheadAttention(16, 4)", "nn.MultiheadAttention(16, 4, batch_first=True)").replace(
        "attn_mask=causal", "attn_mask=causal.expand(2, 5, 5).repeat_interleave(4, dim=0)"
    )
    assert run_plain(per_example).exception is None
    # Without the repeat, the same message family, the same lesson.
    unrepeated = per_example.replace(".repeat_interleave(4, dim=0)", "")
    assert isinstance(run_plain(unrepeated).exception, RuntimeError)
    assert _trace(unrepeated)["error"]["kind"] == "attention_mask_shape"


def test_an_attention_input_of_the_wrong_width_is_explained_with_a_fix_that_works() -> None:
    source = SCENARIOS["attention_embed_dim_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, AssertionError) and plain.line == 7
    err = _trace(source)["error"]
    assert (err["type"], err["kind"], err["line"]) == ("AssertionError", "attention_embed_dim", 7)
    assert "nn.Linear(d_in, embed_dim)" in err["explanation"]["fix"]
    fixed = source.replace("out, weights = mha(x, x, x)", "h = nn.Linear(10, 16)(x)\nout, weights = mha(h, h, h)")
    assert run_plain(fixed).exception is None
    indivisible = "import torch.nn as nn\nmha = nn.MultiheadAttention(16, 3)\n"
    assert isinstance(run_plain(indivisible).exception, AssertionError)
    assert _trace(indivisible)["error"]["kind"] == "attention_embed_dim"


def test_a_hook_registered_inside_reentrant_checkpoint_is_explained_by_grad_mode() -> None:
    source = SCENARIOS["checkpoint_reentrant_hook_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 7
    t = _trace(source)
    err = t["error"]
    assert (err["kind"], err["line"]) == ("hook_no_grad", 7)
    # The culprit is u, computed under checkpoint's no_grad, not x (which requires grad).
    assert _tensor(t, err["tensor"])["names"] == ["u"]
    assert "torch.no_grad()" in err["explanation"]["what"]
    assert "requires_grad=True" not in err["explanation"]["fix"]
    assert "use_reentrant=False" in err["explanation"]["fix"]
    fixed = run_plain(source.replace("use_reentrant=True", "use_reentrant=False"))
    assert fixed.exception is None and fixed.namespace["x"].grad.tolist() == [2.0, 2.0, 2.0]


def test_a_hook_on_a_tensor_computed_under_no_grad_names_that_line() -> None:
    source = (
        "import torch\n"
        "x = torch.ones(3, requires_grad=True)\n"
        "with torch.no_grad():\n"
        "    u = x * 2\n"
        "u.register_hook(lambda g: g)\n"
        "u.sum().backward()\n"
    )
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 5
    t = _trace(source)
    err = t["error"]
    assert err["kind"] == "hook_no_grad" and _tensor(t, err["tensor"])["names"] == ["u"]
    assert "Gradient tracking was off" in err["explanation"]["what"] and "at line 4" in err["explanation"]["what"]
    assert "outside the no_grad block" in err["explanation"]["fix"]
    fixed = run_plain(source.replace("with torch.no_grad():\n    u = x * 2\n", "u = x * 2\n"))
    assert fixed.exception is None and fixed.namespace["x"].grad.tolist() == [2.0, 2.0, 2.0]
    # A tensor that never needed grad keeps the general lesson.
    general = _trace(SCENARIOS["hook_no_grad_error"])["error"]
    assert "Gradient tracking was off" not in general["explanation"]["what"]
    assert "requires_grad=True" in general["explanation"]["fix"]


def test_backward_inside_a_hook_is_explained_by_grad_mode_in_backward() -> None:
    source = SCENARIOS["backward_inside_hook_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 6
    err = _trace(source)["error"]
    assert (err["kind"], err["line"]) == ("no_grad_fn", 6)
    assert "inside another backward pass" in err["explanation"]["what"]
    assert "requires_grad=True" not in err["explanation"]["fix"]  # w requires grad already
    assert "with torch.enable_grad():" in err["explanation"]["fix"]
    fixed = run_plain(source.replace(
        "    (w * g).sum().backward()\n", "    with torch.enable_grad():\n        (w * g).sum().backward()\n"))
    assert fixed.exception is None and fixed.namespace["w"].grad.tolist() == [1.0, 1.0, 1.0]


def test_a_custom_function_returning_its_input_then_changed_in_place_says_so() -> None:
    source = SCENARIOS["custom_function_returns_input_then_inplace_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 13
    t = _trace(source)
    err = t["error"]
    assert (err["kind"], err["line"]) == ("view_inplace", 13)
    assert "returned its input as-is" in err["explanation"]["what"]
    assert "several views" not in err["explanation"]["what"]
    assert _tensor(t, err["tensor"])["names"] == ["c"]
    assert "return x.clone()" in err["explanation"]["fix"]
    fixed = run_plain(source.replace("        return x\n", "        return x.clone()\n"))
    assert fixed.exception is None and fixed.namespace["a"].grad.tolist() == [2.0, 2.0, 2.0]
    # The fix says a view is refused too: it is.
    as_view = run_plain(source.replace("        return x\n", "        return x.view_as(x)\n"))
    assert isinstance(as_view.exception, RuntimeError) and as_view.line == 13
    assert "c = c.clone(), then c.mul_(2)" in err["explanation"]["fix"]
    copied = run_plain(source.replace("c.mul_(2)\n", "c = c.clone()\nc.mul_(2)\n"))
    assert copied.exception is None


def test_a_strict_jacobian_of_a_constant_is_its_own_kind_with_fixes_that_work() -> None:
    source = SCENARIOS["strict_jacobian_constant_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 4
    err = _trace(source)["error"]
    assert (err["kind"], err["line"]) == ("functional_strict", 4)
    assert "requires_grad=True" not in err["explanation"]["fix"]
    # The old fix, an input that requires grad, does not help.
    assert isinstance(run_plain(source.replace("torch.ones(2), strict", "torch.ones(2, requires_grad=True), strict"))
                      .exception, RuntimeError)
    assert "strict=False" in err["explanation"]["fix"]
    lenient = run_plain(source.replace("strict=True", "strict=False"))
    assert lenient.exception is None and lenient.namespace["J"].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert "lambda x: x ** 2" in err["explanation"]["fix"]
    dependent = run_plain(source.replace("lambda t: torch.ones(2)", "lambda t: t ** 2"))
    assert dependent.exception is None
    # hessian's strict checks (a linear function) have the same lesson.
    linear = "import torch\nfrom torch.autograd.functional import hessian\nH = hessian(lambda t: t.sum(), torch.ones(2), strict=True)\n"
    assert isinstance(run_plain(linear).exception, RuntimeError)
    assert _trace(linear)["error"]["kind"] == "functional_strict"


def test_hessian_of_a_vector_function_gets_a_fix_for_hessian() -> None:
    source = SCENARIOS["hessian_of_vector_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 4
    err = _trace(source)["error"]
    assert (err["kind"], err["line"]) == ("nonscalar_backward", 4)
    fix = err["explanation"]["fix"]
    assert "gradient=" not in fix and "backward" not in fix  # backward()'s argument does not apply
    assert "hessian(lambda t: f(t).sum(), x)" in fix
    summed = run_plain(source.replace("lambda t: t ** 2", "lambda t: (t ** 2).sum()"))
    assert summed.exception is None and summed.namespace["H"].tolist() == [[2.0, 0.0], [0.0, 2.0]]
    assert "jacobian(lambda t: jacobian(f, t, create_graph=True), x)" in fix
    nested = run_plain(source.replace(
        "H = hessian(lambda t: t ** 2, torch.ones(2))",
        "from torch.autograd.functional import jacobian\n"
        "f = lambda t: t ** 2\n"
        "H = jacobian(lambda t: jacobian(f, t, create_graph=True), torch.ones(2))",
    ))
    assert nested.exception is None and tuple(nested.namespace["H"].shape) == (2, 2, 2)
    assert "torch.func.hessian(f)(x)" in fix
    func = run_plain(source.replace("H = hessian(lambda t: t ** 2, torch.ones(2))",
                                    "H = torch.func.hessian(lambda t: t ** 2)(torch.ones(2))"))
    assert func.exception is None and torch.equal(func.namespace["H"], nested.namespace["H"])


def test_a_hook_returning_text_pins_the_hooked_tensor_and_its_node() -> None:
    source = SCENARIOS["hook_on_nonleaf_returns_text_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, TypeError) and plain.line == 6
    t = _trace(source)
    err = t["error"]
    assert (err["kind"], err["line"]) == ("hook_return_type", 6)
    assert _node(t, err["node"])["name"] == "MulBackward0" and _tensor(t, err["tensor"])["names"] == ["y"]
    # On a leaf: the leaf and its AccumulateGrad.
    leaf = _trace(SCENARIOS["hook_returns_text_error"])
    leaf_err = leaf["error"]
    assert _node(leaf, leaf_err["node"])["name"] == "torch::autograd::AccumulateGrad"
    assert _tensor(leaf, leaf_err["tensor"])["names"] == ["x"]
    assert "or None" in err["explanation"]["fix"]
    assert run_plain(source.replace('lambda g: "nope"', "lambda g: None")).exception is None


def test_backward_on_a_complex_output_pins_that_output() -> None:
    source = SCENARIOS["complex_backward_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 5
    t = _trace(source)
    err = t["error"]
    assert (err["kind"], err["line"]) == ("complex_backward", 5)
    assert _tensor(t, err["tensor"])["names"] == ["loss"]
    assert "out.abs().sum().backward()" in err["explanation"]["fix"]
    assert run_plain(source.replace("loss.backward()", "loss.abs().sum().backward()")).exception is None


def test_a_float_index_is_explained_as_indexing() -> None:
    source = SCENARIOS["float_index_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, IndexError) and plain.line == 5
    t = _trace(source)
    err = t["error"]
    assert (err["kind"], err["line"]) == ("integer_expected", 5)
    assert "cross_entropy" not in err["explanation"]["what"] and "index" in err["explanation"]["what"]
    assert _tensor(t, err["tensor"])["dtype"] == "torch.float32" and not _tensor(t, err["tensor"])["requires_grad"]
    assert "w[i.long()]" in err["explanation"]["fix"]
    fixed = run_plain(source.replace("w[i.float()]", "w[i.float().long()]"))
    assert fixed.exception is None and tuple(fixed.namespace["y"].shape) == (2,)
    assert "w[mask.bool()]" in err["explanation"]["fix"]
    mask = SCENARIOS["float_mask_index_error"]
    assert _trace(mask)["error"]["kind"] == "integer_expected"
    assert run_plain(mask.replace("x[mask]", "x[mask.bool()]")).exception is None


def test_a_matrix_vector_size_mismatch_is_a_shape_mismatch() -> None:
    source = SCENARIOS["matrix_vector_size_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 3
    err = _trace(source)["error"]
    assert (err["kind"], err["line"]) == ("shape_mismatch", 3)
    assert err["call"]["op"] == "matmul" and [i["shape"] for i in err["call"]["inputs"]] == [[2, 2], [3]]
    assert run_plain(source.replace("torch.ones(3)", "torch.ones(2)")).exception is None


def test_out_argument_on_a_tensor_that_requires_grad_has_fixes_that_work() -> None:
    source = SCENARIOS["out_argument_requires_grad_error"]
    plain = run_plain(source)
    assert isinstance(plain.exception, RuntimeError) and plain.line == 5
    t = _trace(source)
    err = t["error"]
    assert (err["kind"], err["line"]) == ("out_requires_grad", 5)
    assert _tensor(t, err["tensor"])["names"] == ["a"]
    fix = err["explanation"]["fix"]
    assert "out = torch.add(a, 1)" in fix
    assigned = run_plain(source.replace("torch.add(a, 1, out=out)", "out = torch.add(a, 1)"))
    assert assigned.exception is None and assigned.namespace["out"].requires_grad
    assert "torch.no_grad()" in fix
    no_grad = run_plain(source.replace("torch.add(a, 1, out=out)", "with torch.no_grad():\n    torch.add(a, 1, out=out)"))
    assert no_grad.exception is None and no_grad.namespace["out"].tolist() == [2.0, 2.0]


def test_backward_op_nodes_are_documented_as_built_while_a_pass_runs() -> None:
    """Nodes built during a backward pass are `backward_op`: a create_graph pass's, and also a
    reentrant checkpoint's recompute and a hook computing with grad on (what the docs say)."""
    source = (
        "import torch\n"
        "from torch.utils.checkpoint import checkpoint\n"
        "x = torch.ones(3, requires_grad=True)\n"
        "w = torch.ones(3, requires_grad=True)\n"
        "y = checkpoint(lambda t: (t * w).sum(), x, use_reentrant=True)\n"
        "y.backward()\n"
        "def hook(g):\n"
        "    with torch.enable_grad():\n"
        "        return g * w\n"
        "z = x * 3\n"
        "z.register_hook(hook)\n"
        "z.sum().backward()\n"
    )
    assert run_plain(source).exception is None
    t = _trace(source)
    built = {(n["name"], n["line"], n["created_by_pass"]) for n in t["nodes"] if n["kind"] == "backward_op"}
    assert {("MulBackward0", 5, 0), ("SumBackward0", 5, 0), ("MulBackward0", 9, 2)} <= built
    assert not any(p["create_graph"] for p in t["backward_passes"])
    doc = (Path(__file__).resolve().parents[2] / "docs" / "trace-format.md").read_text()
    definition = doc[doc.index("`backward_op` for"):][:400]
    assert "checkpoint" in definition and "hook" in definition
