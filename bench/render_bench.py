"""Render load: do free GETs of big stored traces' exports slow /health and POSTs down?

    .venv/bin/python bench/render_bench.py [--ids 20] [--clients 6] [--seconds 30]

Starts a real `gradtrace serve` (real sandbox, default rate limits, clients told apart by
X-Forwarded-For, stdout up to 6 MiB), stores `--ids` big traces (a million random CJK
characters of stdout each, ~3 MB, so their lesson.html renders do not all fit the 64 MiB render cache), then
measures /health and benign uncached POST latency idle, and again while `--clients`
clients, each from its own address, cycle through the ids' `/t/{id}/lesson.html`. Prints
medians and how the render GETs were answered; never asserts on timings.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import start_server, stop_server  # noqa: E402

BIG = (
    "import os, torch\n"
    "print(''.join(chr(0x4E00 + b * 80 + c % 80) for b, c in zip(os.urandom(1_000_000), os.urandom(1_000_000))))\n"
    "x = torch.ones(2, requires_grad=True)\n(x * 2).sum().backward()\n"
)


async def probe(client: httpx.AsyncClient, stop: asyncio.Event, health: list[float], posts: list[float]) -> None:
    n = 0
    while not stop.is_set():
        t = time.perf_counter()
        await client.get("/api/v1/health")
        health.append((time.perf_counter() - t) * 1000)
        if n % 5 == 0:
            t = time.perf_counter()
            r = await client.post("/api/v1/traces", json={"source": f"x = 1  # {time.time_ns()}\n"},
                                  headers={"x-forwarded-for": "10.9.9.9"})
            if r.status_code == 200:
                posts.append((time.perf_counter() - t) * 1000)
        n += 1
        await asyncio.sleep(0.05)


async def reader(client: httpx.AsyncClient, k: int, ids: list[str], stop: asyncio.Event, codes: Counter[int]) -> None:
    i = k
    while not stop.is_set():
        r = await client.get(f"/t/{ids[i % len(ids)]}/lesson.html", headers={"x-forwarded-for": f"10.0.0.{k + 1}"})
        codes[r.status_code] += 1
        if r.status_code == 429:
            await asyncio.sleep(min(5.0, float(r.headers.get("retry-after", "1"))))
        i += 1


async def phase(url: str, ids: list[str], clients: int, seconds: float) -> tuple[list[float], list[float], Counter[int]]:
    health: list[float] = []
    posts: list[float] = []
    codes: Counter[int] = Counter()
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, timeout=120) as c:
        tasks = [asyncio.create_task(probe(c, stop, health, posts))]
        tasks += [asyncio.create_task(reader(c, k, ids, stop, codes)) for k in range(clients)]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
    return health, posts, codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ids", type=int, default=20)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(
            Path(tmp),
            # stdout up to 6 MiB: traces of ~6 MB, as in the review that found the problem.
            {"GRADTRACE_RATE_LIMIT_PER_MINUTE": "60", "GRADTRACE_TRUST_FORWARDED_FOR": "true",
             "GRADTRACE_SANDBOX_STDOUT_BYTES": str(6 << 20)},
        )
        try:
            ids = []
            for n in range(args.ids):
                r = httpx.post(url + "/api/v1/traces", json={"source": BIG + f"# {n}\n"}, timeout=120,
                               headers={"x-forwarded-for": f"10.1.{n}.1"})
                r.raise_for_status()
                ids.append(r.json()["id"])
            idle = asyncio.run(phase(url, ids, 0, args.seconds / 2))
            loaded = asyncio.run(phase(url, ids, args.clients, args.seconds))
        finally:
            stop_server(proc)
    print(f"{'':28}{'idle':>10}{'loaded':>10}{'ratio':>8}")
    for name, i in (("/health p50 (ms)", 0), ("benign POST p50 (ms)", 1)):
        a, b = statistics.median(idle[i]), statistics.median(loaded[i])
        print(f"{name:28}{a:10.1f}{b:10.1f}{b / a:8.1f}")
    print(f"lesson.html answers while loaded: {dict(loaded[2])} ({len(loaded[0])} health probes, {len(loaded[1])} posts)")


if __name__ == "__main__":
    main()
