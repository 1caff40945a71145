"""Storage: the SQLite store on its own, and stored traces surviving a restart and a crash of the server."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest

import gradtrace
from gradtrace.api.state import tracer_fingerprint
from gradtrace.api.storage import SQLiteTraceStore, is_valid_id, trace_id

from .conftest import Server


def test_trace_id_is_a_content_address() -> None:
    a = trace_id("x = 1", {}, "2.13.0", "1")
    assert is_valid_id(a) and a == trace_id("x = 1", {}, "2.13.0", "1")
    assert a != trace_id("x = 1 ", {}, "2.13.0", "1")
    assert a != trace_id("x = 1", {"max_nodes": 5}, "2.13.0", "1")
    assert a != trace_id("x = 1", {}, "2.14.0", "1")
    assert a != trace_id("x = 1", {}, "2.13.0", "2")
    assert a != trace_id("x = 1", {}, "2.13.0", "1", tracer="0123abcd")
    assert trace_id("s", {"a": 1, "b": 2}, "t", "1") == trace_id("s", {"b": 2, "a": 1}, "t", "1")
    assert not is_valid_id("../../etc") and not is_valid_id("A" * 32)


def test_put_get_count_replace(tmp_path: Path) -> None:
    store = SQLiteTraceStore(tmp_path / "d" / "t.sqlite3")
    assert store.get("0" * 32) is None and store.count() == 0 and store.peek("0" * 32) is None
    store.put("a" * 32, status="ok", trace_json='{"status":"ok","é":"ü"}', source="x = 1", options={})
    got = store.get("a" * 32)
    assert got is not None and got.trace_json == '{"status":"ok","é":"ü"}' and got.status == "ok"
    store.put("a" * 32, status="timeout", trace_json='{"status":"timeout"}', source="x = 1", options={})
    assert store.peek("a" * 32) is True
    store.put(
        "a" * 32,
        status="timeout",
        trace_json='{"status":"timeout"}',
        source="x = 1",
        options={},
        cacheable=False,
    )
    assert store.count() == 1 and store.get("a" * 32).status == "timeout"  # type: ignore[union-attr]
    assert store.peek("a" * 32) is False and store.get("a" * 32).cacheable is False  # type: ignore[union-attr]
    store.close()
    conn = sqlite3.connect(tmp_path / "d" / "t.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_concurrent_writers_from_threads(tmp_path: Path) -> None:
    store = SQLiteTraceStore(tmp_path / "t.sqlite3")

    def write(k: int) -> None:
        for i in range(20):
            store.put(f"{k:02x}{i:030x}", status="ok", trace_json="{}", source=str(i), options={})

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 80
    store.close()


def test_a_failed_write_leaves_no_partial_row(tmp_path: Path) -> None:
    store = SQLiteTraceStore(tmp_path / "t.sqlite3")
    with pytest.raises(TypeError):
        store.put("b" * 32, status="ok", trace_json="{}", source="x", options={"bad": object()})
    assert store.get("b" * 32) is None
    store.close()


@pytest.mark.slow
def test_stored_traces_survive_restart_and_crash(tmp_path: Path) -> None:
    source = "import torch\nx = torch.ones(2, requires_grad=True)\n(x * x).sum().backward()\n"
    srv = Server(tmp_path / "srv", {"GRADTRACE_RATE_LIMIT_PER_MINUTE": "0"}).start()
    try:
        first = httpx.post(srv.url + "/api/v1/traces", json={"source": source}, timeout=60).json()
        # Crash right after the answer: no clean shutdown, no chance to flush anything later.
        crashed = httpx.post(srv.url + "/api/v1/traces", json={"source": source + "# 2\n"}, timeout=60).json()
        srv.kill()
        offset = len(srv.log_path.read_bytes())
        srv.start()  # same data dir
        for created in (first, crashed):
            r = httpx.get(srv.url + f"/api/v1/traces/{created['id']}", timeout=60)
            assert r.status_code == 200, r.text
            assert r.json()["trace"] == created["trace"]
        again = httpx.post(srv.url + "/api/v1/traces", json={"source": source}, timeout=60).json()
        assert again["cached"] is True and again["id"] == first["id"]
        assert srv.health()["stats"]["runs_started"] == 0
        assert srv.health()["stored_traces"] == 2
        assert srv.stop() in (0, -15)  # uvicorn shuts down cleanly, then re-raises SIGTERM
        assert b"gradtrace/api/" not in srv.log_path.read_bytes()[offset:]  # no traceback through the API
    finally:
        srv.kill()


def test_the_tracer_fingerprint_follows_the_code_that_makes_traces(tmp_path: Path) -> None:
    package = Path(gradtrace.__file__).parent
    assert tracer_fingerprint() == tracer_fingerprint(package)
    copy = tmp_path / "gradtrace"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    assert tracer_fingerprint(copy) == tracer_fingerprint(package)
    (copy / "api" / "app.py").write_text("# the web side does not make traces\n")
    assert tracer_fingerprint(copy) == tracer_fingerprint(package)
    explain = copy / "core" / "explain.py"
    explain.write_text(explain.read_text() + "\n# a fix\n")
    assert tracer_fingerprint(copy) != tracer_fingerprint(package)
