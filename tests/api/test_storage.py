"""Storage: the SQLite store on its own, and stored traces surviving a restart and a crash of the server."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import zlib
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


class _Clock:
    """A wall clock the test moves by hand, so read/write order is exact."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds


def _doc(n: int, size: int = 3000) -> str:
    # Random bytes (as hex: compressed to about half), so each stored trace costs about `size`
    # bytes of the budget.
    return json.dumps({"status": "ok", "n": n, "pad": os.urandom(size).hex()})


def _db_bytes(path: Path) -> tuple[int, set[str]]:
    conn = sqlite3.connect(path)
    try:
        total = conn.execute("SELECT COALESCE(SUM(size), 0) FROM traces").fetchone()[0]
        ids = {row[0] for row in conn.execute("SELECT id FROM traces")}
        body = conn.execute(
            "SELECT COALESCE(SUM(length(body) + length(CAST(source AS BLOB)) + length(CAST(options AS BLOB))), 0)"
            " FROM traces"
        ).fetchone()[0]
    finally:
        conn.close()
    assert total == body  # `size` is what the row really holds
    return int(total), ids


def test_a_store_over_its_budget_evicts_the_traces_read_least_recently(tmp_path: Path) -> None:
    clock = _Clock()
    path = tmp_path / "t.sqlite3"
    store = SQLiteTraceStore(path, max_bytes=20_000, clock=clock)
    ids = [f"{n:032x}" for n in range(12)]
    for n, tid in enumerate(ids[:5]):
        store.put(tid, status="ok", trace_json=_doc(n), source=f"x = {n}", options={})
        clock.tick()
    assert store.usage().evicted == 0 and store.usage().traces == 5
    for n, tid in enumerate(ids[5:], start=5):
        # Trace 0 is a shared link people keep opening (hours apart: reads move `read_at` at most
        # once an hour); the others are never read again.
        clock.tick(2 * 3600)
        assert store.get(ids[0]) is not None
        clock.tick()
        store.put(tid, status="ok", trace_json=_doc(n), source=f"x = {n}", options={})
        usage = store.usage()
        assert usage.bytes <= 20_000
        assert (usage.bytes, {i for i in ids if store.peek(i) is not None}) == _db_bytes(path)
    kept = {i for i in ids if store.peek(i) is not None}
    # Evicted: the oldest unread traces, in order; kept: the re-read one and the newest.
    assert ids[0] in kept and ids[-1] in kept
    evicted = [i for i in ids if i not in kept]
    assert evicted == ids[1 : 1 + len(evicted)] and store.usage().evicted == len(evicted) >= 4
    assert store.get(ids[1]) is None
    store.close()
    # Reopened: the running total is summed from the rows again.
    again = SQLiteTraceStore(path, max_bytes=20_000)
    assert again.usage().bytes == _db_bytes(path)[0] and again.usage().traces == len(kept)
    again.close()


def test_replacing_a_trace_counts_its_bytes_once_and_no_budget_keeps_everything(tmp_path: Path) -> None:
    store = SQLiteTraceStore(tmp_path / "t.sqlite3")  # max_bytes=0: no budget
    for _ in range(3):
        store.put("a" * 32, status="timeout", trace_json=_doc(1), source="x = 1", options={}, cacheable=False)
    for n in range(20):
        store.put(f"{n:032x}", status="ok", trace_json=_doc(n), source="y", options={"n": n})
    assert store.usage().bytes == _db_bytes(tmp_path / "t.sqlite3")[0] and store.usage().traces == 21
    assert store.usage().evicted == 0 and store.usage().max_bytes == 0
    store.close()
    with pytest.raises(ValueError, match="max_bytes"):
        SQLiteTraceStore(tmp_path / "u.sqlite3", max_bytes=-1)


def test_a_database_from_before_the_budget_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE traces (id TEXT PRIMARY KEY, status TEXT NOT NULL, cacheable INTEGER NOT NULL DEFAULT 1,"
        " created_at REAL NOT NULL, source TEXT NOT NULL, options TEXT NOT NULL, encoding TEXT NOT NULL,"
        " body BLOB NOT NULL) WITHOUT ROWID"
    )
    for n in range(3):
        body = zlib.compress(_doc(n).encode())
        conn.execute(
            "INSERT INTO traces VALUES (?, 'ok', 1, ?, ?, '{}', 'zlib', ?)", (f"{n:032x}", 100.0 + n, f"é = {n}", body)
        )
    conn.commit()
    conn.close()
    store = SQLiteTraceStore(path, max_bytes=10**9)
    total, ids = _db_bytes(path)
    assert store.usage().bytes == total > 3 * 3000 and len(ids) == 3
    got = store.get(f"{1:032x}")
    assert got is not None and got.source == "é = 1" and json.loads(got.trace_json)["status"] == "ok"
    conn = sqlite3.connect(path)
    read_at = [r[0] for r in conn.execute("SELECT read_at FROM traces ORDER BY id")]
    assert read_at[0] == 100.0 and read_at[1] > 1e9  # filled from created_at; the read moved it to now
    conn.close()
    store.close()


def test_the_server_keeps_its_storage_budget_and_an_evicted_link_says_what_to_do(tmp_path: Path) -> None:
    srv = Server(
        tmp_path / "srv",
        {"GRADTRACE_STORE_MAX_BYTES": "6000", "GRADTRACE_RATE_LIMIT_PER_MINUTE": "0"},
        fake=True,
    ).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            sources = [f"# {n}\n" + "x = 1\n" * 50 + os.urandom(600).hex() for n in range(12)]
            ids = []
            for src in sources:
                r = c.post("/api/v1/traces", json={"source": src})
                assert r.status_code == 200, r.text
                ids.append(r.json()["id"])
            health = srv.health()
            assert health["evicted_traces"] > 0 and 0 < health["stored_bytes"] <= 6000
            assert health["store_max_bytes"] == 6000 and health["stored_traces"] < len(sources)
            gone = c.get(f"/api/v1/traces/{ids[0]}")
            assert gone.status_code == 404
            err = gone.json()["error"]
            assert err["code"] == "trace_not_found" and "Re-post the snippet" in err["message"]
            assert c.get(f"/api/v1/traces/{ids[-1]}").status_code == 200
            page = c.get(f"/t/{ids[0]}")
            assert page.status_code == 404
            again = c.post("/api/v1/traces", json={"source": sources[0]})
            assert again.status_code == 200 and again.json()["id"] == ids[0]
    finally:
        srv.stop()


def test_one_client_past_its_share_evicts_its_own_traces_not_other_peoples(tmp_path: Path) -> None:
    clock = _Clock()
    path = tmp_path / "t.sqlite3"
    store = SQLiteTraceStore(path, max_bytes=40_000, client_share=0.25, clock=clock)
    assert store.client_max_bytes == 10_000
    victims = [f"{n:032x}" for n in range(3)]
    for n, tid in enumerate(victims):  # three teachers' links, never read again
        store.put(tid, status="ok", trace_json=_doc(n), source=f"v = {n}", options={}, client=f"192.0.2.{n}")
        clock.tick()
    flood = [f"{n:032x}" for n in range(100, 140)]
    for n, tid in enumerate(flood):
        store.put(tid, status="ok", trace_json=_doc(n), source=f"a = {n}", options={}, client="198.51.100.7")
        clock.tick()
        assert store.held_by("198.51.100.7") <= 10_000
    assert all(store.peek(tid) is not None for tid in victims)  # the flood evicted only its own
    kept = [tid for tid in flood if store.peek(tid) is not None]
    assert kept == flood[-len(kept):] and flood[-1] in kept  # its newest stay, its oldest went first
    assert store.usage().evicted == len(flood) - len(kept)
    # Only a salted hash of who stored a trace is kept, never the address.
    conn = sqlite3.connect(path)
    owners = {row[0] for row in conn.execute("SELECT owner FROM traces")}
    dump = "\n".join(conn.iterdump())
    conn.close()
    assert len(owners) == 4 and "198.51.100.7" not in dump and "192.0.2.1" not in dump
    store.close()
    # Reopened, the same client has the same owner (the salt is kept in the database).
    again = SQLiteTraceStore(path, max_bytes=40_000, client_share=0.25)
    assert 0 < again.held_by("198.51.100.7") <= 10_000 and again.owner_of("x") == store.owner_of("x")
    again.close()
    with pytest.raises(ValueError, match="client_share"):
        SQLiteTraceStore(tmp_path / "u.sqlite3", client_share=0)


def test_a_flood_from_one_address_leaves_another_addresses_trace_stored(tmp_path: Path) -> None:
    # Real server and sandbox: one address posts big traces (incompressible stdout) far past a
    # small budget; a teacher's link posted before from another address is still served.
    srv = Server(
        tmp_path / "srv",
        {
            "GRADTRACE_STORE_MAX_BYTES": "600000",
            "GRADTRACE_STORE_CLIENT_SHARE": "0.5",
            "GRADTRACE_RATE_LIMIT_PER_MINUTE": "0",
            "GRADTRACE_TRUST_FORWARDED_FOR": "true",
        },
    ).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            teacher = {"x-forwarded-for": "192.0.2.10"}
            link = c.post("/api/v1/traces", json={"source": "import torch\nprint(torch.ones(2))\n"}, headers=teacher)
            assert link.status_code == 200, link.text
            attacker = {"x-forwarded-for": "198.51.100.66"}
            for n in range(14):  # 50+ KB each, compressed: more than the whole budget
                src = f"import os\nprint(os.urandom(50_000).hex())  # {n}\n"
                r = c.post("/api/v1/traces", json={"source": src}, headers=attacker)
                assert r.status_code == 200 and r.json()["trace"]["status"] == "ok", r.text
            health = srv.health()
            assert health["evicted_traces"] > 0 and health["stored_bytes"] <= 600_000
            assert c.get(f"/api/v1/traces/{link.json()['id']}").status_code == 200
    finally:
        srv.stop()
