"""The `gradtrace` command, run as a subprocess: outputs and exit codes (0 traced, 2 usage, 1 fault)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradtrace.core.examples import get_example

SNIPPET = "import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * 3).sum()\ny.backward()\n"
RAISES = SNIPPET + "y.backward()\n"  # backward through the graph a second time


def gradtrace(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "gradtrace", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=cwd,
    )


@pytest.mark.parametrize("tail", [
    "", "a.me = a  # a cycle: freed by the collector\n", "raise ValueError('x')\n",
    "a.me = a\ndel a  # garbage already when the snippet ends: the tracer's own collection frees it\n",
])
def test_what_finalizers_print_after_the_snippet_does_not_corrupt_the_json(tmp_path: Path, tail: str) -> None:
    """`python snippet.py` runs these finalizers at exit; the trace runs them once the
    snippet is over, and their output must not land in the JSON on stdout."""
    src = tmp_path / "snippet.py"
    src.write_text("import sys\nclass A:\n    def __del__(self):\n        print('bye')\n"
                   "        print('bye', file=sys.stderr)\na = A()\nprint('hi')\n" + tail)
    out = gradtrace("trace", str(src))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["stdout"] == "hi\n"
    assert "bye" not in out.stderr


def test_trace_file_to_stdout(tmp_path: Path) -> None:
    src = tmp_path / "snippet.py"
    src.write_text(SNIPPET)
    out = gradtrace("trace", str(src))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["status"] == "ok" and doc["schema_version"] == "1"
    assert "MulBackward0" in {n["name"] for n in doc["nodes"]}


def test_trace_stdin_to_file_even_when_the_snippet_raises(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    out = gradtrace("trace", "-", "-o", str(target), stdin=RAISES)
    assert out.returncode == 0, out.stderr  # the snippet raising is a result, not a failure
    assert out.stdout == ""
    doc = json.loads(target.read_text())
    assert doc["status"] == "error" and doc["error"]["kind"] == "backward_twice"
    assert "status error" in out.stderr


def test_trace_dot(tmp_path: Path) -> None:
    src = tmp_path / "snippet.py"
    src.write_text(SNIPPET)
    out = gradtrace("trace", str(src), "--format", "dot")
    assert out.returncode == 0, out.stderr
    assert out.stdout.lstrip().startswith("digraph") and "MulBackward0" in out.stdout


def test_dot_outlines_the_culprit_and_says_the_error(tmp_path: Path) -> None:
    src = tmp_path / "snippet.py"
    src.write_text(get_example("inplace_version_error").source)
    out = gradtrace("trace", str(src), "--format", "dot")
    doc = json.loads(gradtrace("trace", str(src)).stdout)
    culprit = doc["error"]["node"]
    outlined = [ln for ln in out.stdout.splitlines() if "penwidth=3" in ln]
    assert [ln.split()[0].strip('"') for ln in outlined] == [culprit]
    assert f'RuntimeError at line {doc["error"]["line"]}: {doc["error"]["explanation"]["title"]}' in out.stdout


def test_dot_quotes_every_id_a_forged_document_could_hold() -> None:
    # A sandboxed snippet can forge its whole document: a node id must not become DOT syntax
    # (an `image=` attribute would make Graphviz read a file of whoever renders the export).
    from gradtrace.core.export import to_dot

    hostile = 'n0 [label="INJ", image="/etc/passwd"]; n9'
    doc = {
        "nodes": [{"id": hostile, "name": "MulBackward0", "kind": "op", "saved": [{"name": "self", "kind": "tensor", "shape": [2]}]}],
        "edges": [{"source": hostile, "target": hostile}],
        "tensors": [],
    }
    dot = to_dot(doc)
    assert 'image="/etc/passwd"' not in dot and '[label="INJ"' not in dot
    assert '"n0 [label=\\"INJ\\", image=\\"/etc/passwd\\"]; n9"' in dot


def test_bad_usage_exits_2_and_says_what_to_do(tmp_path: Path) -> None:
    missing = gradtrace("trace", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "no such file" in missing.stderr and "stdin" in missing.stderr
    assert missing.stdout == ""
    directory = gradtrace("trace", str(tmp_path))
    assert directory.returncode == 2 and "directory" in directory.stderr
    bad_format = gradtrace("trace", "x.py", "--format", "png")
    assert bad_format.returncode == 2 and "invalid choice" in bad_format.stderr
    no_command = gradtrace()
    assert no_command.returncode == 2 and "choose a command" in no_command.stderr
    unknown = gradtrace("frobnicate")
    assert unknown.returncode == 2
    (tmp_path / "latin1.py").write_bytes(b"x = '\xe9'\n")
    assert gradtrace("trace", str(tmp_path / "latin1.py")).returncode == 2
    unwritable = gradtrace("schema", "-o", str(tmp_path / "no" / "such" / "dir" / "s.json"))
    assert unwritable.returncode == 2 and "-o" in unwritable.stderr
    for option, value in (("--max-nodes", "-5"), ("--max-nodes", "many"), ("--timeout", "0"), ("--timeout", "nan")):
        bad = gradtrace("trace", "x.py", option, value)
        assert bad.returncode == 2 and f"argument {option}" in bad.stderr and "above 0" in bad.stderr


def test_timeout_keeps_the_trace_so_far(tmp_path: Path) -> None:
    src = tmp_path / "loop.py"
    src.write_text("import torch\nx = torch.ones(1, requires_grad=True)\ny = x * 2\nwhile True:\n    pass\n")
    done = gradtrace("trace", str(src), "--timeout", "0.5")
    assert done.returncode == 0, done.stderr
    trace = json.loads(done.stdout)
    assert trace["status"] == "timeout" and trace["error"]["line"] in (4, 5)  # the loop's line or its body's
    assert [n["name"] for n in trace["nodes"]] == ["torch::autograd::AccumulateGrad", "MulBackward0"]


def test_examples_list_and_print() -> None:
    listing = gradtrace("examples")
    assert listing.returncode == 0
    assert "chain_rule" in listing.stdout and "gradtrace examples NAME" in listing.stdout
    as_json = json.loads(gradtrace("examples", "--json").stdout)
    # The same fields as GET /api/v1/examples gives, tags included.
    from gradtrace.api.models import ExampleSummary
    assert set(as_json[0]) == set(ExampleSummary.model_fields)
    assert as_json[0]["tags"] == list(get_example(as_json[0]["name"]).tags)
    one = gradtrace("examples", "chain_rule")
    assert one.returncode == 0 and "backward" in one.stdout
    unknown = gradtrace("examples", "chain_rul")
    assert unknown.returncode == 2 and "chain_rule" in unknown.stderr  # suggests the close match


def test_schema_and_openapi() -> None:
    schema = json.loads(gradtrace("schema").stdout)
    assert "nodes" in schema["properties"]
    out = gradtrace("openapi")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert "/api/v1/traces" in doc["paths"]


def test_an_internal_fault_exits_1_without_a_traceback(tmp_path: Path) -> None:
    # A broken core (here: a tracer module shadowed by one that raises) is a fault of ours: exit 1.
    src = tmp_path / "s.py"
    src.write_text("x = 1\n")
    code = (
        "import sys, gradtrace.core\n"
        "sys.modules['gradtrace.core.tracer'] = type(sys)('gradtrace.core.tracer')\n"
        "def boom(*a, **k): raise RuntimeError('tracer exploded')\n"
        "sys.modules['gradtrace.core.tracer'].trace_source = boom\n"
        "from gradtrace.cli import main\n"
        f"raise SystemExit(main(['trace', {str(src)!r}]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "internal error" in out.stderr and "tracer exploded" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_help_lists_options() -> None:
    out = gradtrace("serve", "--help")
    assert out.returncode == 0
    for flag in ("--host", "--port", "--data-dir", "--allow-weaker-sandbox"):
        assert flag in out.stdout


@pytest.mark.slow
def test_serve_starts_and_stops(tmp_path: Path) -> None:
    import signal
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADTRACE_")}
    env["GRADTRACE_SANDBOX_BASE_UID"] = "64960"  # a private uid range for this server's sandbox
    env["GRADTRACE_SANDBOX_WALL_SECOND"] = "5"  # a typo: named in a warning, not silently ignored
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gradtrace",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("gradtrace serve did not come up")
        r = httpx.post(f"http://127.0.0.1:{port}/api/v1/traces", json={"source": SNIPPET}, timeout=60)
        assert r.status_code == 200 and r.json()["trace"]["status"] == "ok"
        assert (tmp_path / "data" / "traces.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        output = proc.stdout.read().decode(errors="replace") if proc.stdout is not None else ""
        if proc.stdout is not None:
            proc.stdout.close()
    assert "GRADTRACE_SANDBOX_WALL_SECOND is not a setting (did you mean GRADTRACE_SANDBOX_WALL_SECONDS?)" in output
