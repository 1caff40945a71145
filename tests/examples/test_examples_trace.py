"""Trace every built-in example and hold the trace to plain PyTorch.

For each example: the trace's status, error (type, message, line, kind), stdout, and every
tensor the learner can name (value, grad, requires_grad, is_leaf, version, grad_fn name)
must equal what the same source does under plain PyTorch in a fresh interpreter
(``harness.py``); the nodes the lesson is about must be there, on the right lines; and the
JSON must match ``golden/NAME.json`` (byte for byte on the machine that wrote it; floats to a
tolerance elsewhere, since BLAS rounding varies by CPU; ``pytest --update-goldens`` rewrites
them; review the diff).
"""

from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gradtrace.core.examples import EXAMPLE_ORDER, get_example
from gradtrace.core.model import Trace

from .conftest import REPO, oracle_python

pytest.importorskip("gradtrace.core.tracer", reason="the tracing core is not there yet")

WORKER = Path(__file__).resolve().parent / "trace_worker.py"

GOLDEN = Path(__file__).resolve().parent / "golden"

# Limits per example (defaults otherwise). The 10,000-step loop is traced under a small JSON
# cap so that its golden stays reviewable and the truncation path is pinned too.
LIMITS: dict[str, dict[str, Any]] = {"derived_param_in_forward": {"max_json_bytes": 256 << 10}}

# The error kind each failing example must be classified as (all others must trace "ok").
KINDS = {
    "derived_param_in_init": "backward_twice",
    "backward_twice": "backward_twice",
    "inplace_version_error": "inplace_version",
    "inplace_leaf_after_use_error": "inplace_version",
    "inplace_sigmoid_output": "inplace_version",
    "inplace_leaf_error": "inplace_leaf",
    "slice_assign_leaf": "inplace_leaf",
    "vector_to_parameters_unused": "unused_input",
    "parameter_from_slice": "unused_input",
    "nonscalar_backward_error": "nonscalar_backward",
    "detach_then_backward": "no_grad_fn",
    "custom_function_wrong_grad_count": "custom_function_grads",
    "inference_tensor_saved": "inference_tensor_saved",
    "requires_grad_integer": "requires_grad_dtype",
    "requires_grad_nonleaf": "requires_grad_nonleaf",
}

ACC = "torch::autograd::AccumulateGrad"

# Nodes each lesson is about: node name -> the code (comments ignored) on the line that
# created it. A name may map to several lines when several nodes of that name exist.
NODES: dict[str, dict[str, list[str]]] = {
    "first_gradient": {"PowBackward0": ["y = x**2"]},
    "chain_rule": {
        "AddBackward0": ["z = x + 2"],
        "PowBackward0": ["y = z**2"],
        "SumBackward0": ["total = y.sum()"],
    },
    "leaf_tensors": {
        "AddBackward0": ["b = a + 2"],
        "ExpBackward0": ["c = b.exp()"],
        "MeanBackward0": ["c.mean()"],
    },
    "clamp_vs_sigmoid": {
        "ClampBackward1": ["clamped = raw.clamp"],
        "SigmoidBackward0": ["squashed = torch.sigmoid"],
    },
    "l1_l4_graph": {
        "MulBackward0": ["l1 = x * w1", "l3 = l1 * w3", "l4 = l2 * l3"],
        "AddBackward0": ["l2 = l1 + w2"],
        "MeanBackward0": ["loss = l4.mean()"],
    },
    "nonscalar_backward_gradient": {"MulBackward0": ["y = x * 2"]},
    "retain_grad": {"AddBackward0": ["y = x + 2"], "PowBackward0": ["z = y**2"]},
    "detach": {"PowBackward0": ["y = x**2"], "MulBackward0": ["w = x * z"]},
    "no_grad": {"AddmmBackward0": ["out = model(inp)"]},
    "retain_graph": {"MulBackward0": ["b = a * a"], "MeanBackward0": ["loss = b.mean()"]},
    "second_derivative": {"PowBackward0": ["y = x**3"]},
    "custom_relu": {"MyReLUBackward": ["y = MyReLU.apply(x)"]},
    "custom_leaky_relu": {"LeakyReLUBackward": ["y = LeakyReLU.apply(x, 0.05)"]},
    "linear_bce_named_parameters": {
        "AddmmBackward0": ["y = torch.sigmoid(net1(x))"],
        "SigmoidBackward0": ["y = torch.sigmoid(net1(x))"],
        "BinaryCrossEntropyBackward0": ["loss = loss_fcn(y, x)"],
    },
    "conv_requires_grad_propagation": {
        "ConvolutionBackward0": ["output = model(inp)", "output = model(inp)"]
    },
    "mlp_training_step": {
        "ReluBackward0": ["pred = model(inputs)"],
        "MseLossBackward0": ["loss = nn.functional"],
    },
    "derived_param_in_forward": {"SigmoidBackward0": ["return torch.sigmoid(self.x_raw)"]},
    "vector_to_parameters_functional_call": {"SliceBackward0": ["vparams[:10]", "vparams[10:]"]},
    "inplace_harmless": {"MulBackward0": ["b = a * 2"]},
    "derived_param_in_init": {"SigmoidBackward0": ["self.x = torch.sigmoid(self.x_raw)"]},
    "backward_twice": {"MulBackward0": ["b = a * a"]},
    "inplace_version_error": {
        "MulBackward0": ["loss = (b * b).mean()"],
        "torch::autograd::CopySlices": ["b[0] = 1000.0"],
    },
    "inplace_sigmoid_output": {"SigmoidBackward0": ["y = torch.sigmoid(x)"]},
    "parameter_from_slice": {"SelectBackward0": ["c = a[1]"]},
    "custom_function_wrong_grad_count": {"LeakyReLUBackward": ["y = LeakyReLU.apply(x, 0.1)"]},
}

# The culprit the error must pin: (node name or None, a name of the culprit tensor or None).
CULPRITS: dict[str, tuple[str | None, str | None]] = {
    "derived_param_in_init": ("SigmoidBackward0", None),
    "backward_twice": ("MulBackward0", None),
    "inplace_version_error": ("MulBackward0", "b"),
    "inplace_sigmoid_output": ("SigmoidBackward0", "y"),
    "inplace_leaf_error": (None, "a"),
    "slice_assign_leaf": (None, "a"),
    "custom_function_wrong_grad_count": ("LeakyReLUBackward", None),
    "requires_grad_nonleaf": (None, "y"),
}


# ----------------------------------------------------------------------------- helpers


def code_lines(name: str, text: str) -> list[int]:
    lines = get_example(name).source.splitlines()
    hits = [i for i, line in enumerate(lines, 1) if text in line.split("#", 1)[0]]
    assert hits, f"{text!r} not in the code of {name}"
    return hits


def _start_worker(outdir: Path, names: list[str]) -> subprocess.Popen[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    return subprocess.Popen(
        [oracle_python(), str(WORKER), str(outdir), json.dumps(LIMITS), *names],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


def _wait_for(proc: subprocess.Popen[str], path: Path, timeout: float = 900) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None and not path.exists():
            _, err = proc.communicate()
            raise AssertionError(
                f"the trace worker did not produce {path.name} (exit {proc.returncode}):\n{err[-4000:]}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {path.name}")
        time.sleep(0.05)
    return path.read_text(encoding="utf-8")


_WORKER: dict[str, Any] = {}


def _cleanup() -> None:
    proc = _WORKER["proc"]
    if proc.poll() is None:
        proc.kill()
    proc.communicate()
    shutil.rmtree(_WORKER["outdir"], ignore_errors=True)


def trace_json(name: str) -> str:
    """The example's trace JSON. On first use one worker starts tracing every example, each in
    a child forked from a process that only imported torch (see trace_worker.py); each test
    waits only for its own file."""
    if not _WORKER:
        outdir = Path(tempfile.mkdtemp(prefix="gradtrace-example-traces-"))
        names = sorted(EXAMPLE_ORDER, key=lambda n: n not in LIMITS)  # the slow one first
        _WORKER.update(outdir=outdir, proc=_start_worker(outdir, names))
        atexit.register(_cleanup)
    return _wait_for(_WORKER["proc"], _WORKER["outdir"] / f"{name}.json")


def traced(name: str) -> Trace:
    return Trace.model_validate_json(trace_json(name))


def same_numbers(
    summary: dict[str, Any], values: list[Any], shape: list[int], what: str, values_dropped: bool = False
) -> None:
    """A trace ValueSummary agrees with the full values plain PyTorch computed."""
    assert summary["shape"] == shape, what
    if summary.get("values") is not None:
        assert len(summary["values"]) == len(values), what
        for got, want in zip(summary["values"], values, strict=True):
            if isinstance(want, float) and math.isnan(want):
                assert str(got).lower() == "nan", what
            else:
                assert got == pytest.approx(want, rel=1e-6, abs=1e-7), what
    else:  # large tensor (or values dropped to fit the JSON cap): statistics only
        assert len(values) > 16 or values_dropped, what
        for stat, want in (("min", min(values)), ("max", max(values)), ("mean", sum(values) / len(values))):
            if summary.get(stat) is not None:
                assert summary[stat] == pytest.approx(want, rel=1e-5, abs=1e-6), (what, stat)


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: t for t in doc["tensors"] for n in t["names"]}


# ------------------------------------------------------------------------------ tests


def test_kinds_and_nodes_refer_to_examples() -> None:
    for table in (KINDS, NODES, CULPRITS, LIMITS):
        assert set(table) <= set(EXAMPLE_ORDER)


@pytest.mark.parametrize("name", EXAMPLE_ORDER)
def test_trace_agrees_with_pytorch(name: str, plain_runs: dict[str, Any]) -> None:
    plain, doc = plain_runs[name], traced(name).to_dict()

    # Same outcome: status, exception, output.
    assert doc["status"] == plain["status"], doc["error"]
    assert doc["stdout"] == plain["stdout"]
    if plain["status"] == "error":
        error, want = doc["error"], plain["error"]
        assert (error["type"], error["message"], error["line"]) == (
            want["type"],
            want["message"],
            want["line"],
        )
        assert error["kind"] == KINDS[name], error
        assert error["explanation"] and error["explanation"]["title"] and error["explanation"]["fix"]
    else:
        assert doc["error"] is None and name not in KINDS

    # Every tensor the learner can name: same value, grad and autograd flags as plain PyTorch.
    nodes = {n["id"]: n for n in doc["nodes"]}
    tensors = by_name(doc)
    for tname, want in plain["tensors"].items():
        assert tname in tensors, f"{tname} missing from the trace of {name}"
        got = tensors[tname]
        what = f"{name}: {tname}"
        assert got["shape"] == want["shape"] and got["dtype"] == want["dtype"], what
        assert (got["requires_grad"], got["is_leaf"]) == (want["requires_grad"], want["is_leaf"]), what
        assert got["retains_grad"] == want["retains_grad"], what
        if want["version"] is not None:
            assert got["version"] == want["version"], what
        dropped = doc["truncation"]["values_dropped"]
        same_numbers(got["value"], want["value"], want["shape"], f"{what} value", dropped)
        if want["grad"] is None:
            assert got["grad"] is None, what
        else:
            assert got["grad"] is not None, f"{what}: PyTorch has a grad, the trace has none"
            same_numbers(got["grad"], want["grad"], want["shape"], f"{what} grad", dropped)
        if want["grad_fn"] is None:
            assert got["grad_fn"] is None, what
        elif got["grad_fn"] is not None or not doc["truncated"]:
            assert got["grad_fn"] in nodes, f"{what}: grad_fn node {got['grad_fn']} not in the trace"
            assert nodes[got["grad_fn"]]["name"] == want["grad_fn"], what
            # Its outgoing edges are grad_fn.next_functions, slot by slot.
            out = sorted(
                (e["index"], e["target"], e["input_nr"])
                for e in doc["edges"]
                if e["source"] == got["grad_fn"]
            )
            if not doc["truncated"]:
                present = [[nodes[target]["name"], nr] for _, target, nr in out]
                assert present == [slot for slot in want["next"] if slot[0] is not None], f"{what}: edges"
                assert [index for index, _, _ in out] == [
                    i for i, slot in enumerate(want["next"]) if slot[0] is not None
                ]

    # Backward ran in a valid engine order: a node runs after every node that feeds it.
    for bw in doc["backward_passes"]:
        if bw["error"] is None:
            position = {node: i for i, node in enumerate(bw["order"])}
            for e in doc["edges"]:
                if (
                    e["source"] in position
                    and e["target"] in position
                    and e["source"] not in bw["created_nodes"]
                ):
                    assert position[e["source"]] < position[e["target"]], (name, bw["index"], e)


@pytest.mark.parametrize("name", sorted(NODES))
def test_lesson_nodes_on_their_lines(name: str) -> None:
    doc = traced(name).to_dict()
    for node_name, texts in NODES[name].items():
        want = Counter(code_lines(name, text)[0] for text in texts)
        got = Counter(n["line"] for n in doc["nodes"] if n["name"] == node_name)
        assert not want - got, (
            f"{node_name}: expected on lines {sorted(want.elements())}, trace has {sorted(got.elements())}"
        )


@pytest.mark.parametrize("name", sorted(CULPRITS))
def test_error_pins_the_culprit(name: str) -> None:
    doc = traced(name).to_dict()
    node_name, tensor_name = CULPRITS[name]
    error = doc["error"]
    if node_name is not None:
        nodes = {n["id"]: n for n in doc["nodes"]}
        assert error["node"] in nodes and nodes[error["node"]]["name"] == node_name, error
    if tensor_name is not None:
        tensors = {t["id"]: t for t in doc["tensors"]}
        assert error["tensor"] in tensors and tensor_name in tensors[error["tensor"]]["names"], error


def test_l1_l4_graph_shape() -> None:
    doc = traced("l1_l4_graph").to_dict()
    names = [n["name"] for n in doc["nodes"]]
    assert names.count(ACC) == 3 and names.count("MulBackward0") == 3
    (bw,) = doc["backward_passes"]
    assert bw["api"] == "Tensor.backward" and bw["line"] == code_lines("l1_l4_graph", "loss.backward()")[0]
    assert sorted(bw["order"]) == sorted(n["id"] for n in doc["nodes"])  # every node ran once
    assert {e["source"] for e in doc["edges"]} | {e["target"] for e in doc["edges"]} == {
        n["id"] for n in doc["nodes"]
    }


def test_rebinding_is_not_inplace() -> None:
    name = "rebinding_vs_inplace"
    events = [e for e in traced(name).to_dict()["events"] if e["kind"] == "inplace"]
    assert [(e["line"], e["version_before"], e["version_after"]) for e in events] == [
        (code_lines(name, "b[0] = 10.0")[0], 0, 1)
    ]


def test_inplace_version_error_points_at_the_write() -> None:
    name = "inplace_version_error"
    doc = traced(name).to_dict()
    error = doc["error"]
    assert error["related_line"] == code_lines(name, "b[0] = 1000.0")[0]
    assert (error["version_at_save"], error["version_now"]) == (0, 1)
    (inplace,) = [e for e in doc["events"] if e["kind"] == "inplace"]
    assert (inplace["version_before"], inplace["version_after"]) == (0, 1)
    assert any(e["kind"] == "stale" for e in doc["events"])


def test_inplace_sigmoid_output_points_at_the_write() -> None:
    name = "inplace_sigmoid_output"
    error = traced(name).to_dict()["error"]
    assert error["related_line"] == code_lines(name, "y.mul_(2)")[0]
    assert (error["version_at_save"], error["version_now"]) == (0, 1)


def test_backward_twice_passes() -> None:
    doc = traced("backward_twice").to_dict()
    first, second = doc["backward_passes"]
    assert first["error"] is None and second["error"]["kind"] == "backward_twice"
    assert first["retain_graph"] is False and set(first["freed"])  # the first pass freed the buffers
    assert doc["error"]["backward_pass"] == 1


def test_retain_graph_passes() -> None:
    doc = traced("retain_graph").to_dict()
    first, second = doc["backward_passes"]
    assert (first["retain_graph"], second["retain_graph"]) == (True, False)
    assert first["order"] == second["order"] and not first["freed"] and second["freed"]


def test_saved_tensors_and_accumulation() -> None:
    doc = traced("inplace_version_error").to_dict()
    (mul,) = [n for n in doc["nodes"] if n["name"] == "MulBackward0"]
    assert mul["stale"] and {s["name"] for s in mul["saved"]} == {"self", "other"}
    for saved in mul["saved"]:
        assert (saved["version_at_save"], saved["version_now"], saved["stale"]) == (0, 1, True)
    doc = traced("retain_graph").to_dict()
    (first,), (second,) = (p["accumulated"] for p in doc["backward_passes"])
    assert first["before"] is None and first["after"]["values"] == [3.0, 1.0]
    assert second["before"]["values"] == [3.0, 1.0] and second["after"]["values"] == [6.0, 2.0]


def test_second_derivative_builds_nodes() -> None:
    doc = traced("second_derivative").to_dict()
    first, second = doc["backward_passes"]
    assert first["api"] == "torch.autograd.grad" and first["create_graph"] is True
    assert first["created_nodes"], "create_graph=True must show the nodes backward built"
    assert set(second["order"]) >= set(first["created_nodes"]) - {
        n["id"] for n in doc["nodes"] if n["name"] == ACC
    }


def test_grad_mode_and_detach_are_events() -> None:
    no_grad = traced("no_grad").to_dict()
    line = code_lines("no_grad", "with torch.no_grad():")[0]
    modes = [e for e in no_grad["events"] if e["kind"] == "grad_mode"]
    assert any(e["grad_enabled"] is False and e["line"] == line for e in modes)
    assert any(e["kind"] == "no_grad_op" and e["line"] == line + 1 for e in no_grad["events"])
    detach = traced("detach").to_dict()
    assert any(
        e["kind"] == "detach" and e["line"] == code_lines("detach", "z = y.detach()")[0]
        for e in detach["events"]
    )


def test_transformer_nodes_grouped_by_module() -> None:
    modules = {n["module"] for n in traced("transformer_encoder").to_dict()["nodes"]}
    for path in ("encoder.layers.0.linear1", "encoder.layers.1.self_attn", "encoder.layers.1.norm2"):
        assert path in modules, sorted(m for m in modules if m)


def test_long_training_loop_is_bounded() -> None:
    trace = traced("derived_param_in_forward")
    doc = trace.to_dict()
    assert doc["truncated"] is True and doc["truncation"]["reasons"]
    assert len(trace.to_json()) <= LIMITS["derived_param_in_forward"]["max_json_bytes"]
    assert len(doc["backward_passes"]) >= 1


def test_warning_is_attached() -> None:
    doc = traced("leaf_tensors").to_dict()
    line = code_lines("leaf_tensors", "print(b.grad)")[0]
    assert any(e["kind"] == "warning" and e["line"] == line for e in doc["events"])



def test_broadcasting_loss_warns_with_its_lesson_at_its_line() -> None:
    doc = traced("loss_shape_broadcast").to_dict()
    (warning,) = [e for e in doc["events"] if e["kind"] == "warning"]
    assert warning["line"] == code_lines("loss_shape_broadcast", "wrong = F.mse_loss")[0]
    assert warning["hint"]["kind"] == "target_size_broadcast"


@pytest.mark.parametrize("name", EXAMPLE_ORDER)
def test_golden(name: str, update_goldens: bool) -> None:
    text = trace_json(name)
    path = GOLDEN / f"{name}.json"
    if update_goldens:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no golden for {name}: run pytest tests/examples --update-goldens and review"
    golden = path.read_text(encoding="utf-8")
    if golden != text:
        # Byte equality holds on one machine (see the determinism tests below); across CPUs the
        # BLAS kernels may round the last bit differently, so floats are held to a tolerance and
        # everything else (structure, ids, names, order, strings) must still be identical.
        where = _first_difference(json.loads(text), json.loads(golden), "$")
        if where is not None:  # show where, not two megabytes of JSON
            pytest.fail(
                f"trace of {name} differs from golden/{name}.json at {where}; "
                "rerun with --update-goldens if intended"
            )


def _first_difference(got: Any, want: Any, path: str) -> str | None:
    """JSON path of the first difference, floats compared with a relative tolerance."""
    if isinstance(want, float) and isinstance(got, float | int) and not isinstance(got, bool):
        return None if got == pytest.approx(want, rel=1e-4, abs=1e-6) else f"{path}: {got!r} != {want!r}"
    if type(got) is not type(want):
        return f"{path}: {got!r} != {want!r}"
    if isinstance(want, dict):
        if list(got) != list(want):
            return f"{path} keys: {list(got)} != {list(want)}"
        for key in want:
            found = _first_difference(got[key], want[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(want, list):
        if len(got) != len(want):
            return f"{path} length: {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            found = _first_difference(g, w, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if got == want else f"{path}: {got!r} != {want!r}"


def test_trace_is_deterministic_across_processes(tmp_path: Path) -> None:
    name = "custom_leaky_relu"
    proc = _start_worker(tmp_path, [name])
    assert _wait_for(proc, tmp_path / f"{name}.json") == trace_json(name)
    proc.wait(timeout=60)


@pytest.mark.parametrize("name", ["l1_l4_graph", "inplace_version_error"])
def test_trace_is_deterministic_in_one_process(name: str) -> None:
    """Same snippet, same JSON, also when the process traced other snippets before."""
    import torch

    from gradtrace.core.tracer import trace_source

    torch.set_num_threads(1)
    source = get_example(name).source
    first = trace_source(source).to_json()
    trace_source(get_example("mlp_training_step").source)
    assert trace_source(source).to_json() == first
