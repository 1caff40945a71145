"""Settings as an operator meets them: `serve --help`, the docs' tables, typos and bad values."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from gradtrace.sandbox.limits import SandboxLimits
from gradtrace.settings import Settings, unknown_variables

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRADTRACE_")}
    return subprocess.run(
        [sys.executable, "-m", "gradtrace", "serve", *args],
        capture_output=True, text=True, timeout=120, env={**clean, **env},
    )


def test_every_setting_is_in_serve_help_and_in_the_docs() -> None:
    help_text = _serve("--help").stdout
    api_md, sandbox_md = (DOCS / "api.md").read_text(), (DOCS / "sandbox.md").read_text()
    for name in Settings.model_fields:
        if name != "sandbox":
            assert f"GRADTRACE_{name.upper()} (default" in help_text, name
            assert f"`GRADTRACE_{name.upper()}`" in api_md or f"GRADTRACE_{name.upper()}` /" in api_md, name
    sandbox_rows = "\n".join(line for line in sandbox_md.splitlines() if line.startswith("| `"))
    for name in SandboxLimits.model_fields:
        assert f"GRADTRACE_SANDBOX_{name.upper()} (default" in help_text, name
        assert re.search(rf"`{name}`", sandbox_rows), name


def test_a_bad_value_names_the_variable_and_stops() -> None:
    out = _serve(GRADTRACE_SANDBOX_WALL_SECONDS="abc")
    assert out.returncode == 2
    assert "GRADTRACE_SANDBOX_WALL_SECONDS=abc" in out.stderr and "valid number" in out.stderr
    out = _serve(GRADTRACE_RATE_LIMIT_BURST="0")
    assert out.returncode == 2 and "GRADTRACE_RATE_LIMIT_BURST=0" in out.stderr and "greater than or equal to 1" in out.stderr


def test_a_misspelled_variable_is_named_with_the_closest_setting() -> None:
    messages = unknown_variables({
        "GRADTRACE_SANDBOX_WALL_SECOND": "5",  # typo
        "GRADTRACE_SANDBOX__WALL_SECONDS": "5",  # the nested form is a setting
        "GRADTRACE_RATE_LIMIT_PER_MINUTE": "5",
        "GRADTRACE_STACK_RAISED": "1",  # the CLI's own marker
        "PATH": "/bin",
    })
    assert messages == ["GRADTRACE_SANDBOX_WALL_SECOND is not a setting (did you mean GRADTRACE_SANDBOX_WALL_SECONDS?)"]
