"""Where traces live: a small `TraceStore` interface and its SQLite implementation.

Traces are content-addressed (see `trace_id`), so a stored trace is immutable and doubles as a
share link. SQLite runs in WAL mode with one transaction per write and, by default, `synchronous=FULL`:
a crash of the server (or the machine) after `put` returned loses nothing that was stored.

Storage is bounded: with a byte budget, storing a trace past it evicts the traces read least
recently (a trace's `read_at` moves when it is served, at most once an hour, so reads do not
turn into writes). An evicted id is a 404 like an unknown one; re-posting its snippet traces it
again under the same id. Each trace remembers who stored it (a salted hash of the client's
address, never the address), and one client may hold at most a share of the budget: storing
past its share evicts that client's own traces first, so one client cannot flush everyone
else's share links out of the store.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ID_LENGTH = 32  # hex chars = 128 bits: collisions are out of reach even for someone who tries


def trace_id(source: str, options: dict[str, Any], torch_version: str, schema_version: str, tracer: str = "") -> str:
    """Content address of a run: the same snippet with the same options on the same torch and
    the same tracer code -> same id. (`tracer` is the fingerprint of the code that makes traces:
    after an upgrade, a snippet traced before is traced again rather than answered from the
    store with what the old code made of it; links to the old trace keep working.)"""
    canonical = json.dumps(
        {"source": source, "options": options, "torch": torch_version, "schema": schema_version, "tracer": tracer},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:ID_LENGTH]


def is_valid_id(value: str) -> bool:
    return len(value) == ID_LENGTH and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class StoredTrace:
    id: str
    status: str
    trace_json: str  # the trace document exactly as it was validated, compact JSON
    created_at: float
    source: str
    cacheable: bool = True  # False: a load-dependent result (timeout, lost worker), re-run on the next POST


class TraceStore(Protocol):
    """What the API needs from storage; a server database can implement it later."""

    def get(self, trace_id: str) -> StoredTrace | None: ...

    def put(
        self,
        trace_id: str,
        *,
        status: str,
        trace_json: str,
        source: str,
        options: dict[str, Any],
        cacheable: bool = True,
        client: str | None = None,
    ) -> None:
        """Store (or replace) a trace; `client` is who asked (the rate limiter's key), for the
        per-client share of the budget (None: counted against no client)."""
        ...

    def peek(self, trace_id: str) -> bool | None:
        """Cheap check, fine on the event loop: None = absent, else whether it may be served as a cache hit."""
        ...

    def count(self) -> int: ...

    def usage(self) -> StoreUsage: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class StoreUsage:
    traces: int
    bytes: int  # compressed documents + sources + options: what the budget counts
    max_bytes: int  # 0: no budget
    evicted: int  # traces evicted since this store was opened


_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    cacheable   INTEGER NOT NULL DEFAULT 1,
    created_at  REAL NOT NULL,
    source      TEXT NOT NULL,
    options     TEXT NOT NULL,
    encoding    TEXT NOT NULL,          -- 'zlib' (compressed JSON text); room for others later
    body        BLOB NOT NULL,
    size        INTEGER NOT NULL DEFAULT 0,  -- bytes counted against the budget
    read_at     REAL NOT NULL DEFAULT 0,     -- last served (hour grain), for eviction order
    owner       TEXT NOT NULL DEFAULT ''     -- salted hash of the storing client ('' = none)
) WITHOUT ROWID;
"""
# One row: the random salt of the owner hashes, made when the database is created.
_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"

# Columns added after the first release, with how to fill them in an existing database.
_ADDED_COLUMNS = {
    "size": (
        "INTEGER NOT NULL DEFAULT 0",
        "UPDATE traces SET size = length(body) + length(CAST(source AS BLOB)) + length(CAST(options AS BLOB))",
    ),
    "read_at": ("REAL NOT NULL DEFAULT 0", "UPDATE traces SET read_at = created_at"),
    "owner": ("TEXT NOT NULL DEFAULT ''", None),  # traces stored before: nobody's share
}

TOUCH_SECONDS = 3600.0  # a read moves read_at only when it is older than this
_EVICT_TO = 0.9  # evict down to 90% of the budget, so the next puts do not each evict


class SQLiteTraceStore:
    """SQLite file under the data dir, used through a small bounded pool of connections.

    A pool rather than one connection per thread: the server's thread pool retires and creates
    threads over time, and per-thread connections (each with its page cache) would pile up.
    """

    def __init__(
        self,
        path: Path,
        synchronous: str = "full",
        pool_size: int = 4,
        max_bytes: int = 0,
        client_share: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if synchronous not in ("full", "normal"):
            raise ValueError("synchronous must be 'full' or 'normal'")
        if max_bytes < 0:
            raise ValueError("max_bytes must be 0 (no budget) or positive")
        if not 0 < client_share <= 1:
            raise ValueError("client_share must be in (0, 1]")
        self.max_bytes = max_bytes
        # What one client may hold (0: no cap of its own, only the budget).
        self.client_max_bytes = int(max_bytes * client_share) if client_share < 1 else 0
        self.evicted = 0
        self._clock = clock  # wall time of writes and reads (a test's own clock orders them exactly)
        # Writers are serialized by SQLite anyway; this lock also keeps `_bytes` (the budget's
        # running total, summed once at open) in step with what was committed.
        self._write_lock = threading.Lock()
        self.synchronous = synchronous.upper()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._peek_conn: sqlite3.Connection | None = None
        self._peek_lock = threading.Lock()
        with self._tx() as conn:
            conn.execute(_SCHEMA)
            present = {row[1] for row in conn.execute("PRAGMA table_info(traces)")}
            for column, (decl, fill) in _ADDED_COLUMNS.items():
                if column not in present:
                    conn.execute(f"ALTER TABLE traces ADD COLUMN {column} {decl}")
                    if fill:
                        conn.execute(fill)
            conn.execute("CREATE INDEX IF NOT EXISTS traces_by_read_at ON traces (read_at)")
            conn.execute("CREATE INDEX IF NOT EXISTS traces_by_owner ON traces (owner, read_at)")
            conn.execute(_META)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('owner_salt', ?)", (os.urandom(32),))
            self._salt = bytes(conn.execute("SELECT value FROM meta WHERE key = 'owner_salt'").fetchone()[0])
            self._bytes = int(conn.execute("SELECT COALESCE(SUM(size), 0) FROM traces").fetchone()[0])

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so each write is one transaction.
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: fsync on commit, a power loss keeps committed traces. NORMAL (WAL): a crash of
        # the process keeps them; only an OS crash/power loss may drop the last ones.
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise RuntimeError("trace store is closed")
        self._slots.acquire()
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._open()
            try:
                yield conn
            finally:
                self._idle.put(conn)
        finally:
            self._slots.release()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def get(self, trace_id: str) -> StoredTrace | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT id, status, created_at, source, encoding, body, cacheable, read_at FROM traces WHERE id = ?",
                (trace_id,),
            ).fetchone()
        if row is None:
            return None
        tid, status, created_at, source, encoding, body, cacheable, read_at = row
        if encoding != "zlib":  # pragma: no cover - only one encoding exists so far
            raise ValueError(f"unknown trace encoding {encoding!r}")
        now = self._clock()
        if now - read_at > TOUCH_SECONDS:
            self._touch(tid, now)
        return StoredTrace(tid, status, zlib.decompress(body).decode(), created_at, source, bool(cacheable))

    def put(
        self,
        trace_id: str,
        *,
        status: str,
        trace_json: str,
        source: str,
        options: dict[str, Any],
        cacheable: bool = True,
        client: str | None = None,
    ) -> None:
        body = zlib.compress(trace_json.encode(), 3)
        options_text = json.dumps(options, sort_keys=True)
        size = len(body) + len(source.encode("utf-8", "surrogatepass")) + len(options_text.encode())
        now = self._clock()
        owner = self.owner_of(client)
        with self._write_lock:
            with self._tx() as conn:
                old = conn.execute("SELECT size FROM traces WHERE id = ?", (trace_id,)).fetchone()
                # REPLACE: a re-run (e.g. after a load-induced timeout) supersedes the earlier result.
                conn.execute(
                    "INSERT OR REPLACE INTO traces"
                    " (id, status, cacheable, created_at, source, options, encoding, body, size, read_at, owner)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'zlib', ?, ?, ?, ?)",
                    (trace_id, status, int(cacheable), now, source, options_text, body, size, now, owner),
                )
                total = self._bytes + size - (old[0] if old else 0)
                evicted = 0
                if owner and self.client_max_bytes:
                    # The client's own traces go first: its flood must not evict other people's links.
                    total, evicted = self._evict_own(conn, total, owner, keep=trace_id)
                if self.max_bytes and total > self.max_bytes:
                    total, more = self._evict(conn, total, keep=trace_id)
                    evicted += more
            self._bytes = total  # (only once committed)
            self.evicted += evicted

    def owner_of(self, client: str | None) -> str:
        """The owner column of a client: a salted hash of its address ('' for no client), so
        the database holds no address."""
        if not client:
            return ""
        return hmac.new(self._salt, client.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]

    def _evict_own(self, conn: sqlite3.Connection, total: int, owner: str, keep: str) -> tuple[int, int]:
        """Past its share, delete the owner's traces read least recently, down to 90% of the
        share (inside the put's transaction, like `_evict`). Returns (store total, evicted)."""
        held = int(conn.execute("SELECT COALESCE(SUM(size), 0) FROM traces WHERE owner = ?", (owner,)).fetchone()[0])
        if held <= self.client_max_bytes:
            return total, 0
        target = int(self.client_max_bytes * _EVICT_TO)
        evicted = 0
        victims = conn.execute(
            "SELECT id, size FROM traces WHERE owner = ? AND id != ? ORDER BY read_at, created_at", (owner, keep)
        ).fetchall()
        for vid, vsize in victims:
            if held <= target:
                break
            conn.execute("DELETE FROM traces WHERE id = ?", (vid,))
            held -= vsize
            total -= vsize
            evicted += 1
        return total, evicted

    def _evict(self, conn: sqlite3.Connection, total: int, keep: str) -> tuple[int, int]:
        """Delete the traces read least recently until `total` is under the budget's low mark.
        Runs inside the put's transaction: the new trace and the evictions commit together."""
        target = int(self.max_bytes * _EVICT_TO)
        evicted = 0
        while total > target:
            victims = conn.execute(
                "SELECT id, size FROM traces WHERE id != ? ORDER BY read_at, created_at LIMIT 256", (keep,)
            ).fetchall()
            if not victims:
                break  # only the new trace is left (it is never larger than a budget allows)
            for vid, vsize in victims:
                if total <= target:
                    break
                conn.execute("DELETE FROM traces WHERE id = ?", (vid,))
                total -= vsize
                evicted += 1
        return total, evicted

    def _touch(self, trace_id: str, now: float) -> None:
        """Mark a trace as read now, so eviction keeps the traces people still open. Best effort:
        a busy or read-only database must not fail the read."""
        try:
            with self._write_lock, self._tx() as conn:
                conn.execute("UPDATE traces SET read_at = ? WHERE id = ?", (now, trace_id))
        except sqlite3.Error:
            pass

    def usage(self) -> StoreUsage:
        return StoreUsage(self.count(), self._bytes, self.max_bytes, self.evicted)

    def held_by(self, client: str | None) -> int:
        """Bytes the traces `client` stored take against the budget (for tests and operators)."""
        with self._conn() as conn:
            row = conn.execute("SELECT COALESCE(SUM(size), 0) FROM traces WHERE owner = ?", (self.owner_of(client),))
            return int(row.fetchone()[0])

    def peek(self, trace_id: str) -> bool | None:
        # A primary-key probe (tens of µs); in WAL mode readers never wait for the writer.
        # Its own connection, outside the pool: the event loop must never wait for a pooled one.
        with self._peek_lock:
            if self._peek_conn is None:
                self._peek_conn = self._open()
            row = self._peek_conn.execute("SELECT cacheable FROM traces WHERE id = ?", (trace_id,)).fetchone()
        return None if row is None else bool(row[0])

    def count(self) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT COUNT(*) FROM traces").fetchone()
        return int(row[0])

    def close(self) -> None:
        self._closed = True
        self._peek_conn = None
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.ProgrammingError:  # closed from another thread already
                pass
