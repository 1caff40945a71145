"""Warnings in a trace are the ones `python snippet.py` prints: same lines, same repeats.

The oracle is a real `python` process running the snippet; whatever filters the test
process has (pytest shows every DeprecationWarning) must not leak into the trace.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

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
