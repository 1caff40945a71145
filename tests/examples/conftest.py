"""Fixtures for the built-in example tests.

``--update-goldens`` rewrites ``tests/examples/golden/NAME.json`` from the current trace
instead of comparing against it (review the diff before committing the new files).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HARNESS = HERE / "harness.py"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite tests/examples/golden/*.json from the current traces instead of comparing",
    )


@pytest.fixture(scope="session")
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def oracle_python() -> str:
    """The interpreter that runs the plain-PyTorch oracle: the repo's venv if present."""
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def run_plain(names: list[str], timeout: float = 240) -> dict[str, Any]:
    """Run examples under plain PyTorch in a fresh interpreter (see harness.py)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    proc = subprocess.run(
        [oracle_python(), str(HARNESS), *names],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )
    if proc.returncode != 0:
        raise AssertionError(f"harness failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.fixture(scope="session")
def plain_runs() -> dict[str, Any]:
    """Every example's outcome under plain PyTorch, keyed by example name."""
    from gradtrace.core.examples import EXAMPLE_ORDER

    return run_plain(list(EXAMPLE_ORDER))
