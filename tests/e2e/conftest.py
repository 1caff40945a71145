"""Browser tests: Playwright driving Debian's Chromium against a real `gradtrace serve` (real sandbox)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, ROOT, STATIC, post_json
from tests.browser_support import free_port as _free_port
from tests.browser_support import get_json as _get_json

ARTIFACTS = ROOT / "test-results" / "e2e"


def pytest_configure(config: pytest.Config) -> None:
    # pytest-playwright wipes its --output folder (default test-results/) at session start and
    # prunes it per test; keep it in a subfolder so our deliberate screenshots survive.
    if getattr(config.option, "output", None) == "test-results":
        config.option.output = str(ROOT / "test-results" / "playwright")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Playwright's own browser download does not work here: use Debian's chromium.
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "accept_downloads": True}


@pytest.fixture(scope="session")
def built_frontend() -> Path:
    """The production bundle FastAPI serves; built once if missing (needs node_modules)."""
    if not (STATIC / "index.html").exists():
        npm = shutil.which("npm")
        if npm is None or not (ROOT / "node_modules").exists():
            pytest.skip("frontend bundle not built and npm/node_modules unavailable (run `npm ci && npm run build`)")
        subprocess.run([npm, "run", "build"], cwd=ROOT, check=True)
    return STATIC


@pytest.fixture(scope="session")
def server(built_frontend: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `gradtrace serve` on a free loopback port, for the whole session."""
    exe = Path(sys.executable).with_name("gradtrace")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gradtrace.cli"]
    port = _free_port()
    data = tmp_path_factory.mktemp("e2e-data")
    log = (tmp_path_factory.mktemp("e2e-log") / "server.log").open("w")
    env = {
        **os.environ,
        # Many runs back to back from one client: lift the per-client rate limit.
        "GRADTRACE_RATE_LIMIT_PER_MINUTE": "100000",
        "GRADTRACE_RATE_LIMIT_BURST": "100000",
    }
    proc = subprocess.Popen(
        [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gradtrace serve exited with {proc.returncode}; see {log.name}")
            try:
                if _get_json(url + "/api/v1/health", timeout=2.0).get("sandbox", {}).get("zygote_alive", True):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gradtrace serve did not become healthy in 90 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def api(server: str) -> Any:
    class Api:
        base = server

        def trace(self, source: str) -> dict[str, Any]:
            return post_json(server + "/api/v1/traces", {"source": source})  # type: ignore[no-any-return]

        def get(self, trace_id: str) -> dict[str, Any]:
            return _get_json(server + f"/api/v1/traces/{trace_id}", timeout=30)  # type: ignore[no-any-return]

        def example(self, name: str) -> dict[str, Any]:
            return _get_json(server + f"/api/v1/examples/{name}", timeout=10)  # type: ignore[no-any-return]

        def examples(self) -> list[dict[str, Any]]:
            return _get_json(server + "/api/v1/examples", timeout=10)["examples"]  # type: ignore[no-any-return]

    return Api()


@pytest.fixture()
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
