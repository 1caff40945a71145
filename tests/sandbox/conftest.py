"""Fixtures for the sandbox suite: a real Supervisor on a background event loop, and witnesses.

The witnesses are things a contained snippet must not be able to touch: a TCP listener on
127.0.0.1 (must never see a connection), canary files outside the scratch dir (must stay
unread and unmodified), a secret in the test process's environment (must never show up), and
the slot uids (no process of a finished run may still be running).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import sys
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gradtrace.sandbox import RunLimits, SandboxLimits, Supervisor

T = TypeVar("T")

# Set before the supervisor starts: the zygote's clean environment must not inherit it.
os.environ.setdefault("GRADTRACE_TEST_SECRET", "GT-ENV-SECRET-" + secrets.token_hex(8))

BENIGN = "print('ok')\n"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/sandbox" in str(item.fspath):
            item.add_marker(pytest.mark.sandbox)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("sandbox") and os.geteuid() != 0:
        pytest.skip("the sandbox needs root (namespaces, per-slot uids)")


class LoopThread:
    """An asyncio loop in a daemon thread, so synchronous tests can drive the Supervisor."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sandbox-loop", daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 180) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Sandbox:
    """A started Supervisor plus synchronous helpers."""

    def __init__(self, loop: LoopThread, sup: Supervisor) -> None:
        self.loop = loop
        self.sup = sup

    def run(self, source: str, *, events: list[dict[str, Any]] | None = None, **limits: Any) -> dict[str, Any]:
        async def sink(event: dict[str, Any]) -> None:
            assert events is not None
            events.append(event)

        return self.loop.call(
            self.sup.run(
                source,
                limits=RunLimits(**limits) if limits else None,
                on_event=sink if events is not None else None,
            )
        )

    def settle(self) -> None:
        self.loop.call(self.sup.settle())

    def slot_uids(self) -> set[int]:
        return {self.sup.base_uid + i for i in range(self.sup.limits.concurrency)}

    def run_processes(self) -> list[tuple[int, int, str]]:
        """(pid, uid, comm) of processes under a slot uid that are not the supervisor's idle workers."""
        self.settle()
        owned = self.sup.worker_pids()
        return [p for p in processes() if p[1] in self.slot_uids() and p[0] not in owned]


def processes() -> list[tuple[int, int, str]]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        out.append((int(name), int(fields["Uid"].split()[0]), fields["Name"].strip()))
    return out


def start_sandbox(limits: SandboxLimits) -> tuple[LoopThread, Supervisor]:
    loop = LoopThread()
    sup = Supervisor(limits)
    loop.call(sup.start())
    return loop, sup


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The server's default maxima; tests lower them per request where the point is containment."""
    loop, sup = start_sandbox(SandboxLimits())
    try:
        yield Sandbox(loop, sup)
    finally:
        loop.call(sup.close())
        loop.stop()


class Witness:
    """Things a snippet must not reach; `check()` asserts each one after a run."""

    def __init__(self, sandbox: Sandbox, tmp_path: Path) -> None:
        self.sandbox = sandbox
        self.secret = "GT-CANARY-" + secrets.token_hex(8)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        # One canary in the host /tmp, one next to a directory the worker *can* see.
        self.canaries = [tmp_path / "canary.txt", Path(os.path.dirname(os.path.realpath(sys.base_prefix))) / f"gt-canary-{secrets.token_hex(4)}"]
        for path in self.canaries:
            path.write_text(self.secret)
            os.chmod(path, 0o644)  # world-readable on purpose: only the mount view hides it
        self.stamps = [(p.stat().st_mtime_ns, p.read_text()) for p in self.canaries]

    def source(self, template: str) -> str:
        return (
            template.replace("__PORT__", str(self.port))
            .replace("__CANARY__", str(self.canaries[0]))
            .replace("__CANARY2__", str(self.canaries[1]))
        )

    def check(self, result: dict[str, Any]) -> None:
        # Always a schema-valid, status-tagged document.
        assert result["status"] in {"ok", "error", "timeout", "memory_limit", "output_limit", "rejected"}
        try:
            conn, peer = self.listener.accept()
        except BlockingIOError:
            pass
        else:
            conn.close()
            raise AssertionError(f"the snippet reached the loopback listener from {peer}")
        text = json.dumps(result)
        assert self.secret not in text, "a canary file's secret leaked into the result"
        assert os.environ["GRADTRACE_TEST_SECRET"] not in text, "the test process's environment leaked into the result"
        for path, (mtime, content) in zip(self.canaries, self.stamps, strict=True):
            assert path.read_text() == content and path.stat().st_mtime_ns == mtime, f"{path} was modified"
        left = self.sandbox.run_processes()
        assert not left, f"processes of the run survived: {left}"
        assert not [p for p in processes() if p[2].startswith("gtsurv")], "a marked survivor is still running"
        benign = self.sandbox.run(BENIGN)
        assert benign["status"] == "ok" and benign["stdout"] == "ok\n", benign

    def close(self) -> None:
        self.listener.close()
        for path in self.canaries:
            path.unlink(missing_ok=True)


@pytest.fixture
def witness(sandbox: Sandbox, tmp_path: Path) -> Iterator[Witness]:
    w = Witness(sandbox, tmp_path)
    try:
        yield w
    finally:
        w.close()
