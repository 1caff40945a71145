"""Exports of stored traces over HTTP (DOT here): made in a process of their own, charged to the
client that asks for one the cache does not have."""

from __future__ import annotations

from pathlib import Path

import httpx

from .conftest import Server


def _children(pid: int) -> list[str]:
    out = []
    for name in Path("/proc").iterdir():
        try:
            stat = (name / "stat").read_text()
        except (OSError, NotADirectoryError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append((name / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return out


def test_uncached_renders_count_against_the_rate_limit_and_run_off_the_web_process(tmp_path: Path) -> None:
    srv = Server(
        tmp_path / "srv",
        {
            "GRADTRACE_RATE_LIMIT_PER_MINUTE": "1",
            "GRADTRACE_RATE_LIMIT_BURST": "2",
            "GRADTRACE_TRUST_FORWARDED_FOR": "true",
        },
    ).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            ids = []
            for n in range(3):  # three addresses post one trace each
                src = f"import torch\nx = torch.ones(2, requires_grad=True)\n(x * {n}).sum().backward()\n"
                r = c.post("/api/v1/traces", json={"source": src}, headers={"x-forwarded-for": f"192.0.2.{n}"})
                assert r.status_code == 200, r.text
                ids.append(r.json()["id"])
            reader = {"x-forwarded-for": "198.51.100.9"}

            def dot(tid: str) -> httpx.Response:
                return c.get(f"/api/v1/traces/{tid}", params={"format": "dot"}, headers=reader)

            assert dot(ids[0]).status_code == 200 and "digraph" in dot(ids[0]).text  # the second from the cache
            assert dot(ids[1]).status_code == 200
            limited = dot(ids[2])  # a third render within the minute: over the burst of 2
            assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
            assert int(limited.headers["retry-after"]) >= 1
            assert dot(ids[0]).status_code == 200  # made already: free
            assert c.get(f"/api/v1/traces/{ids[0]}", headers=reader).status_code == 200  # JSON: never limited
            assert srv.proc is not None
            assert any("multiprocessing" in cmd for cmd in _children(srv.proc.pid)), _children(srv.proc.pid)
    finally:
        srv.stop()
