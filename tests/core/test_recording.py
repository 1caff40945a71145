"""Forward recording: lines, modules, grad-mode events, saved tensors, create_graph, output."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from gradtrace.core.tracer import trace_source
from tests.core.oracle import run_plain
from tests.core.scenarios import SCENARIOS


def _trace(src: str, **kw: Any) -> dict[str, Any]:
    return trace_source(src, **kw).to_dict()


def _by_name(trace: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [n for n in trace["nodes"] if n["name"] == name]


NESTED = """
import torch
import torch.nn as nn
torch.manual_seed(0)
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
    def forward(self, x):
        h = self.lin(x)
        return torch.tanh(h)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block()])
    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x
def helper(t):
    return t * 3
net = Net()
out = helper(net(torch.ones(1, 2))).sum()
"""


def test_lines_and_module_paths_inside_forward() -> None:
    t = _trace(NESTED)
    addmm = _by_name(t, "AddmmBackward0")
    assert [n["module"] for n in addmm] == ["net.blocks.0.lin", "net.blocks.1.lin"]
    assert {n["line"] for n in addmm} == {10}  # the snippet line inside Block.forward
    tanh = _by_name(t, "TanhBackward0")
    assert [n["module"] for n in tanh] == ["net.blocks.0", "net.blocks.1"]
    assert all(n["line"] == 11 and n["stack"][0] == 23 for n in tanh)
    mul = _by_name(t, "MulBackward0")[0]
    assert mul["line"] == 21 and mul["module"] is None  # helper function, outside modules
    names = {n for x in t["tensors"] for n in x["names"]}
    assert {"net.blocks.0.lin.weight", "net.blocks.1.lin.bias", "out"} <= names


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_lines_follow_pythons_line_breaks(newline: str) -> None:
    # A lone \r ends a line for Python's tokenizer: the line numbers and source_lines agree.
    src = newline.join(["import torch", "x = torch.ones(2, requires_grad=True)", "y = x * 2", "y.sum().backward()", "raise ValueError"])
    plain = run_plain(src)
    trace = trace_source(src)
    assert trace.source_lines == 5 and trace.error is not None and trace.error.line == plain.line == 5
    assert [n.line for n in trace.nodes if n.name == "MulBackward0"] == [3]


VMAPPED = """import torch
from torch.func import vmap
w = torch.randn(3, requires_grad=True)
x = torch.randn(4, 3)
out = vmap(lambda x: (x * w).sum())(x)
loss = out.mean()
loss.backward()
"""


def test_nodes_built_inside_vmap_have_the_op_and_line_that_built_them() -> None:
    # Inside vmap an op's output is a BatchedTensor without a grad_fn; the node is on the tensor
    # it wraps. They were found only at the next op (here: all put on line 6, op "mean").
    plain = run_plain(VMAPPED)
    graph, todo = [], [plain.namespace["out"].grad_fn]
    while todo:
        node = todo.pop()
        graph.append(node.name())
        todo += [n for n, _ in node.next_functions if n is not None]
    trace = trace_source(VMAPPED)
    at_5 = [(n.name, n.op) for n in sorted(trace.nodes, key=lambda n: n.seq or 0) if n.line == 5]
    assert sorted(name for name, _ in at_5) == sorted(graph)  # SumBackward1, MulBackward0, AccumulateGrad
    assert ("MulBackward0", "mul") in at_5 and ("SumBackward1", "sum") in at_5
    assert [n.op for n in trace.nodes if n.line == 6] == ["mean"]
    assert trace.tensors and trace.error is None


def _graph_names(root: object) -> list[str]:
    """Names of every node reachable from `root` in plain PyTorch (with repeats)."""
    names, seen, todo = [], set(), [root]
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.append(node.name())  # type: ignore[attr-defined]
        todo += [n for n, _ in node.next_functions]  # type: ignore[attr-defined]
    return names


FUNC_GRAD_CLOSURE = """import torch
from torch.func import grad
w = torch.tensor([1.0, 2.0], requires_grad=True)
def f(x):
    return (x * w).sin().sum()
g = grad(f)(torch.tensor([0.5, 0.3]))
g.sum().backward()
"""


def test_nodes_torch_func_grad_builds_for_a_closed_over_leaf_are_on_its_line() -> None:
    # grad()'s inner backward runs with create_graph: the gradient it returns depends on the
    # outer leaf w through nodes built inside that pass, at line 6. They were found only when
    # line 7 first used g.
    plain = run_plain(FUNC_GRAD_CLOSURE)
    built = _graph_names(plain.namespace["g"].grad_fn)
    trace = trace_source(FUNC_GRAD_CLOSURE)
    at_6 = [n.name for n in trace.nodes if n.line == 6]  # also grad()'s own inner-level nodes
    assert not Counter(built) - Counter(at_6) and "AccumulateGrad" in " ".join(at_6)
    assert [n.name for n in trace.nodes if n.line == 7] == ["SumBackward0"]
    assert trace.tensors and trace.error is None


WRITTEN_VIEW_NEVER_READ = """import torch
x = torch.randn(2, 3, requires_grad=True)
y = x * 1
yt = y.t()
yt[0, 1] = 5.0
(y ** 2).sum().backward()
"""


def test_the_node_of_a_view_written_and_never_read_again_has_the_writes_line() -> None:
    # Autograd rebuilds yt's grad_fn when yt is next read; here only the final walk reads it.
    plain = run_plain(WRITTEN_VIEW_NEVER_READ)
    rebuilt = plain.namespace["yt"].grad_fn.name()
    trace = trace_source(WRITTEN_VIEW_NEVER_READ)
    assert all(n.line is not None for n in trace.nodes)
    (node,) = [n for n in trace.nodes if n.name == rebuilt]
    assert (node.line, node.op) == (5, "__setitem__")


def test_an_initializer_writes_without_grad_as_it_does_inside() -> None:
    # nn.init.kaiming_uniform_ reaches the tracer as one call made with grad on; inside it
    # writes under torch.no_grad(), so its write is not recorded by autograd (no node, no error
    # on a leaf that requires grad: PyTorch's own verdict below).
    src = "import torch, torch.nn as nn\nw = torch.empty(3, 3, requires_grad=True)\nnn.init.kaiming_uniform_(w)\nw.sum().backward()\n"
    plain = run_plain(src)
    assert plain.exception is None and plain.namespace["w"].is_leaf
    writes = [e for e in trace_source(src).events if e.kind == "inplace"]
    assert [(e.op, e.line, e.grad_enabled) for e in writes] == [("kaiming_uniform_", 3, False)]


def test_grad_mode_detach_and_requires_grad_events() -> None:
    src = """import torch
x = torch.ones(2, requires_grad=True)
with torch.no_grad():
    y = x * 2
z = x.detach()
w = torch.zeros(2)
w.requires_grad_(True)
with torch.inference_mode():
    q = x + 1
"""
    t = _trace(src)
    ev = [(e["kind"], e["line"]) for e in t["events"]]
    assert ("grad_mode", 3) in ev and ("no_grad_op", 4) in ev  # the `with` line switches the mode
    assert ("detach", 5) in ev
    assert ("requires_grad", 7) in ev
    mode = [e for e in t["events"] if e["kind"] == "grad_mode"]
    assert (mode[0]["grad_enabled"], mode[0]["inference_mode"]) == (False, False)
    assert any(e.get("inference_mode") for e in mode)
    assert t["nodes"] == []  # none of these built a node


def test_the_requires_grad_setter_is_an_event_like_requires_grad_() -> None:
    # `w.requires_grad = True` is the usual way courses make a leaf; freezing a layer is
    # `p.requires_grad = False`. The setter returns nothing, which once hid it.
    src = """import torch
w = torch.zeros(2)
w.requires_grad = True
lin = torch.nn.Linear(2, 1)
for p in lin.parameters():
    p.requires_grad = False
lin.bias.requires_grad_(True)
"""
    plain = run_plain(src).namespace
    t = _trace(src)
    events = [(e["line"], e["op"], e["tensor"], e["value"]) for e in t["events"] if e["kind"] == "requires_grad"]
    ids = {name: v["id"] for v in t["tensors"] for name in v["names"]}
    assert events == [
        (3, "requires_grad=", ids["w"], True),
        (6, "requires_grad=", ids["lin.weight"], False),
        (6, "requires_grad=", ids["lin.bias"], False),
        (7, "requires_grad_", ids["lin.bias"], True),
    ]
    flags = {name: v["requires_grad"] for v in t["tensors"] for name in v["names"] if name != "p"}
    assert flags == {"w": plain["w"].requires_grad, "lin.weight": plain["lin"].weight.requires_grad,
                     "lin.bias": plain["lin"].bias.requires_grad}


def test_retain_grad_is_an_event() -> None:
    src = """import torch
x = torch.ones(2, requires_grad=True)
y = x * 2
y.retain_grad()
z = (y * y).sum()
z.backward(inputs=[x])
"""
    plain = run_plain(src).namespace
    t = _trace(src)
    ids = {name: v["id"] for v in t["tensors"] for name in v["names"]}
    # One event, for the snippet's own call (backward(inputs=...) retains nothing it did not ask for).
    assert [(e["line"], e["tensor"]) for e in t["events"] if e["kind"] == "retain_grad"] == [(4, ids["y"])]
    flags = {name: v["retains_grad"] for v in t["tensors"] for name in v["names"]}
    assert flags == {name: plain[name].retains_grad for name in ("x", "y", "z")}


def test_detach_events_are_the_snippets_cuts() -> None:
    # copy.deepcopy of a module reads every parameter's .data (nn.TransformerEncoder does it
    # per layer): torch's own code, and a leaf's data cuts no graph, so no event. The
    # snippet's own .data / detach() on a leaf are events, and so is a cut of a real graph
    # made inside torch (vector_to_parameters reads .data of slices of a computed vector).
    src = """import copy
import torch
layer = torch.nn.Linear(2, 2)
twin = copy.deepcopy(layer)
w = torch.ones(2, requires_grad=True)
a = w.data
b = w.detach()
v = torch.ones(4, requires_grad=True) * 2
torch.nn.utils.vector_to_parameters(v[:2], [w])
"""
    plain = run_plain(src).namespace
    assert not plain["v"].is_leaf and plain["w"].grad_fn is None  # the link from v to w is cut
    t = _trace(src)
    cuts = [(e["line"], e["op"]) for e in t["events"] if e["kind"] == "detach"]
    assert cuts == [(6, "data"), (7, "detach"), (9, "data")]


def test_detach_in_place_is_an_event_when_it_cuts_a_graph() -> None:
    src = """import torch
z = torch.ones(2, requires_grad=True) * 3
z.detach_()
c = torch.ones(2)
c.detach_()
"""
    plain = run_plain(src).namespace
    assert plain["z"].grad_fn is None and not plain["z"].requires_grad
    t = _trace(src)
    z = next(x for x in t["tensors"] if x["names"] == ["z"])
    cuts = [(e["line"], e["op"], e["tensor"]) for e in t["events"] if e["kind"] == "detach"]
    assert cuts == [(3, "detach_", z["id"])]  # c was in no graph: nothing to cut
    assert z["grad_fn"] is None and not z["requires_grad"]


def test_hooks_the_snippet_registers_are_events() -> None:
    # The snippet's own registrations (also from a helper it defined); not the tensor hooks
    # torch registers for a module's full backward hook on every forward call.
    src = """import torch
lin = torch.nn.Linear(2, 2)
lin.register_full_backward_hook(lambda m, gi, go: None)
x = torch.ones(1, 2, requires_grad=True)
y = lin(x)
def watch(t):
    return t.register_hook(lambda g: g * 10)
handle = watch(y)
x.register_post_accumulate_grad_hook(lambda p: None)
y.sum().backward()
"""
    plain = run_plain(src).namespace
    t = _trace(src)
    ids = {name: v["id"] for v in t["tensors"] for name in v["names"]}
    hooks = [(e["line"], e["op"], e["tensor"]) for e in t["events"] if e["kind"] == "hook"]
    assert hooks == [(7, "register_hook", ids["y"]), (9, "register_post_accumulate_grad_hook", ids["x"])]
    x = next(v for v in t["tensors"] if "x" in v["names"])
    assert x["grad"]["values"] == plain["x"].grad.flatten().tolist()  # the hook's x10 is in it


def test_grad_and_data_assignments_are_events() -> None:
    # `w.grad = None` clears a gradient, `w.data = ...` swaps the values without moving the
    # version counter (what autograd's checks cannot see): both return nothing.

    src = """import torch
w = torch.ones(2, requires_grad=True)
(w * 3).sum().backward()
w.data = w.data - 0.1 * w.grad
g = w.grad
w.grad = None
w.grad = torch.full((2,), 5.0)
y = w * 2
y.grad = torch.zeros(2)
"""
    plain = run_plain(src).namespace
    t = _trace(src)
    ids = {name: v["id"] for v in t["tensors"] for name in v["names"]}
    sets = [e for e in t["events"] if e["kind"] in ("set_grad", "set_data")]
    assert [(e["kind"], e["line"], e["tensor"]) for e in sets] == [
        ("set_data", 4, ids["w"]), ("set_grad", 6, ids["w"]), ("set_grad", 7, ids["w"]), ("set_grad", 9, ids["y"]),
    ]
    data, cleared, given, nonleaf = sets
    # (shape only: new data can be uninitialized memory, as LazyLinear's materialized weight)
    assert (data["after"]["shape"], "values" in data["after"]) == (list(plain["w"].shape), False)
    assert (data["version_before"], data["version_after"]) == (0, plain["w"]._version) == (0, 0)
    assert cleared["before"]["values"] == plain["g"].tolist() and "after" not in cleared
    assert "before" not in given and given["after"]["values"] == plain["w"].grad.tolist()
    # A non-leaf's .grad is not read (reading it warns; the plain run does not).
    assert "before" not in nonleaf and "after" not in nonleaf


def test_saved_tensors_versions_and_freed() -> None:
    src = """import torch
x = torch.ones(3, requires_grad=True)
w = torch.full((3,), 2.0)
y = x * w
y.sum().backward(retain_graph=True)
w.add_(1)
"""
    t = _trace(src)
    mul = _by_name(t, "MulBackward0")[0]
    saved = {s["name"]: s for s in mul["saved"]}
    assert saved["other"]["version_at_save"] == 0 and saved["other"]["version_now"] == 1
    assert saved["other"]["stale"] is True and saved["other"]["freed"] is False
    assert mul["stale"] is True
    t2 = _trace(src.replace("retain_graph=True", "retain_graph=False"))
    mul2 = _by_name(t2, "MulBackward0")[0]
    assert all(s["freed"] for s in mul2["saved"] if s["kind"] == "tensor")
    assert mul2["released"] is True
    frees = [e for e in t2["events"] if e["kind"] == "free"]
    assert frees and mul2["id"] in frees[0]["nodes"]


def test_accumulation_before_and_after() -> None:
    src = """import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
(x * 3).sum().backward()
(x * 3).sum().backward()
"""
    t = _trace(src)
    acc = [e for e in t["events"] if e["kind"] == "accumulate"]
    assert acc[0].get("before") is None and acc[0]["after"]["values"] == [3.0, 3.0]
    assert acc[1]["before"]["values"] == [3.0, 3.0] and acc[1]["after"]["values"] == [6.0, 6.0]


def test_create_graph_shows_new_nodes() -> None:
    src = """import torch
x = torch.tensor(2.0, requires_grad=True)
y = x ** 3
g, = torch.autograd.grad(y, x, create_graph=True)
g.backward()
"""
    t = _trace(src)
    first, second = t["backward_passes"]
    assert first["api"] == "torch.autograd.grad" and first["create_graph"] and first["retain_graph"]
    assert first["created_nodes"]
    created = [n for n in t["nodes"] if n["created_by_pass"] == 0]
    assert created and all(n["line"] == 4 for n in created)
    assert first["results"][0]["values"] == [12.0]
    assert set(second["order"]) & set(first["created_nodes"])
    x = next(v for v in t["tensors"] if v["names"] == ["x"])
    assert x["grad"]["values"] == [12.0]  # d/dx 3x^2 at 2


def test_prints_and_stdout() -> None:
    t = _trace("print('a')\nprint('b <i>', 2)\nimport sys\nsys.stdout.write('c')\n")
    assert t["stdout"] == "a\nb <i> 2\nc"
    prints = [(e["line"], e["text"]) for e in t["events"] if e["kind"] == "print"]
    assert prints[:2] == [(1, "a"), (2, "b <i> 2")]


def test_warning_attached_to_line_and_tensor() -> None:
    src = """import torch
x = torch.ones(2, requires_grad=True)
y = x * 2
g = y.grad
"""
    t = _trace(src)
    warn = [e for e in t["events"] if e["kind"] == "warning"]
    assert warn and warn[0]["line"] == 4 and ".grad attribute" in warn[0]["text"]
    y = next(v for v in t["tensors"] if "y" in v["names"])
    assert warn[0]["tensor"] == y["id"]
    assert "UserWarning" in t["stderr"]


def test_output_limit_and_soft_timeout() -> None:
    t = _trace("while True:\n    print('x' * 100)\n", max_stdout_bytes=10_000)
    assert t["status"] == "output_limit" and t["truncation"]["stdout_truncated"]
    assert len(t["stdout"]) == 10_000
    assert t["error"]["explanation"]["title"] == "The snippet printed too much"
    t = _trace("import torch\nx = torch.ones(1, requires_grad=True)\ny = x * 2\nwhile True:\n    pass\n", soft_timeout=0.3)
    assert t["status"] == "timeout" and t["error"]["line"] in (4, 5)  # inside the loop
    assert t["error"]["explanation"]["title"] == "The snippet ran out of time"
    assert [n["name"] for n in t["nodes"]][-1] == "MulBackward0"  # the graph up to the stop stays


def test_soft_cpu_timeout_stops_a_busy_loop_on_the_cpu_clock() -> None:
    # The sandbox's CPU limit kills a busy worker before its wall clock runs out; the CPU
    # deadline stops the snippet first, so the graph up to the stop is kept.
    busy = "import torch\nx = torch.ones(1, requires_grad=True)\ny = x * 2\nwhile True:\n    pass\n"
    t = _trace(busy, soft_cpu_timeout=0.3)
    assert t["status"] == "timeout" and t["error"]["line"] in (4, 5)
    assert "CPU time" in t["error"]["message"]
    assert [n["name"] for n in t["nodes"]][-1] == "MulBackward0"
    # Sleeping uses no CPU: the CPU deadline does not fire where only the wall clock runs.
    t = _trace("import time\ntime.sleep(0.6)\nprint('awake')\n", soft_cpu_timeout=0.3)
    assert t["status"] == "ok" and t["stdout"] == "awake\n"


_GRAPH_THEN = "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 3).sum().backward()\n"
_NEVER_RETURNS = {
    "exception_str": "class E(Exception):\n    def __str__(self):\n        while True:\n            pass\nraise E()\n",
    "finalizer_in_a_cycle": (
        "class Loop:\n    def __del__(self):\n        while True:\n            pass\n"
        "a, b = Loop(), Loop()\na.other, b.other = b, a\ndel a, b\n"
    ),
    "finalizers_that_swallow": (
        "class Loop:\n    def __del__(self):\n        while True:\n            try:\n                pass\n"
        "            except BaseException:\n                pass\n"
        "objs = [Loop() for _ in range(3)]\nfor o in objs:\n    o.me = o\ndel objs, o\n"
    ),
}


@pytest.mark.parametrize("clock", ["soft_timeout", "soft_cpu_timeout"])
@pytest.mark.parametrize("case", sorted(_NEVER_RETURNS))
def test_snippet_code_the_tracer_runs_after_the_snippet_is_stopped_too(case: str, clock: str) -> None:
    # Making the document runs code the snippet defined: the collection before it calls
    # finalizers, the error needs the exception's str(). One that never returns is stopped
    # at the snippet's deadline, and the graph is kept. (In a child process with a timeout:
    # the old tracer hung here for ever.)
    import json
    import subprocess
    import sys

    program = (
        "import json, sys\nfrom gradtrace import trace_source\n"
        f"d = trace_source(sys.stdin.read(), {clock}=1.0).to_dict()\n"
        "print(json.dumps([d['status'], d['error'] and d['error']['message'], [n['name'] for n in d['nodes']], "
        "[t['grad']['values'] for t in d['tensors'] if t['names'] == ['x']]]))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], input=_GRAPH_THEN + _NEVER_RETURNS[case],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    status, message, nodes, grads = json.loads(done.stdout)
    assert nodes == ["torch::autograd::AccumulateGrad", "MulBackward0", "SumBackward0"]
    assert grads == [[3.0, 3.0]]  # the graph and its backward pass, as PyTorch computes them
    if case == "exception_str":
        assert (status, message) == ("error", "<exception str() did not return before the time limit>")
    else:
        assert (status, message) == ("ok", None)


@pytest.mark.parametrize(
    ("limit", "value"),
    [("max_nodes", 0), ("max_nodes", True), ("max_json_bytes", 10), ("max_stdout_bytes", -1),
     ("soft_timeout", -1), ("soft_cpu_timeout", float("nan"))],
)
def test_a_bad_limit_is_a_value_error_that_names_it(limit: str, value: Any) -> None:
    with pytest.raises(ValueError, match=limit):
        trace_source("x = 1\n", **{limit: value})


@pytest.mark.parametrize("clock", ["soft_timeout", "soft_cpu_timeout"])
def test_swallowing_timeouts_does_not_help(clock: str) -> None:
    src = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n"
    t = _trace(src, **{clock: 0.2})  # the re-armed timer fires again, and then every line raises
    assert t["status"] == "timeout"


def test_system_exit_is_a_normal_end() -> None:
    assert _trace("import sys\nprint(1)\nsys.exit(0)\n")["status"] == "ok"
    t = _trace("import sys\nsys.exit(3)\n")
    assert t["status"] == "error" and t["error"]["type"] == "SystemExit"


def test_torch_compile_runs_eagerly_with_a_note() -> None:
    # Dynamo would otherwise trace the tracer's own TorchFunctionMode (and get it wrong).
    import os

    import torch

    t = _trace(SCENARIOS["torch_compile_eager"])
    assert t["status"] == "ok", t["error"]
    notes = [e for e in t["events"] if e["kind"] == "warning" and "torch.compile" in e["text"]]
    assert len(notes) == 1 and notes[0]["line"] == 3
    assert [n["line"] for n in t["nodes"] if n["name"] == "SinBackward0"] == [5]
    x = next(v for v in t["tensors"] if "x" in v["names"])
    want = (torch.ones(3).cos() * 2).tolist()
    assert x["grad"]["values"] == want
    # Nothing leaks out of the trace: compile and its switch are as they were.
    assert torch.compile.__module__ == "torch" and "TORCH_COMPILE_DISABLE" not in os.environ
    import torch._dynamo.config as dynamo_config

    assert dynamo_config.disable is False


def test_dataloader_workers_load_in_process_with_a_note() -> None:
    # Worker processes build no graph, and the sandbox has no shared memory for their queues
    # (there they failed with a bare FileNotFoundError): batches load in the traced process.
    from torch.utils.data import DataLoader

    original = DataLoader.__dict__["__iter__"]
    t = _trace(SCENARIOS["dataloader_workers"])
    assert t["status"] == "ok", t["error"]
    notes = [e for e in t["events"] if e["kind"] == "warning" and "DataLoader" in e["text"]]
    assert len(notes) == 1 and notes[0]["line"] == 11 and "num_workers=2" in notes[0]["text"]
    # Six training steps, each its own graph through the model's parameters.
    assert sum(p["api"] == "Tensor.backward" for p in t["backward_passes"]) == 6
    assert DataLoader.__dict__["__iter__"] is original
    # Outside a trace the loader is untouched: real workers.
    assert DataLoader([1, 2, 3], num_workers=1).__iter__().__class__.__name__ == "_MultiProcessingDataLoaderIter"


def test_a_thread_the_snippet_starts_is_noted_not_traced() -> None:
    # Torch-function modes are per thread: the thread's graph and pass are not observed, and
    # the trace says so at the line that started it; the main thread's are, and values agree.
    import threading

    source = """
import threading
import torch
x = torch.ones(3, requires_grad=True)
y = (x * 2).sum()
def work():
    z = (x ** 2).sum()
    z.backward()
t = threading.Thread(target=work)
t.start()
t.join()
y.backward()
print(x.grad)
"""
    original = threading.Thread.__dict__["start"]
    t = _trace(source)
    assert t["status"] == "ok", t["error"]
    notes = [e for e in t["events"] if e["kind"] == "warning" and "main thread only" in e["text"]]
    assert [e["line"] for e in notes] == [10]
    assert [p["line"] for p in t["backward_passes"]] == [12]
    assert t["stdout"] == "tensor([4., 4., 4.])\n"
    assert threading.Thread.__dict__["start"] is original


def test_a_thread_started_with_the_low_level_module_is_noted_too() -> None:
    # `_thread.start_new_thread` (and its alias start_new) bypass threading.Thread: the
    # thread's work is still untraced, so the note is still due; values as in PyTorch.
    import _thread

    source = """
import _thread, time
import torch
x = torch.ones(2, requires_grad=True)
done = []
def work():
    (x * 5).sum().backward()
    done.append(1)
_thread.start_new_thread(work, ())
while not done:
    time.sleep(0.01)
print(x.grad)
"""
    originals = (_thread.start_new_thread, _thread.start_new)
    plain = run_plain(source)
    t = _trace(source)
    assert t["status"] == "ok", t["error"]
    notes = [e for e in t["events"] if e["kind"] == "warning" and "main thread only" in e["text"]]
    assert [e["line"] for e in notes] == [9]
    assert t["stdout"] == plain.stdout == "tensor([5., 5.])\n"
    assert (_thread.start_new_thread, _thread.start_new) == originals


@pytest.mark.parametrize(
    "start",
    [
        "threading.Thread(target=lambda: None).start()",
        "list(DataLoader([1.0, 2.0], num_workers=2))",
        # (torch.compile's note is given the same way; under `python` compiling warns itself)
    ],
)
def test_the_tracers_own_notes_are_not_python_warnings(start: str) -> None:
    # A snippet that records warnings, or turns them into errors, sees what it sees under
    # `python`: the notes about what gradtrace does differently are trace events only.
    source = f"""
import threading
import warnings
import torch
from torch.utils.data import DataLoader
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    {start}
print(len(seen))
warnings.simplefilter("error")
{start}
print("done")
"""
    plain = run_plain(source)
    assert plain.exception is None
    t = _trace(source)
    assert t["status"] == "ok", t["error"]
    assert (t["stdout"], t["stderr"]) == (plain.stdout, "")
    notes = [e for e in t["events"] if e["kind"] == "warning" and e["category"] == "gradtrace"]
    assert [e["line"] for e in notes] == [8]  # once, where it first happened (in the `with`)
    assert notes[0]["hint"]["title"] and notes[0]["hint"]["fix"]


def test_a_process_the_snippet_forks_ends_with_the_snippet_untraced() -> None:
    # The child runs the rest of the snippet (here: a backward pass, then it ends first);
    # the trace is the parent's, with a note at the fork, and the child never returns into
    # this process's code (it would run the rest of the test suite a second time).
    import os

    source = """
import os
import torch
x = torch.ones(2, requires_grad=True)
y = (x * 2).sum()
pid = os.fork()
if pid == 0:
    y.backward()
    print("child", x.grad)
else:
    os.waitpid(pid, 0)
    print("parent", x.grad)
second = os.fork()  # noted once per trace (a multiprocessing pool forks one per worker)
if second == 0:
    os._exit(0)
os.waitpid(second, 0)
"""
    me = os.getpid()
    t = _trace(source)
    assert os.getpid() == me
    assert t["status"] == "ok", t["error"]
    assert t["stdout"] == "parent None\n"
    assert t["backward_passes"] == []
    notes = [e for e in t["events"] if e["kind"] == "warning" and e.get("hint", {}).get("kind") == "fork_not_traced"]
    assert [e["line"] for e in notes] == [6]


def test_a_snippet_that_replaces_getpid_is_not_taken_for_a_forked_child() -> None:
    # The tracer tells a forked child by its pid; a snippet's fake os.getpid must not make
    # the traced process end itself.
    import os

    getpid, exit_ = os.getpid, os._exit
    try:
        t = _trace("import os\nos.getpid = lambda: 12345\nos._exit = None\nprint('still here')\n")
    finally:
        os.getpid, os._exit = getpid, exit_
    assert (t["status"], t["stdout"]) == ("ok", "still here\n")


@pytest.mark.parametrize("depth", [950, 1100])
def test_recursion_limit_is_the_one_plain_python_has(depth: int, tmp_path: Any) -> None:
    # The snippet runs below the tracer's frames (and pytest's): that must not make a
    # recursion that works in `python snippet.py` fail, nor one that fails work.
    import subprocess
    import sys

    src = f"""import torch
x = torch.ones(1, requires_grad=True)
def f(t, n):
    return t if n == 0 else f(t * 1.0, n - 1)
y = f(x, {depth})
y.backward()
print(x.grad.item())
"""
    path = tmp_path / "snippet.py"
    path.write_text(src)
    plain = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    t = _trace(src)
    if plain.returncode == 0:
        assert t["status"] == "ok", t["error"]
        assert t["stdout"] == plain.stdout
    else:
        assert "RecursionError" in plain.stderr
        assert (t["error"]["type"], t["error"]["line"]) == ("RecursionError", 4)


@pytest.mark.parametrize(
    "src",
    [
        # torch.save pickles the snippet's class by reference to `__main__`.
        "import io, torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = torch.nn.Linear(2, 1)\nbuf = io.BytesIO()\ntorch.save(Net(), buf)\nbuf.seek(0)\n"
        "print(type(torch.load(buf, weights_only=False)).__name__)\n",
        # dataclasses read ClassVar from the defining module when annotations are strings.
        "from __future__ import annotations\nimport dataclasses, typing\n@dataclasses.dataclass\nclass Cfg:\n"
        "    lr: float = 0.1\n    steps: typing.ClassVar[int] = 3\n"
        "print([f.name for f in dataclasses.fields(Cfg)], typing.get_type_hints(Cfg))\n",
    ],
)
def test_the_snippet_is_main_as_in_plain_python(src: str, tmp_path: Any) -> None:
    import subprocess
    import sys

    path = tmp_path / "snippet.py"
    path.write_text(src)
    plain = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, check=True)
    main = sys.modules["__main__"]
    t = _trace(src)
    assert t["status"] == "ok", t["error"]
    assert t["stdout"] == plain.stdout
    assert sys.modules["__main__"] is main  # given back after the snippet


def _process_hooks() -> tuple[Any, ...]:
    import gc
    import sys
    import threading

    return (sys.excepthook, sys.displayhook, sys.unraisablehook, threading.excepthook, list(gc.callbacks),
            sys.gettrace(), sys.getprofile(), threading.gettrace())


def test_a_trace_leaves_the_calling_process_as_it_was() -> None:
    # The Python API runs snippets in the caller's process (a notebook): settings the
    # snippet changes, and the random streams the tracer seeds, are given back.
    import gc
    import os
    import random
    import sys

    import numpy as np
    import torch

    src = """import torch, sys, os, random, gc
print(sys.argv)
gc.set_threshold(100, 5, 5)
torch.set_default_device("cpu")
torch.set_default_dtype(torch.float64)
torch.autograd.set_detect_anomaly(True)
torch.set_printoptions(precision=2)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)
os.chdir("/")
sys.path.append("/nowhere")
import threading
threading.excepthook = None
sys.excepthook = sys.displayhook = sys.unraisablehook = None
gc.callbacks.append(lambda phase, info: None)
sys.setprofile(lambda frame, event, arg: None)
threading.settrace(print)
x = torch.ones(2, requires_grad=True)
(x * 3).sum().backward()
print(x.grad)
"""
    before = (torch.get_default_dtype(), torch.is_anomaly_enabled(), torch.are_deterministic_algorithms_enabled(),
              torch.get_num_threads(), torch._tensor_str.PRINT_OPTS.precision, os.getcwd(), list(sys.path),
              list(sys.argv), torch._C._len_torch_function_stack(), gc.get_threshold(), gc.isenabled(),
              _process_hooks())
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    expected = (torch.rand(1).item(), random.random(), np.random.rand())
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    t = _trace(src)
    assert t["status"] == "ok", t["error"]
    assert t["stdout"] == "['<snippet>']\ntensor([3., 3.])\n"  # argv as for `python <snippet>`
    after = (torch.get_default_dtype(), torch.is_anomaly_enabled(), torch.are_deterministic_algorithms_enabled(),
             torch.get_num_threads(), torch._tensor_str.PRINT_OPTS.precision, os.getcwd(), list(sys.path),
             list(sys.argv), torch._C._len_torch_function_stack(), gc.get_threshold(), gc.isenabled(),
             _process_hooks())
    assert after == before
    assert trace_source("x = 1\n").status == "ok"  # (a thread can start: the tracer compiles on one)
    assert (torch.rand(1).item(), random.random(), np.random.rand()) == expected


SWAP = """import torch
import torch.nn as nn
a = torch.ones(2, requires_grad=True)
b = torch.zeros(3)
torch.utils.swap_tensors(a, b)
torch.__future__.set_swap_module_params_on_conversion(True)
m = nn.Linear(2, 1)
m.double()
m(torch.ones(1, 2, dtype=torch.float64)).sum().backward()
torch.utils.swap_tensors(m.weight, nn.Parameter(torch.full((1, 2), 3.0, dtype=torch.float64)))
print(a, b, m.weight.dtype, m.weight.grad)
"""


def test_swap_tensors_works_as_in_pytorch_though_the_tracer_watches_the_tensors() -> None:
    # swap_tensors refuses tensors with weak references; the tracer's records hold one to
    # every tensor they describe. Module conversion swaps parameters when the flag is set.
    import torch

    plain = run_plain(SWAP)
    assert plain.exception is None
    t = _trace(SWAP)
    assert t["status"] == "ok", t["error"]
    assert t["stdout"] == plain.stdout
    by_name = {x["names"][0]: x for x in t["tensors"] if x["names"]}
    for name in ("a", "b", "m.weight"):
        value = plain.namespace[name] if "." not in name else plain.namespace["m"].weight
        assert by_name[name]["shape"] == list(value.shape) and by_name[name]["dtype"] == str(value.dtype)
        assert by_name[name]["version"] == value._version and by_name[name]["requires_grad"] == value.requires_grad
    assert torch.utils.swap_tensors.__module__ == "torch.utils"  # given back


def test_autograds_and_nns_registries_are_given_back() -> None:
    # A snippet that registers a global module hook, enters saved-tensor hooks or a forward-AD
    # level without leaving, or sets torch.__future__ flags, must not change the next trace
    # (nor the host's own code, under the Python API).
    import torch
    import torch.autograd.forward_ad as fwAD
    import torch.nn.modules.module as module

    leaky = """import torch
import torch.nn as nn
import torch.autograd.forward_ad as fwAD
nn.modules.module.register_module_forward_pre_hook(lambda m, i: (i[0] * 0,))
nn.modules.module.register_module_full_backward_hook(lambda m, gi, go: None)
torch.autograd.graph.saved_tensors_hooks(lambda t: t * 0, lambda t: t).__enter__()
fwAD.enter_dual_level()
torch.__future__.set_swap_module_params_on_conversion(True)
torch.__future__.set_overwrite_module_params_on_conversion(True)
"""
    after = """import torch
import torch.nn as nn
import torch.autograd.forward_ad as fwAD
torch.manual_seed(0)
m = nn.Linear(2, 1)
m.double()
x = torch.ones(1, 2, dtype=torch.float64, requires_grad=True)
m(x).sum().backward()
with fwAD.dual_level():
    d = fwAD.make_dual(torch.ones(2), torch.ones(2))
    t = fwAD.unpack_dual(d * 3).tangent
print(x.grad, t)
"""

    def state() -> tuple[object, ...]:
        hooks = tuple(len(v) for k, v in sorted(vars(module).items()) if k.startswith("_global_") and isinstance(v, dict))
        return (hooks, torch._C._autograd._top_saved_tensors_default_hooks(True),
                torch._C._autograd._saved_tensors_hooks_is_enabled(), fwAD._current_level,  # type: ignore[attr-defined]
                torch.__future__.get_swap_module_params_on_conversion(),
                torch.__future__.get_overwrite_module_params_on_conversion())

    before = state()
    assert _trace(leaky)["status"] == "ok"
    assert state() == before
    assert _trace('import torch\ntorch.autograd.graph.disable_saved_tensors_hooks("off").__enter__()\n')["status"] == "ok"
    assert state() == before
    plain = run_plain(after)
    t = _trace(after)
    assert t["status"] == "ok", t["error"]
    assert t["stdout"] == plain.stdout and "tensor([3., 3.])" in plain.stdout  # tangent 3, grads of m(x)


def test_replaced_builtins_modules_and_torch_names_are_given_back_and_the_graph_is_kept() -> None:
    import builtins
    import json
    import sys

    src = """import builtins, sys, torch
x = torch.ones(2, requires_grad=True)
(x * 3).sum().backward()
builtins.len = lambda obj: 0
builtins.print = None
builtins.extra = 1
del builtins.sorted
sys.modules['json'] = None
sys.modules = {}
torch.is_grad_enabled = None
torch.Tensor.__repr__ = lambda self: 'hacked'
del torch.Tensor.backward
torch.nn.Module.__call__ = None
"""
    import torch

    names, modules = dict(vars(builtins)), dict(sys.modules)
    torch_names, tensor_attrs, module_attrs = dict(vars(torch)), dict(vars(torch.Tensor)), dict(vars(torch.nn.Module))
    t = _trace(src)
    assert t["status"] == "ok", t["error"]
    assert [n["name"] for n in t["nodes"]] == ["torch::autograd::AccumulateGrad", "MulBackward0", "SumBackward0"]
    assert dict(vars(builtins)) == names
    assert sys.modules["json"] is json and modules.items() <= sys.modules.items()
    assert torch_names.items() <= vars(torch).items()
    assert dict(vars(torch.Tensor)) == tensor_attrs and dict(vars(torch.nn.Module)) == module_attrs


def test_a_snippet_that_breaks_the_tracer_still_gets_a_trace() -> None:
    # Replacing something the document is read with is the snippet's own business: the
    # result says so (and keeps its output) instead of failing the trace. (torch's public
    # names and the builtins are given back; the tracer's own modules are not.)
    from gradtrace.core import document

    original = document.summarize
    try:
        t = _trace(
            "import torch\nm = torch.nn.Linear(2, 2)\nprint('before')\n"
            "import gradtrace.core.document\ngradtrace.core.document.summarize = None\n"
        )
    finally:
        document.summarize = original
    assert t["status"] == "error" and t["error"]["kind"] == "tracer_broken"
    assert t["error"]["type"] == "TracerError" and "TypeError" in t["error"]["message"]
    assert t["stdout"] == "before\n" and t["events"][-1]["kind"] == "error"


def test_a_snippet_that_pops_the_mode_stack_leaves_it_as_it_was() -> None:
    import torch

    depth = torch._C._len_torch_function_stack()
    src = """import torch
while torch._C._len_torch_function_stack():
    torch._C._pop_torch_function_stack()
x = torch.ones(2, requires_grad=True)
(x * 2).sum().backward()
print(x.grad)
"""
    t = _trace(src)
    assert t["status"] == "ok" and t["stdout"] == "tensor([2., 2.])\n"
    assert torch._C._len_torch_function_stack() == depth


def test_an_exception_whose_str_fails_is_reported_as_python_prints_it() -> None:
    src = "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\nraise E()\n"
    t = _trace(src)
    assert t["status"] == "error" and t["error"]["type"] == "E" and t["error"]["line"] == 4
    assert t["error"]["message"] == "<exception str() failed>"
    assert "E: <exception str() failed>" in t["stderr"]  # Python's own traceback wording


def test_modules_kept_in_lists_and_dicts_are_named_as_written() -> None:
    src = """import torch, torch.nn as nn
layers = [nn.Linear(2, 2) for _ in range(2)]
heads = {"cls": nn.Linear(2, 1)}
x = torch.ones(3, 2)
out = heads["cls"](layers[1](layers[0](x))).sum()
out.backward()
"""
    t = _trace(src)
    modules = {(n["line"], n["module"]) for n in t["nodes"] if n["name"] == "AddmmBackward0"}
    assert modules == {(5, "layers[0]"), (5, "layers[1]"), (5, "heads['cls']")}
    names = {name for tensor in t["tensors"] for name in tensor["names"]}
    assert {"layers[0].weight", "layers[1].bias", "heads['cls'].weight"} <= names


def test_soft_timeout_waits_until_the_snippets_own_code_runs() -> None:
    # An interrupt landing in the tracer's own code (a hook, a node's finalizer, whose
    # exceptions Python ignores) is put off a few milliseconds, not raised there: raised in a
    # finalizer it was lost, and the "swallowed interrupt" rule then made every later line
    # raise, the tracer's own included (a worker crashed instead of reporting a timeout).
    import signal
    import time
    import types

    from gradtrace.core import capture

    with capture.soft_timeout(60):
        handler = signal.getsignal(signal.SIGALRM)
        assert callable(handler)
        tracer_frame = types.SimpleNamespace(f_code=capture.without_our_frames.__code__)
        handler(signal.SIGALRM, tracer_frame)  # put off: no exception here
        start = time.monotonic()
        with pytest.raises(capture.SoftTimeout):
            time.sleep(5)  # the retry lands here, in code that is not the tracer's
        assert time.monotonic() - start < 1


def test_values_held_by_pack_hooks_are_shown_without_unpacking() -> None:
    t = trace_source(SCENARIOS["saved_tensors_hooks_print"]).to_dict()
    assert t["stdout"].count("unpack") == 3  # autograd's three unpacks during backward, not ours
    sin = next(n for n in t["nodes"] if n["name"] == "SinBackward0")
    (saved,) = sin["saved"]
    assert (saved["name"], saved["shape"], saved["dtype"], saved["packed"]) == ("self", [3], "torch.float32", True)
    assert saved["freed"]  # backward released it (the hook's packed object with it)


def test_a_vmapped_pass_says_its_gradients_cannot_be_read() -> None:
    src = (
        "import torch\nx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
        "(g,) = torch.autograd.grad(x**2, x, grad_outputs=torch.eye(3), is_grads_batched=True)\n"
    )
    plain = run_plain(src).namespace["g"]
    t = _trace(src)
    (p,) = t["backward_passes"]
    assert p["results"][0]["values"] == plain.reshape(-1).tolist()
    # Inside the vmapped pass each node's gradient is a per-sample tensor without storage:
    # shape and numel, no made-up values (numel used to say 0).
    received = [g for r in p["received"] for g in r["grads"] if g is not None]
    assert received and all(g["layout"] == "unreadable" and g["numel"] == 3 and "values" not in g for g in received)


def test_a_local_that_shadows_another_tensor_is_named_with_its_function() -> None:
    # Failing inside g: the snippet's x (2x3) and g's x (the 3x2 transpose) are different
    # tensors; both plain "x" would leave the learner guessing which is which.
    src = (
        "import torch\n"
        "def f(x):\n    return g(x)\n"
        "def g(x):\n    hidden = x * 2\n    return hidden.view(-1, 5)\n"
        "x = torch.ones(2, 3, requires_grad=True)\n"
        "f(x.t())\n"
    )
    plain = run_plain(src)
    assert isinstance(plain.exception, RuntimeError)
    t = _trace(src)
    names = {n: x["shape"] for x in t["tensors"] for n in x["names"]}
    assert names["x"] == [2, 3]
    assert names["x (in f)"] == names["x (in g)"] == [3, 2]
    assert names["hidden"] == [3, 2]  # no clash: the plain name


def test_the_locals_of_a_recursion_are_named_by_call() -> None:
    # Each call of g has its own y: all were "y (in g)", two different tensors, one name.
    src = (
        "import torch\nx = torch.ones(2, requires_grad=True)\n"
        "def g(t, n):\n    y = t * (n + 2)\n    if n == 0:\n        raise ValueError('stop')\n    return g(y, n - 1)\n"
        "g(x, 2)\n"
    )
    plain = run_plain(src)
    assert isinstance(plain.exception, ValueError) and plain.line == 6
    t = _trace(src)
    by_name = {n: x for x in t["tensors"] for n in x["names"]}
    names = [n for x in t["tensors"] for n in x["names"]]
    assert len(names) == len(set(names))  # no name twice
    # y of call k is t of call k + 1 (values: 1 * 4, * 3, * 2 as the recursion goes down)
    assert by_name["y (in g, call 1)"]["value"]["values"] == [4.0, 4.0]
    assert by_name["y (in g, call 2)"] is by_name["t (in g, call 3)"]
    assert by_name["y (in g, call 3)"]["value"]["values"] == [24.0, 24.0]


SHARED_COUNTER = """import torch
x = torch.ones(3, requires_grad=True)
y = x * 1
v = y[:2]
v.add_(1)
w = y.detach()
w.mul_(2)
d = y.data
d.add_(5)
"""


def test_versions_list_every_write_to_a_shared_version_counter() -> None:
    # A view shares its base's version counter and so does a detached tensor; `.data` gets
    # a counter of its own. `versions` lists the writes that bumped each tensor's counter.
    plain = run_plain(SHARED_COUNTER).namespace
    t = _trace(SHARED_COUNTER)
    by_name = {x["names"][0]: x for x in t["tensors"] if x["names"]}
    writes = {e["seq"]: e["line"] for e in t["events"] if e["kind"] == "inplace"}
    for name in ("y", "v", "w", "d"):
        assert by_name[name]["version"] == plain[name]._version
        assert len(by_name[name]["versions"]) == plain[name]._version, name
    assert [writes[s] for s in by_name["y"]["versions"]] == [5, 7]  # through v, then through w
    assert [writes[s] for s in by_name["d"]["versions"]] == [9]


AUGMENTED_SLICE = """import torch
x = torch.ones(3, 3, requires_grad=True)
y = x * 2
y[:, 1] += 1
y[0] *= 3
y.sum().backward()
"""


def test_an_augmented_slice_assignment_is_one_write_per_version_bump() -> None:
    # `y[:, 1] += 1` is add_ on a view, then __setitem__(y, view): PyTorch bumps y's counter
    # twice. The __setitem__ sees two inputs (y and the view) moved by the same bump; that is
    # one write, not two.
    plain = run_plain(AUGMENTED_SLICE).namespace
    t = _trace(AUGMENTED_SLICE)
    y = next(x for x in t["tensors"] if x["names"] == ["y"])
    inplace = [e for e in t["events"] if e["kind"] == "inplace"]
    assert y["version"] == plain["y"]._version == 4
    assert len(inplace) == len(y["versions"]) == plain["y"]._version
    assert [(e["line"], e["op"]) for e in inplace] == [(4, "add_"), (4, "__setitem__"), (5, "mul_"), (5, "__setitem__")]
    assert [(e["version_before"], e["version_after"]) for e in inplace] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    x = next(x for x in t["tensors"] if x["names"] == ["x"])
    assert x["grad"]["values"] == plain["x"].grad.flatten().tolist()


def test_a_document_with_a_value_json_cannot_hold_is_still_an_outcome(monkeypatch: Any) -> None:
    # A gap in gradtrace (a value of a type the format has no form for) must not turn into an
    # exception of trace_json / trace_source: the run's output stays, the error says why.
    from gradtrace.core import document
    from gradtrace.core.model import Trace
    from gradtrace.core.tracer import trace_json

    build = document.build

    def broken_build(*args: Any, **kwargs: Any) -> dict[str, Any]:
        doc = build(*args, **kwargs)
        doc["nodes"][0]["saved"].append({"name": "odd", "shape": [object()]})
        return doc

    monkeypatch.setattr(document, "build", broken_build)
    src = "import torch\nx = torch.ones(2, requires_grad=True)\nprint((x * 2).sum().item())\n"
    for doc in (Trace.model_validate_json(trace_json(src)).to_dict(), _trace(src)):
        assert doc["status"] == "error" and doc["error"]["kind"] == "tracer_broken"
        assert doc["stdout"] == "4.0\n" and "could not write" in doc["error"]["message"]


def test_torchscript_modules_trace_like_plain_pytorch() -> None:
    # torch.jit.trace records sizes as tensors (the probe read them as shapes) and a scripted
    # module keeps its parameters in wrappers that are not dicts: both used to break the trace.
    src = (
        "import torch, torch.nn as nn\nmodel = nn.Linear(3, 1)\n"
        "traced = torch.jit.trace(model, torch.ones(2, 3))\nscripted = torch.jit.script(model)\n"
        "out = scripted(torch.ones(2, 3)).sum() + traced(torch.ones(2, 3)).sum()\nout.backward()\n"
        "print(model.weight.grad)\n"
    )
    plain = run_plain(src)
    t = _trace(src)
    assert t["status"] == "ok", t["error"]
    assert t["stdout"] == plain.stdout
    weight = next(x for x in t["tensors"] if "model.weight" in x["names"])
    assert "scripted.weight" in weight["names"]
    assert weight["grad"]["values"] == plain.namespace["model"].weight.grad.reshape(-1).tolist()
    assert all(type(d) is int for n in t["nodes"] for e in n["saved"] for d in (e.get("shape") or []))


def test_requires_grad_events_are_changes_or_the_snippets_own_calls() -> None:
    # zero_grad(set_to_none=False) calls requires_grad_(False) on every .grad (already False):
    # no event. Freezing a module changes its parameters' flags: events. The snippet's own
    # call is an event too.
    src = (
        "import torch\nw = torch.ones(2, requires_grad=True)\nopt = torch.optim.SGD([w], lr=0.1)\n"
        "(w * 2).sum().backward()\nopt.zero_grad(set_to_none=False)\n"
        "net = torch.nn.Linear(2, 2)\nnet.requires_grad_(False)\nx = torch.ones(2)\nx.requires_grad_()\n"
    )
    plain = run_plain(src).namespace
    assert not plain["net"].weight.requires_grad and plain["x"].requires_grad
    t = _trace(src)
    events = [(e["line"], e["value"]) for e in t["events"] if e["kind"] == "requires_grad"]
    assert events == [(7, False), (7, False), (9, True)]


def test_the_snippet_sees_no_tensor_of_the_tracers_own_in_the_garbage_collector() -> None:
    # In fresh processes (this one holds other tests' tensors): plain python, and a trace.
    import subprocess
    import sys

    source = (
        "import gc, torch\nx = torch.ones(2, requires_grad=True)\n"
        "print(sorted(tuple(o.shape) for o in gc.get_objects() if isinstance(o, torch.Tensor)))\n"
    )
    plain = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=120)
    traced = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom gradtrace import trace_source\n"
         "print(trace_source(sys.stdin.read()).to_dict()['stdout'], end='')\n"],
        input=source, capture_output=True, text=True, timeout=120,
    )
    assert plain.stdout == "[(2,)]\n"
    assert traced.stdout == plain.stdout, traced.stderr[-2000:]


def test_switches_signals_and_a_kept_grad_mode_guard_are_given_back() -> None:
    # Through the Python API the snippet runs in the host's process: a SIGALRM timer it arms
    # would end the host 30 s later; a kept inference_mode guard, dying with the snippet's
    # globals, would put back the grad mode the snippet had set (off).
    import signal

    import torch

    src = """import torch, signal
torch.set_grad_enabled(False)
im = torch.inference_mode(); im.__enter__()
torch.autograd.set_multithreading_enabled(False)
torch._C._set_view_replay_enabled(True)
torch._C._set_fwd_grad_enabled(False)
signal.signal(signal.SIGALRM, lambda s, f: print("alarm"))
signal.setitimer(signal.ITIMER_REAL, 30)
"""

    def state() -> tuple[object, ...]:
        return (torch.is_grad_enabled(), torch.is_inference_mode_enabled(), torch.autograd.is_multithreading_enabled(),
                torch._C._is_fwd_grad_enabled(), torch._C._is_view_replay_enabled(),
                signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL)[0] > 0)

    before, timer = state(), signal.getitimer(signal.ITIMER_REAL)[0]
    assert _trace(src)["status"] == "ok"
    assert state() == before
    if timer:  # the host's own timer (a test runner's) stands where it would have
        assert timer - 10 < signal.getitimer(signal.ITIMER_REAL)[0] <= timer
    # ...so the next trace builds its graph as in a fresh process
    t = _trace("import torch\nx = torch.ones(2, requires_grad=True)\n(x * 3).sum().backward()\nprint(x.grad)\n")
    assert t["stdout"] == "tensor([3., 3.])\n"
