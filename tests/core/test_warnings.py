"""Warnings in a trace are the ones `python snippet.py` prints: same lines, same repeats.

The oracle is a real `python` process running the snippet; whatever filters the test
process has (pytest shows every DeprecationWarning) must not leak into the trace.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from gradtrace.core.tracer import trace_source

HEAD = "import torch, warnings\nx = torch.ones(2, requires_grad=True)\ny = x * 2\n"

CASES = {
    # C++ warnings (raised against the tracer's frames) at different lines are all shown.
    "two_lines": HEAD + "a = y.grad\nb = y.grad\n",
    # ... and once per line, as the default filter does.
    "loop": HEAD + "for i in range(3):\n    g = y.grad\n",
    "always": HEAD + "warnings.simplefilter('always')\nfor i in range(3):\n    g = y.grad\n",
    "once": HEAD + "warnings.simplefilter('once')\ng = y.grad\nh = y.grad\n",
    "ignored": HEAD + "warnings.simplefilter('ignore')\ng = y.grad\n",
    "ignored_by_message": HEAD + "warnings.filterwarnings('ignore', message='The .grad')\ng = y.grad\n",
    # Deprecations: the snippet's own are shown, library-internal ones are not.
    "own_deprecation": HEAD + "warnings.warn('old', DeprecationWarning)\nwarnings.warn('soon', FutureWarning)\n",
    "lazy_imports": "import torch\nimport torch.autograd.forward_ad as fwAD\n"
                    "with fwAD.dual_level():\n    d = fwAD.make_dual(torch.ones(2), torch.ones(2))\n",
}

_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<cat>\w+): (?P<text>.*)$")


def _plain_warnings(source: str, tmp_path: Path) -> list[tuple[int, str, str]]:
    path = tmp_path / "snippet.py"
    path.write_text(source)
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, check=True)
    found = []
    for raw in proc.stderr.splitlines():
        m = _LINE.match(raw)
        if m and m["file"] == str(path):
            found.append((int(m["line"]), m["cat"], m["text"][:60]))
    return found


@pytest.mark.parametrize("name", sorted(CASES))
def test_warnings_match_a_plain_python_run(name: str, tmp_path: Path) -> None:
    source = CASES[name]
    trace = trace_source(source).to_dict()
    assert trace["status"] == "ok", trace["error"]
    got = [(e["line"], e["category"], e["text"][:60]) for e in trace["events"] if e["kind"] == "warning"]
    assert got == _plain_warnings(source, tmp_path)


@pytest.mark.parametrize("callers_filter", ["ignore", "error"])
def test_the_callers_warning_filters_do_not_reach_the_snippet(callers_filter: str, tmp_path: Path) -> None:
    # A notebook that silenced warnings (or turned them into errors) traced snippets whose
    # warnings vanished (or raised); the snippet gets a fresh process's filters, as promised.
    source = CASES["two_lines"]
    with warnings.catch_warnings():
        warnings.simplefilter(callers_filter)
        trace = trace_source(source).to_dict()
        assert warnings.filters[0][0] == callers_filter  # the caller's filters are back afterwards
    assert trace["status"] == "ok", trace["error"]
    got = [(e["line"], e["category"], e["text"][:60]) for e in trace["events"] if e["kind"] == "warning"]
    assert got == _plain_warnings(source, tmp_path) and len(got) == 2


def test_the_snippet_sees_the_filters_a_fresh_process_has(tmp_path: Path) -> None:
    # torch and numpy install filters at import (TracerWarning from torch's own modules is
    # ignored): a fresh `python snippet.py` has them, and so must a trace; the caller's
    # blanket simplefilter must not be there.
    source = (
        "import torch, warnings\n"
        "print(sorted({(f[0], f[2].__name__) for f in warnings.filters if f[1] is not None or f[3] is not None}))\n"
        "print(any(f[1] is None and f[3] is None and f[2] is Warning for f in warnings.filters))\n"
    )
    path = tmp_path / "snippet.py"
    path.write_text(source)
    plain = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, check=True)
    # The traced side in a process of its own too: pytest imports torch inside its own
    # catch_warnings, which drops torch's import-time filters from this process.
    caller = (
        "import json, sys, warnings\nimport torch\nfrom gradtrace.core.tracer import trace_source\n"
        "warnings.simplefilter('ignore')\n"
        f"print(json.dumps(trace_source({source!r}).to_dict()))\n"
    )
    out = subprocess.run([sys.executable, "-c", caller], capture_output=True, text=True, timeout=120, check=True)
    trace = json.loads(out.stdout)
    assert trace["status"] == "ok", trace["error"]
    library_filters, blanket = plain.stdout.splitlines()
    assert "TracerWarning" in library_filters and blanket == "False"
    traced_filters, traced_blanket = trace["stdout"].splitlines()
    # (plus the tracer's own "always" filter for warnings raised against its frames)
    extra = set(eval(traced_filters)) - set(eval(library_filters))  # noqa: S307 - our own printed literals
    assert traced_blanket == "False" and set(eval(library_filters)) <= set(eval(traced_filters))  # noqa: S307
    assert extra <= {("always", "Warning")}


def test_reading_a_jit_traced_tensor_adds_no_warning_of_our_own(tmp_path: Path) -> None:
    # The tracer read sizes under torch.jit.trace with int(), which warned (a TracerWarning
    # naming gradtrace's own file) where plain Python prints nothing.
    source = (
        "import torch, torch.nn as nn\nm = nn.Linear(3, 2)\ntraced = torch.jit.trace(m, torch.randn(4, 3))\n"
        "out = traced(torch.randn(4, 3)).sum()\nout.backward()\n"
    )
    trace = trace_source(source).to_dict()
    assert trace["status"] == "ok", trace["error"]
    got = [(e["line"], e["category"], e["text"][:60]) for e in trace["events"] if e["kind"] == "warning"]
    assert got == _plain_warnings(source, tmp_path) == []
    assert "gradtrace" not in trace["stderr"]


def test_warning_filtered_into_an_error_raises_at_the_same_line(tmp_path: Path) -> None:
    source = HEAD + "warnings.filterwarnings('error', module='__main__')\ng = y.grad\n"
    path = tmp_path / "snippet.py"
    path.write_text(source)
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "UserWarning: The .grad attribute" in proc.stderr
    trace = trace_source(source).to_dict()
    assert trace["status"] == "error"
    assert (trace["error"]["type"], trace["error"]["line"]) == ("UserWarning", 5)


def test_anomaly_tracebacks_show_the_snippet_not_the_tracer(tmp_path: Path) -> None:
    # Anomaly mode records the forward call's stack; under the tracer that stack runs
    # through the tracer (and whatever called it), which must not show.
    source = (
        "import torch\nimport torch.nn as nn\nlin = nn.Linear(2, 2)\n"
        "x = torch.zeros(1, 2, requires_grad=True)\n"
        "with torch.autograd.detect_anomaly():\n    y = (lin(x) * 0).sqrt()\n    y.sum().backward()\n"
    )
    path = tmp_path / "snippet.py"
    path.write_text(source)
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    frame = re.compile(r'^\s*File "([^"]*)", line (\d+)', re.M)

    def frames(text: str, snippet: str) -> list[tuple[str, str]]:
        return [("snippet" if f == snippet else f, n) for f, n in frame.findall(text.split("Traceback (most recent")[0])]

    trace = trace_source(source).to_dict()
    warned = [e["text"] for e in trace["events"] if e["kind"] == "warning" and "Error detected" in e["text"]]
    assert len(warned) == 1 and "gradtrace" not in warned[0]
    assert frames(warned[0], "<snippet>") == frames(proc.stderr, str(path))
    assert ("snippet", "6") in frames(warned[0], "<snippet>")


def test_tracebacks_the_snippet_prints_are_plain_pythons(tmp_path: Path) -> None:
    source = (
        "import sys, traceback, torch\nx = torch.ones(2, requires_grad=True)\ny = (x * 2).sum()\n"
        "y.backward()\ntry:\n    y.backward()\nexcept RuntimeError:\n    traceback.print_exc(file=sys.stdout)\n"
        "try:\n    torch.nn.Linear(2, 2)(torch.ones(3))\nexcept RuntimeError:\n    traceback.print_exc()\n"
    )
    path = tmp_path / "snippet.py"
    path.write_text(source)
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, check=True)
    trace = trace_source(source).to_dict()
    assert trace["status"] == "ok", trace["error"]
    for got, want in ((trace["stdout"], proc.stdout), (trace["stderr"], proc.stderr)):
        assert "gradtrace" not in got and "handle_torch_function" not in got
        # PyTorch's own frames are shown too; nn.Module's call path differs while module
        # hooks are installed (the tracer uses them for module paths), so compare the rest.
        assert _without_torch_frames(got) == _without_torch_frames(want.replace(str(path), "<snippet>"))
        assert 'File "<snippet>", line' in got


def _without_torch_frames(text: str) -> str:
    out, dropping = [], False
    for line in text.splitlines():
        if line.startswith('  File "'):
            dropping = "/torch/" in line
        elif not line.startswith("    "):
            dropping = False
        if not dropping:
            out.append(line)
    return "\n".join(out)


# Each warning with a lesson, made the way learners make it (checked against PyTorch: the
# warning must really be raised there, with that category, at that line).
HINTED = {
    "nonleaf_grad": HEAD + "g = y.grad\n",
    "tensor_copy_construct": HEAD + "t = torch.tensor(y)\n",
    "target_size_broadcast": HEAD + "loss = torch.nn.functional.mse_loss(torch.ones(4, 1), torch.ones(4))\n",
    "softmax_implicit_dim": HEAD + "p = torch.nn.Softmax()(torch.ones(2, 3))\n",
    "scheduler_before_optimizer": HEAD + "opt = torch.optim.SGD([x], lr=0.1)\n"
    "sched = torch.optim.lr_scheduler.StepLR(opt, 1)\nsched.step()\n",
    "old_loss_arguments": HEAD + "crit = torch.nn.MSELoss(size_average=False)\n",
    "non_full_backward_hook": HEAD + "m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())\n"
    "h = m.register_backward_hook(lambda *a: None)\nm(torch.ones(1, 2)).sum().backward()\n",
    "backward_hook_no_input_grad": HEAD + "m = torch.nn.Linear(2, 2)\nh = m.register_full_backward_hook(lambda *a: None)\n"
    "m(torch.ones(1, 2)).sum().backward()\n",
    "create_graph_cycle": HEAD + "(y ** 2).sum().backward(create_graph=True)\n",
    "deprecated_overload": HEAD + "y.sum().backward()\nx.data.add_(-0.1, x.grad)\n",
    "volatile_removed": HEAD + "from torch.autograd import Variable\nv = Variable(torch.ones(2), volatile=True)\n",
    "checkpoint_inputs_no_grad": HEAD + "from torch.utils.checkpoint import checkpoint\n"
    "lin = torch.nn.Linear(2, 2)\nout = checkpoint(lin, torch.ones(1, 2), use_reentrant=True)\n",
    "checkpoint_use_reentrant": HEAD + "from torch.utils.checkpoint import checkpoint\n"
    "out = checkpoint(torch.nn.Linear(2, 2), y.unsqueeze(0))\n",
    "underscore_renamed": HEAD + "w = torch.nn.Parameter(torch.empty(2, 2))\ntorch.nn.init.xavier_uniform(w)\n",
    "scalar_from_grad_tensor": HEAD + "s = float(y.sum())\n",
}


# PyTorch raises these once per process (TORCH_WARN_ONCE): in the test process only the first
# run would see them, so the oracle and the trace each get a fresh process (as every sandboxed
# trace does: a fresh worker).
ONCE_PER_PROCESS = {"create_graph_cycle", "deprecated_overload", "scalar_from_grad_tensor"}


def _fresh_process_warnings(source: str, tmp_path: Path) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """(category, first line of the text) of each warning `python snippet.py` prints, and the
    trace of the snippet made in another fresh process."""
    path = tmp_path / "snippet.py"
    path.write_text(source)
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, check=True)
    plain = [(m["cat"], m["text"][:60]) for raw in proc.stderr.splitlines() if (m := _LINE.match(raw))]
    code = "import sys; from gradtrace.core.tracer import trace_json; sys.stdout.write(trace_json(sys.stdin.read()))"
    traced = subprocess.run([sys.executable, "-c", code], input=source, capture_output=True, text=True, timeout=120, check=True)
    return plain, json.loads(traced.stdout)


@pytest.mark.parametrize("kind", sorted(HINTED))
def test_known_warnings_carry_their_lesson(kind: str, tmp_path: Path) -> None:
    source = HINTED[kind]
    if kind in ONCE_PER_PROCESS:
        plain, trace = _fresh_process_warnings(source, tmp_path)
    else:
        with warnings.catch_warnings(record=True) as caught:  # PyTorch itself, as the oracle
            warnings.simplefilter("always")
            exec(compile(source, "<plain>", "exec"), {})
        plain = [(w.category.__name__, str(w.message).splitlines()[0][:60]) for w in caught]
        trace = trace_source(source).to_dict()
    hinted = [e for e in trace["events"] if e["kind"] == "warning" and e.get("hint")]
    assert [e["hint"]["kind"] for e in hinted] == [kind]
    assert (hinted[0]["category"], hinted[0]["text"].splitlines()[0][:60]) in plain
    assert all(hinted[0]["hint"][k] for k in ("title", "what", "fix"))


def test_every_warning_lesson_has_a_case() -> None:
    from gradtrace.core.explain import WARNING_RULES

    assert {rule.kind for rule in WARNING_RULES} == set(HINTED)


def test_other_warnings_carry_no_lesson() -> None:
    trace = trace_source("import warnings\nwarnings.warn('my own')\n").to_dict()
    (event,) = [e for e in trace["events"] if e["kind"] == "warning"]
    assert "hint" not in event


ZERO_GRAD_FORGOTTEN = """import torch
w = torch.ones(2, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.0)
for i in range(3):
    opt.zero_grad
    (w * 2).sum().backward()
    opt.step()
print(w.grad)
"""


def test_a_method_named_without_parentheses_is_noted_with_its_effect() -> None:
    # The lesson must be true: in plain PyTorch the gradients of the 3 steps pile up.
    namespace: dict[str, object] = {}
    exec(compile(ZERO_GRAD_FORGOTTEN, "<plain>", "exec"), namespace)
    w = namespace["w"]
    assert isinstance(w, torch.Tensor) and w.grad is not None and w.grad.tolist() == [6.0, 6.0]
    trace = trace_source(ZERO_GRAD_FORGOTTEN).to_dict()
    assert trace["stdout"] == "tensor([6., 6.])\n" and trace["stderr"] == ""  # nothing printed for it
    (note,) = [e for e in trace["events"] if e["kind"] == "warning"]
    assert (note["line"], note["category"], note["hint"]["kind"]) == (5, "gradtrace", "method_not_called")
    assert "opt.zero_grad()" in note["hint"]["fix"] and "adds to them" in note["text"]
    zeroed = trace_source(ZERO_GRAD_FORGOTTEN.replace("opt.zero_grad\n", "if w.grad is not None:\n        w.grad.zero_\n"))
    (note,) = [e for e in zeroed.to_dict()["events"] if e["kind"] == "warning"]
    assert note["line"] == 6 and note["hint"]["fix"] == "Call it: w.grad.zero_()."


def test_calls_and_uses_of_methods_are_not_noted() -> None:
    source = (
        "import torch\nw = torch.ones(2, requires_grad=True)\nopt = torch.optim.SGD([w], lr=0.1)\n"
        "step = opt.step\nloss = (w * 2).sum()\nloss.backward()\nstep()\nprint(w.grad, opt.zero_grad)\nopt.zero_grad()\n"
    )
    trace = trace_source(source).to_dict()
    assert [e for e in trace["events"] if e["kind"] == "warning"] == []


def _plain_namespace(source: str) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(compile(source, "<plain>", "exec"), namespace)
    return namespace


def _notes(source: str) -> list[tuple[int, str]]:
    events = trace_source(source).to_dict()["events"]
    return [(e["line"], e["hint"]["kind"]) for e in events if e["kind"] == "warning" and e["category"] == "gradtrace"]


def test_a_grad_mode_called_on_its_own_line_is_noted() -> None:
    source = "import torch\nx = torch.ones(2, requires_grad=True)\ntorch.no_grad()\ny = x * 2\n"
    y = _plain_namespace(source)["y"]
    assert isinstance(y, torch.Tensor) and y.requires_grad  # the lesson: it had no effect
    assert _notes(source) == [(3, "grad_mode_discarded")]


def test_a_discarded_detach_is_noted() -> None:
    source = "import torch\nx = torch.ones(2, requires_grad=True)\nh = x * 2\nh.detach()\nout = h.sum()\n"
    h = _plain_namespace(source)["h"]
    assert isinstance(h, torch.Tensor) and h.grad_fn is not None  # h is still in the graph
    assert _notes(source) == [(4, "detach_discarded")]
    assert _notes(source.replace("h.detach()", "h = h.detach()")) == []


def test_zero_grad_between_backward_and_step_is_noted() -> None:
    source = (
        "import torch\nw = torch.ones(2, requires_grad=True)\nopt = torch.optim.SGD([w], lr=0.5)\n"
        "for i in range(2):\n    loss = (w * 3).sum()\n    loss.backward()\n    opt.zero_grad()\n    opt.step()\n"
    )
    w = _plain_namespace(source)["w"]
    assert isinstance(w, torch.Tensor) and w.tolist() == [1.0, 1.0]  # the steps never moved w
    assert _notes(source) == [(7, "zero_grad_before_step")]
    fixed = source.replace("    loss.backward()\n    opt.zero_grad()\n", "    opt.zero_grad()\n    loss.backward()\n")
    assert _notes(fixed) == []


def test_clipping_before_backward_is_noted() -> None:
    # PyTorch is the oracle: clipped before backward, the step uses unclipped gradients.
    source = (
        "import torch, torch.nn as nn\ntorch.manual_seed(0)\nw = nn.Parameter(torch.ones(3))\n"
        "opt = torch.optim.SGD([w], lr=1.0)\nopt.zero_grad()\nloss = (w * 100).sum()\n"
        "nn.utils.clip_grad_norm_([w], 1.0)\nloss.backward()\nopt.step()\n"
    )
    fixed = source.replace("nn.utils.clip_grad_norm_([w], 1.0)\nloss.backward()\n", "loss.backward()\nnn.utils.clip_grad_norm_([w], 1.0)\n")
    moved, clipped = (1 - _plain_namespace(src)["w"].detach() for src in (source, fixed))
    assert moved.norm() > 100 and abs(float(clipped.norm()) - 1.0) < 1e-4
    assert _notes(source) == [(7, "clip_before_backward")]
    assert _notes(fixed) == []


# Named tensors built on graphs a backward() already consumed, and whether gradtrace notes
# them; the oracle is PyTorch: a backward() through a noted tensor fails, through z or pred
# in the other cases it runs.
CONSUMED = {
    "running_total": ("import torch\nw = torch.ones(3, requires_grad=True)\ntotal_loss = 0\n"
                      "for i in range(3):\n    loss = (w * w * i).sum()\n    loss.backward()\n    total_loss += loss\n",
                      {"total_loss": 7}),
    "used_after_backward": ("import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 2\n"
                            "y.sum().backward()\nz = y * 3\n", {"z": 5}),
    "running_total_of_numbers": ("import torch\nw = torch.ones(3, requires_grad=True)\ntotal_loss = 0\n"
                                 "for i in range(3):\n    loss = (w * w * i).sum()\n    loss.backward()\n"
                                 "    total_loss += loss.item()\n", {}),
    # built before the pass that used part of its graph: a backward through it would fail (and
    # be explained then), but nothing was built on a used graph
    "built_before_the_pass": ("import torch\nx = torch.ones(2, requires_grad=True)\ny = x * x\n"
                              "a = y.sum()\nb = y.mean()\na.backward()\n", {}),
    "retained_graph": ("import torch\nx = torch.ones(2, requires_grad=True)\ny = x * x\n"
                       "y.sum().backward(retain_graph=True)\nz = y * 3\n", {}),
    "new_graph_after_training": ("import torch\nm = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
                                 "for _ in range(2):\n    out = m(torch.ones(4, 2))\n    loss = (out ** 2).mean()\n"
                                 "    opt.zero_grad()\n    loss.backward()\n    opt.step()\npred = m(torch.ones(1, 2))\n", {}),
}


@pytest.mark.parametrize("name", sorted(CONSUMED))
def test_a_tensor_kept_on_a_consumed_graph_is_noted(name: str) -> None:
    source, expected = CONSUMED[name]
    trace = trace_source(source).to_dict()
    assert trace["status"] == "ok", trace["error"]
    notes = [e for e in trace["events"] if e["kind"] == "warning" and e["category"] == "gradtrace"]
    by_id = {t["id"]: t for t in trace["tensors"]}
    noted = {by_id[e["tensor"]]["names"][0]: e["line"] for e in notes if e["hint"]["kind"] == "consumed_graph_kept"}
    assert noted == expected
    for var in [*expected, "z", "pred"]:  # PyTorch agrees: backward through it fails iff noted
        namespace: dict[str, Any] = {}
        exec(compile(source, "<plain>", "exec"), namespace)
        if var not in namespace:
            continue
        try:
            namespace[var].sum().backward()
            failed = False
        except RuntimeError as exc:
            failed = "second time" in str(exc)
        assert failed == (var in expected), var


GRADS_PILE_UP = """import torch
w = torch.ones(2, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.0)
for i in range(3):
    loss = (w * 2).sum()
    loss.backward()
    opt.step()
"""


@pytest.mark.parametrize(
    ("source", "noted"),
    [
        (GRADS_PILE_UP, True),
        (GRADS_PILE_UP.replace("    loss = ", "    opt.zero_grad()\n    loss = "), False),
        (GRADS_PILE_UP.replace("    opt.step()\n", "    with torch.no_grad():\n        w -= 0.0 * w.grad\n"), True),
        (GRADS_PILE_UP.replace("    opt.step()\n", "    with torch.no_grad():\n        w -= 0.0 * w.grad\n    w.grad = None\n"), False),
        (GRADS_PILE_UP.replace("range(3)", "range(1)"), False),  # one backward: nothing piled up
        # accumulating on purpose, cleared every second step
        (GRADS_PILE_UP.replace("    opt.step()\n", "    if i % 2 == 1:\n        opt.step()\n        opt.zero_grad()\n"), False),
    ],
)
def test_a_loop_that_never_clears_grads_is_noted_when_they_pile_up(source: str, noted: bool) -> None:
    # The oracle: in plain PyTorch, w.grad after the loop is more than one iteration's gradient.
    w = _plain_namespace(source)["w"]
    assert isinstance(w, torch.Tensor)
    piled_up = w.grad is not None and w.grad.tolist() not in ([2.0, 2.0], [0.0, 0.0])
    lint_says = "grad_never_cleared" in [kind for _, kind in _notes(source)]
    assert lint_says == noted
    if noted:
        assert piled_up and _notes(source) == [(6, "grad_never_cleared")]


SQUASHED = {
    "softmax_twice": ("import torch\nimport torch.nn.functional as F\nx = torch.randn(4, 3, requires_grad=True)\n"
                      "y = torch.tensor([0, 1, 2, 0])\nloss = F.cross_entropy(F.softmax(x, dim=1), y)\n",
                      ["NllLossBackward0", "LogSoftmaxBackward0", "SoftmaxBackward0"]),
    "nll_of_probabilities": ("import torch\nimport torch.nn.functional as F\nx = torch.randn(4, 3, requires_grad=True)\n"
                             "y = torch.tensor([0, 1, 2, 0])\nloss = F.nll_loss(F.softmax(x, dim=1), y)\n",
                             ["NllLossBackward0", "SoftmaxBackward0"]),
    "log_of_softmax": ("import torch\nimport torch.nn.functional as F\nx = torch.randn(4, 3, requires_grad=True)\n"
                       "y = torch.tensor([0, 1, 2, 0])\nloss = torch.log(torch.softmax(x, dim=1))\n",
                       ["LogBackward0", "SoftmaxBackward0"]),
    "sigmoid_twice": ("import torch\nimport torch.nn.functional as F\nx = torch.randn(4, 3, requires_grad=True)\n"
                      "y = torch.ones(4, 3)\nloss = F.binary_cross_entropy_with_logits(torch.sigmoid(x), y)\n",
                      ["BinaryCrossEntropyWithLogitsBackward0", "SigmoidBackward0"]),
}


@pytest.mark.parametrize("kind", sorted(SQUASHED))
def test_a_loss_given_an_already_squashed_input_is_noted_at_its_node(kind: str) -> None:
    source, chain = SQUASHED[kind]
    loss = _plain_namespace(source)["loss"]  # PyTorch's own graph has the pair
    assert isinstance(loss, torch.Tensor)
    names, node = [], loss.grad_fn
    while node is not None:
        names.append(node.name())
        node = node.next_functions[0][0] if node.next_functions else None
    assert names[: len(chain)] == chain
    trace = trace_source(source).to_dict()
    (note,) = [e for e in trace["events"] if e["kind"] == "warning"]
    assert (note["line"], note["hint"]["kind"]) == (5, kind)
    noted = next(n for n in trace["nodes"] if n["id"] == note["node"])
    assert noted["name"] == chain[-2] and noted["line"] == 5
    fixed = source.replace("F.softmax(x, dim=1)", "x").replace("torch.softmax(x, dim=1)", "x").replace("torch.sigmoid(x)", "x")
    assert _notes(fixed) == []


def _finding_kinds(module: Any) -> set[str]:
    """The kinds a checker module gives its Finding(line, kind, ...) calls."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(module))
    return {
        call.args[1].value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Finding"
        and len(call.args) > 1 and isinstance(call.args[1], ast.Constant) and isinstance(call.args[1].value, str)
    }


def test_every_warning_lesson_and_note_is_in_the_documented_tables() -> None:
    from gradtrace.core import explain, instrument, lint, runchecks

    kinds = {rule.kind for rule in explain.WARNING_RULES} | _finding_kinds(lint) | _finding_kinds(runchecks)
    kinds |= {lesson[0] for lesson in runchecks._PAIRS.values()}
    kinds |= {v.kind for v in vars(instrument).values() if isinstance(v, instrument._Lesson)}
    assert {"thread_not_traced", "fork_not_traced", "compile_eager", "dataloader_in_process"} <= kinds
    assert {"method_not_called", "grad_never_cleared", "consumed_graph_kept", "softmax_twice"} <= kinds
    doc = (Path(__file__).resolve().parents[2] / "docs" / "trace-format.md").read_text()
    missing = sorted(kind for kind in kinds if f"`{kind}`" not in doc)
    assert not missing, f"add these kinds to docs/trace-format.md's warning tables: {missing}"


def test_a_backward_from_a_loss_rebuilt_from_numbers_is_noted() -> None:
    source = (
        "import torch\nw = torch.ones(2, requires_grad=True)\n"
        "loss = torch.tensor((w * 2).sum().item(), requires_grad=True)\nloss.backward()\n"
    )
    namespace = _plain_namespace(source)
    w, loss = namespace["w"], namespace["loss"]
    assert isinstance(w, torch.Tensor) and isinstance(loss, torch.Tensor)
    assert w.grad is None and loss.is_leaf  # PyTorch: the pass reached nothing but the loss
    assert _notes(source) == [(4, "backward_from_leaf")]
    # computed from w, it is no leaf and w gets its gradient: nothing to note
    assert _notes(source.replace("torch.tensor((w * 2).sum().item(), requires_grad=True)", "(w * 2).sum()")) == []


V2P = """import torch
import torch.nn as nn
from torch.nn.utils import vector_to_parameters
torch.manual_seed(0)
model = nn.Linear(3, 1)
theta = torch.randn(4, requires_grad=True)
vector_to_parameters(theta * 2, model.parameters())
loss = model(torch.ones(1, 3)).sum()
loss.backward()
"""


def test_values_copied_through_data_from_a_graph_are_noted_at_the_copy() -> None:
    namespace = _plain_namespace(V2P)
    theta, model = namespace["theta"], namespace["model"]
    assert isinstance(theta, torch.Tensor) and isinstance(model, torch.nn.Linear)
    assert theta.grad is None and model.weight.grad is not None  # PyTorch: the copy cut theta off
    events = trace_source(V2P).to_dict()["events"]
    notes = [e for e in events if e["kind"] == "warning" and e["category"] == "gradtrace"]
    assert [(e["line"], e["hint"]["kind"]) for e in notes] == [(7, "data_copied_from_graph")]
    assert "model.weight.data" in notes[0]["text"] and "theta" in notes[0]["text"]
    # The fix the note gives, applied in plain PyTorch: the forward uses views of theta.
    fixed = V2P.replace(
        "vector_to_parameters(theta * 2, model.parameters())\nloss = model(torch.ones(1, 3)).sum()",
        "w, b = (theta * 2).split([3, 1])\n"
        "params = {'weight': w.view_as(model.weight), 'bias': b.view_as(model.bias)}\n"
        "loss = torch.func.functional_call(model, params, (torch.ones(1, 3),)).sum()",
    )
    fixed_theta = _plain_namespace(fixed)["theta"]
    assert isinstance(fixed_theta, torch.Tensor) and fixed_theta.grad is not None
    assert _notes(fixed) == []


def test_data_assignments_of_a_tensors_own_values_are_not_noted() -> None:
    source = (
        "import torch\nw = torch.ones(2, requires_grad=True)\nw.data = w.data * 0.5\n"
        "w.data = w.detach()\nw.data = w.detach() + 1\n"
        # a target network sharing its source's weights: a leaf's values, no graph cut
        "net, tgt = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)\n"
        "for p, pt in zip(net.parameters(), tgt.parameters()):\n    pt.data = p.data\n"
        "tgt.weight.data = net.weight\n"
    )
    assert _notes(source) == []
