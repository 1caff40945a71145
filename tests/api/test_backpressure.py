"""Backpressure: per-client rate limit and a full sandbox queue both answer 429 + Retry-After at once."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from .conftest import Server, assert_envelope


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("limited"),
        {"GRADTRACE_RATE_LIMIT_PER_MINUTE": "1", "GRADTRACE_RATE_LIMIT_BURST": "2"},
    ).start()
    yield srv
    srv.stop()


def test_rate_limit_per_client(limited: Server) -> None:
    with httpx.Client(base_url=limited.url, timeout=60) as c:
        first = c.post("/api/v1/traces", json={"source": "a = 1\n"})
        second = c.post("/api/v1/traces", json={"source": "b = 2\n"})
        assert (first.status_code, second.status_code) == (200, 200)
        third = c.post("/api/v1/traces", json={"source": "c = 3\n"})
        err = assert_envelope(third, 429, "rate_limited")
        assert 1 <= int(third.headers["retry-after"]) <= 60
        assert err["detail"]["retry_after"] == int(third.headers["retry-after"])
        # The stream variant is limited by the same bucket.
        assert_envelope(c.post("/api/v1/traces/stream", json={"source": "d = 4\n"}), 429, "rate_limited")
        # Answers from storage cost nothing: the first snippet is still served.
        again = c.post("/api/v1/traces", json={"source": "a = 1\n"})
        assert again.status_code == 200 and again.json()["cached"] is True
        assert c.get(f"/api/v1/traces/{first.json()['id']}").status_code == 200
    assert limited.health()["stats"]["rejected_rate_limited"] == 2


@pytest.fixture(scope="module")
def tiny_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("tiny"),
        {
            "GRADTRACE_RATE_LIMIT_PER_MINUTE": "0",
            "GRADTRACE_SANDBOX_CONCURRENCY": "1",
            "GRADTRACE_SANDBOX_QUEUE_SIZE": "1",
        },
    ).start()
    yield srv
    srv.stop()


async def _burst(url: str, n: int) -> list[tuple[int, float, httpx.Response]]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:

        async def one(i: int) -> tuple[int, float, httpx.Response]:
            t0 = time.monotonic()
            # Distinct sources: the cache and in-flight sharing must not absorb the burst.
            r = await c.post("/api/v1/traces", json={"source": f"import time\ntime.sleep(1.5)\nrun = {i}\n"})
            return i, time.monotonic() - t0, r

        return await asyncio.gather(*(one(i) for i in range(n)))


@pytest.mark.slow
def test_overload_answers_fast_and_never_5xx(tiny_pool: Server) -> None:
    results = asyncio.run(_burst(tiny_pool.url, 8))
    codes = sorted(r.status_code for _, _, r in results)
    assert all(c < 500 for c in codes), codes
    ok = [r for _, _, r in results if r.status_code == 200]
    rejected = [(dt, r) for _, dt, r in results if r.status_code == 429]
    # One slot + one queued place: at least the other six are turned away.
    assert 1 <= len(ok) <= 2 and len(rejected) >= 6, codes
    for dt, r in rejected:
        assert_envelope(r, 429, "overloaded")
        assert int(r.headers["retry-after"]) >= 1
        # "fast" without a timing assertion: a rejected request was answered before any run could finish
        # (each takes >= 1.5 s); the benchmark measures the actual latency.
        assert dt < min(d for _, d, x in results if x.status_code == 200)
    stats = tiny_pool.health()["stats"]
    assert stats["rejected_overloaded"] >= 6
    assert tiny_pool.health()["status"] == "ok"
    # The service keeps answering right after.
    with httpx.Client(base_url=tiny_pool.url, timeout=60) as c:
        assert c.post("/api/v1/traces", json={"source": "after = 1\n"}).status_code == 200


def test_rate_limiter_unit() -> None:
    from gradtrace.api.ratelimit import RateLimiter

    now = [0.0]
    rl = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert rl.acquire("a") == 0 and rl.acquire("a") == 0
    wait = rl.acquire("a")
    assert 0.9 < wait <= 1.0
    assert rl.acquire("b") == 0  # per client
    now[0] += 1.0
    assert rl.acquire("a") == 0
    assert RateLimiter.retry_after_header(0.2) == "1"
    assert RateLimiter(0, 1).acquire("x") == 0  # disabled
    small = RateLimiter(60, 1, max_clients=3, clock=lambda: now[0])
    for key in "abcdef":
        small.acquire(key)
    assert len(small._buckets) == 3


async def _fill_then_stream(url: str) -> tuple[httpx.Response, list[httpx.Response]]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        busy = [
            asyncio.create_task(
                c.post("/api/v1/traces", json={"source": f"import time\ntime.sleep(2)\nslot = {i}\n"})
            )
            for i in range(2)
        ]
        for _ in range(200):  # until one run holds the slot and one waits in the queue
            sandbox = (await c.get("/api/v1/health")).json()["sandbox"]
            if sandbox.get("running") == 1 and sandbox.get("queued") == 1:
                break
            await asyncio.sleep(0.05)
        r = await c.post("/api/v1/traces/stream", json={"source": "streamed = 1\n"})
        return r, list(await asyncio.gather(*busy))


@pytest.mark.slow
def test_stream_is_refused_with_the_envelope_when_the_queue_is_full(tiny_pool: Server) -> None:
    rejected, busy = asyncio.run(_fill_then_stream(tiny_pool.url))
    err = assert_envelope(rejected, 429, "overloaded")
    assert rejected.headers["retry-after"] and err["detail"]["retry_after"] >= 1
    assert [r.status_code for r in busy] == [200, 200]


@pytest.fixture(scope="module")
def small_buffer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The stand-in runner pushes all its events at once: a deterministic "slow reader".
    srv = Server(
        tmp_path_factory.mktemp("buffer"), {"GRADTRACE_STREAM_BUFFER_EVENTS": "10"}, fake=True
    ).start()
    yield srv
    srv.stop()


def test_a_slow_stream_reader_gets_a_dropped_count_not_a_stalled_run(small_buffer: Server) -> None:
    with httpx.Client(base_url=small_buffer.url, timeout=60) as c:
        with c.stream("POST", "/api/v1/traces/stream", json={"source": "# EVENTS=100\n"}) as r:
            text = r.read().decode()
    names = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    assert names.count("timeline") == 10 and names[-2:] == ["dropped", "trace"]
    dropped = [line for line in text.splitlines() if line.startswith('data: {"count"')]
    assert dropped == ['data: {"count":90}']


def _slow_bodies(port: int, count: int, extra_headers: bytes = b"") -> list[socket.socket]:
    """`count` requests that send their headers and the start of a 100 kB body, then stall."""
    head = (
        b"POST /api/v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + extra_headers
        + b"Content-Length: 100000\r\n\r\n"
    )
    held = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(head + b'{"source": "')
        held.append(s)
    time.sleep(0.3)  # the server has read the heads
    return held


def _read_response(sock: socket.socket) -> str:
    """Read one whole HTTP response: the head and body may arrive in separate packets."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data.decode()
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode()


def test_a_slow_body_is_cut_off_and_slow_bodies_cannot_pile_up(tmp_path_factory: pytest.TempPathFactory) -> None:
    # A client sending its body byte by byte held its buffer for as long as it liked; a
    # thousand of them held half a gigabyte. Now: 408 after the deadline, and past the cap
    # on bodies being read, new requests are refused at once.

    srv = Server(
        tmp_path_factory.mktemp("slowbody"),
        {"GRADTRACE_REQUEST_BODY_SECONDS": "1", "GRADTRACE_MAX_BODY_UPLOADS": "2", "GRADTRACE_RATE_LIMIT_PER_MINUTE": "0"},
        fake=True,
    ).start()
    slow: list[socket.socket] = []
    try:
        slow += _slow_bodies(srv.port, 2)
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            busy = c.post("/api/v1/traces", json={"source": "x = 1"})
            assert_envelope(busy, 429, "overloaded")
            start = time.monotonic()
            answer = _read_response(slow[0])
            assert answer.startswith("HTTP/1.1 408") and "request_timeout" in answer
            assert time.monotonic() - start < 3
            _read_response(slow[1])
            assert c.post("/api/v1/traces", json={"source": "x = 1"}).status_code == 200
    finally:
        for s in slow:
            s.close()
        srv.stop()


def test_one_client_cannot_take_every_slot_and_queue_place(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Ten sleeping snippets from one address filled 2 slots + 8 queue places within the rate
    # limit, and everyone else got 429. Now one address has at most `max_runs_per_client`.
    srv = Server(
        tmp_path_factory.mktemp("perclient"),
        {"GRADTRACE_MAX_RUNS_PER_CLIENT": "2", "GRADTRACE_RATE_LIMIT_PER_MINUTE": "0",
         "GRADTRACE_TRUST_FORWARDED_FOR": "true"},
        fake=True,
    ).start()

    async def burst() -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
            a = {"X-Forwarded-For": "198.51.100.1"}
            mine = [c.post("/api/v1/traces", json={"source": f"sleep # {i}"}, headers=a) for i in range(3)]
            other = c.post("/api/v1/traces", json={"source": "sleep # other"},
                           headers={"X-Forwarded-For": "spoofed, 198.51.100.2"})
            *answers, theirs = await asyncio.gather(*mine, other)
            return answers, theirs

    try:
        answers, theirs = asyncio.run(burst())
        assert sorted(r.status_code for r in answers) == [200, 200, 429]
        refused = next(r for r in answers if r.status_code == 429)
        err = assert_envelope(refused, 429, "too_many_runs")
        assert err["detail"]["limit"] == 2 and refused.headers["retry-after"]
        assert theirs.status_code == 200  # another address is not affected
        # Once its runs are done, the client may run again (its count went back to 0).
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            again = c.post("/api/v1/traces", json={"source": "sleep # again"}, headers={"X-Forwarded-For": "198.51.100.1"})
            assert again.status_code == 200
    finally:
        srv.stop()


def test_slow_bodies_from_one_client_do_not_lock_out_the_others(tmp_path_factory: pytest.TempPathFactory) -> None:
    srv = Server(
        tmp_path_factory.mktemp("slowclient"),
        {"GRADTRACE_MAX_BODY_UPLOADS_PER_CLIENT": "2", "GRADTRACE_RATE_LIMIT_PER_MINUTE": "0",
         "GRADTRACE_TRUST_FORWARDED_FOR": "true", "GRADTRACE_REQUEST_BODY_SECONDS": "5"},
        fake=True,
    ).start()
    slow: list[socket.socket] = []
    try:
        slow += _slow_bodies(srv.port, 2, b"X-Forwarded-For: 198.51.100.7\r\n")
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            same = c.post("/api/v1/traces", json={"source": "x = 1"}, headers={"X-Forwarded-For": "198.51.100.7"})
            err = assert_envelope(same, 429, "overloaded")
            assert "from your address" in err["message"]
            other = c.post("/api/v1/traces", json={"source": "x = 1"}, headers={"X-Forwarded-For": "198.51.100.8"})
            assert other.status_code == 200
    finally:
        for s in slow:
            s.close()
        srv.stop()
