"""Real servers for the API tests: uvicorn in a subprocess on a free loopback port, real HTTP via httpx.

Runs go through the real sandbox Supervisor (real zygote and workers). Each server gets its own
data dir and its own range of sandbox uids, so it can't collide with other sandboxes on the host.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).parent
REPO = HERE.parent.parent
START_TIMEOUT = 150.0

_uids = itertools.count(0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """One uvicorn subprocess serving create_app() with settings from the environment."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, fake: bool = False) -> None:
        self.data_dir = data_dir
        self.extra_env = dict(env or {})
        self.fake = fake  # the stand-in runner only where a test asks for it explicitly
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_path = data_dir / "server.log"
        # A private uid range per server: sandbox slots are uids, and two supervisors must never share them.
        self.base_uid = 64700 + 16 * (next(_uids) % 40)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADTRACE_")}
        env.update(
            {
                "GRADTRACE_DATA_DIR": str(self.data_dir),
                "GRADTRACE_SANDBOX_BASE_UID": str(self.base_uid),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.fake:
            env["GT_TEST_RUNNER"] = "fake"
        env.update(self.extra_env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "serve_app.py"), str(self.port)],
            env=env,
            cwd=str(self.data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                r = httpx.get(self.url + "/api/v1/health", timeout=2)
                if r.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become healthy in {START_TIMEOUT}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        """Crash it: SIGKILL the whole process group (server and sandbox), no clean shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def health(self) -> dict:  # type: ignore[type-arg]
        r = httpx.get(self.url + "/api/v1/health", timeout=10)
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default server: real sandbox, rate limit out of the way (tested on its own server)."""
    srv = Server(
        tmp_path_factory.mktemp("server"),
        {
            "GRADTRACE_RATE_LIMIT_PER_MINUTE": "0",
            "GRADTRACE_STATIC_DIR": str(tmp_path_factory.mktemp("nostatic")),
        },
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def assert_envelope(r: httpx.Response, status: int, code: str) -> dict:  # type: ignore[type-arg]
    """The one error shape: {"error": {"code", "message", "detail"}} with a JSON content type."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "detail"}, err
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and len(err["message"]) > 10
    return err  # type: ignore[no-any-return]
