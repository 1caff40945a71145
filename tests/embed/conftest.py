"""Embedding tests: a real `gradtrace serve` (real sandbox) and a course page served from another origin.

Browser tests drive Debian's Chromium through pytest-playwright (like tests/e2e) and are marked `e2e`.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, ROOT, STATIC, free_port, get_json, post_json

COURSE = Path(__file__).parent / "course"
BUILT = ("index.html", "embed.html", "diff.html", "embed.js", "export/viewer.js")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents and "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1100, "height": 800}, "accept_downloads": True}


@pytest.fixture(scope="session")
def built_frontend() -> Path:
    """The production bundle (playground, widget, diff, embed.js, offline viewer); built if any is missing."""
    if not all((STATIC / name).exists() for name in BUILT):
        npm = shutil.which("npm")
        if npm is None or not (ROOT / "node_modules").exists():
            pytest.skip(
                "frontend bundle not built and npm/node_modules unavailable (run `npm ci && npm run build`)"
            )
        subprocess.run([npm, "run", "build"], cwd=ROOT, check=True)
    return STATIC


class Service:
    """A real `gradtrace serve` subprocess that a test may stop."""

    def __init__(self, data: Path, base_uid: int) -> None:
        exe = Path(sys.executable).with_name("gradtrace")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gradtrace.cli"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (data / "server.log").open("w")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GRADTRACE_")},
            "GRADTRACE_RATE_LIMIT_PER_MINUTE": "100000",
            "GRADTRACE_RATE_LIMIT_BURST": "100000",
            # A private sandbox uid range: never collide with other servers on this machine.
            "GRADTRACE_SANDBOX_BASE_UID": str(base_uid),
        }
        self.proc = subprocess.Popen(
            [*cmd, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(data)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gradtrace serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if (
                    get_json(self.url + "/api/v1/health", timeout=2)
                    .get("sandbox", {})
                    .get("zygote_alive", True)
                ):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("gradtrace serve did not become healthy in 120 s")
            time.sleep(0.3)

    def trace(self, source: str) -> dict[str, Any]:
        return post_json(self.url + "/api/v1/traces", {"source": source})  # type: ignore[no-any-return]

    def example(self, name: str) -> dict[str, Any]:
        return get_json(self.url + f"/api/v1/examples/{name}")  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def service(built_frontend: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = Service(tmp_path_factory.mktemp("embed-data"), base_uid=65200)
    try:
        yield svc
    finally:
        svc.stop()


class CoursePages:
    """Static course pages from tests/embed/course on their own port (another origin), {{SERVICE}} filled in."""

    def __init__(self) -> None:
        self.services: dict[str, str] = {}
        pages = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                name, _, query = self.path.lstrip("/").partition("?")
                path = COURSE / (name or "index.html")
                if not path.is_file() or path.parent != COURSE:
                    self.send_error(404)
                    return
                service = pages.services.get(query.removeprefix("svc="), "")
                body = path.read_text(encoding="utf-8").replace("{{SERVICE}}", service).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server API
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        # "localhost" vs the service's "127.0.0.1": a different origin (host and port).
        self.base = f"http://localhost:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, page: str, service_url: str) -> str:
        key = str(len(self.services))
        self.services[key] = service_url
        return f"{self.base}/{page}?svc={key}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def course() -> Iterator[CoursePages]:
    pages = CoursePages()
    try:
        yield pages
    finally:
        pages.close()
