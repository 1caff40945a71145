"""Load benchmark of the trace service: a real server, a second process driving it over loopback.

    .venv/bin/python bench/load_bench.py [--repeats 3] [--requests 200] [--rss-requests 2000]

Starts `gradtrace serve` (warm sandbox pool) on a free loopback port with a private data dir and
sandbox uid range, then measures with asyncio + httpx:

  * latency p50/p99 of a seed example end to end, uncached (a varying comment defeats the cache)
    and cached;
  * sustained traces/s with the pool saturated (closed loop, concurrency = slots + queue);
  * 2x overload: an open-loop arrival rate twice the sustained rate; share of fast 429/503
    rejections, 5xx count, rejection latency;
  * RSS of the server and the zygote before/after many requests, and leaked processes (any
    process left under the sandbox's uids, or of the server's session after it stopped).

Each figure is the median over --repeats runs. Prints a table; never asserts on timings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
BASE_UID = 64900  # a private sandbox uid range: never collides with another running sandbox


# --- the server under test ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(data_dir: Path, extra_env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADTRACE_")}
    env.update(
        {
            "GRADTRACE_DATA_DIR": str(data_dir),
            "GRADTRACE_RATE_LIMIT_PER_MINUTE": "0",
            "GRADTRACE_SANDBOX_BASE_UID": str(BASE_UID),
            **extra_env,
        }
    )
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradtrace", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=str(data_dir),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: see {data_dir / 'server.log'}")
        try:
            if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not become healthy")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# --- processes ---------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, session id, uid) of pid, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    uid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:"))
    return int(fields[1]), int(fields[3]), uid


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def zygote_pid(server_pid: int) -> int | None:
    """The server's child that runs the zygote (the one with the largest RSS: it imported torch)."""
    children = [p for p in all_pids() if (s := _stat(p)) is not None and s[0] == server_pid]
    return max(children, key=rss_kib) if children else None


def sandbox_processes(slots: int = 8) -> list[int]:
    uids = range(BASE_UID, BASE_UID + slots)
    return [p for p in all_pids() if (s := _stat(p)) is not None and s[2] in uids]


def session_processes(sid: int) -> list[int]:
    return [p for p in all_pids() if (s := _stat(p)) is not None and s[1] == sid]


# --- measurements ------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


class Source:
    """The seed example, with a unique trailing comment per request when the cache must miss."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = 0

    def fresh(self) -> str:
        self.n += 1
        return f"{self.text}\n# bench {os.getpid()} {time.time_ns()} {self.n}\n"


SANDBOX_MS: list[float] = []  # per uncached answer: total minus the sandbox's Server-Timing share
STORE_MS: list[float] = []  # per uncached answer: serializing + storing (Server-Timing)


async def timed_post(c: httpx.AsyncClient, source: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = await c.post("/api/v1/traces", json={"source": source})
    await r.aread()
    ms = (time.perf_counter() - t0) * 1000
    timing = r.headers.get("server-timing", "")
    if timing.startswith("sandbox;dur="):
        parts = [float(p.split(";dur=")[1]) for p in timing.split(",")]
        SANDBOX_MS.append(ms - parts[0])
        STORE_MS.append(parts[1])
    return ms, r.status_code


async def latency(
    c: httpx.AsyncClient, make: Callable[[], str], n: int
) -> tuple[list[float], list[float], int, list[float]]:
    """(latencies of 200s, their non-sandbox share, count of non-200s, serialize+store times)."""
    times, bad = [], 0
    SANDBOX_MS.clear()
    STORE_MS.clear()
    for _ in range(n):
        ms, code = await timed_post(c, make())
        if code == 200:
            times.append(ms)
        else:
            bad += 1
    return times, list(SANDBOX_MS), bad, list(STORE_MS)


async def sustained(c: httpx.AsyncClient, src: Source, concurrency: int, seconds: float) -> tuple[float, int]:
    done = 0
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < stop:
            _, code = await timed_post(c, src.fresh())
            if code == 200:
                done += 1
            else:
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - t0), errors


async def overload(c: httpx.AsyncClient, src: Source, rate: float, seconds: float) -> dict[str, Any]:
    """Open loop: requests arrive at `rate`/s whatever the server does."""
    results: list[tuple[float, int]] = []
    tasks: list[asyncio.Task[None]] = []

    async def one() -> None:
        try:
            results.append(await timed_post(c, src.fresh()))
        except httpx.HTTPError:
            results.append((float("nan"), 0))

    t0 = time.perf_counter()
    k = 0
    while (now := time.perf_counter() - t0) < seconds:
        target = k / rate
        if now < target:
            await asyncio.sleep(target - now)
        tasks.append(asyncio.create_task(one()))
        k += 1
    await asyncio.gather(*tasks)
    codes = [code for _, code in results]
    rejected = [ms for ms, code in results if code in (429, 503)]
    return {
        "sent": len(results),
        "ok": codes.count(200),
        "rejected": len(rejected),
        "5xx": sum(1 for code in codes if code >= 500 and code != 503),
        "503": codes.count(503),
        "failed": codes.count(0),
        "reject_share": len(rejected) / max(1, len(results)),
        "reject_p50": pct(rejected, 50),
        "reject_p99": pct(rejected, 99),
    }


async def many(c: httpx.AsyncClient, src: Source, n: int, concurrency: int, cached_share: float) -> int:
    """n requests (a share of them cached), closed loop; returns the count of non-200s."""
    bad = 0
    counter = iter(range(n))
    cached = src.fresh()

    async def worker() -> None:
        nonlocal bad
        for i in counter:
            source = cached if (i % 100) < cached_share * 100 else src.fresh()
            _, code = await timed_post(c, source)
            bad += code != 200

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return bad


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from gradtrace.core.examples import get_example

    seed = get_example(args.example).source
    out: dict[str, list[float]] = {}

    def note(key: str, value: float) -> None:
        out.setdefault(key, []).append(value)

    with tempfile.TemporaryDirectory(prefix="gradtrace-bench-") as tmp:
        proc, url = start_server(Path(tmp), {})
        sid = os.getsid(proc.pid)
        try:
            health = httpx.get(url + "/api/v1/health").json()
            slots = int(health["sandbox"].get("concurrency", 2))
            queue = int(health["sandbox"].get("queue_size", 8))
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
            async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as c:
                src = Source(seed)
                await latency(c, src.fresh, 10)  # warm the pool, the store and the client
                zyg = zygote_pid(proc.pid)
                rss0 = (rss_kib(proc.pid), rss_kib(zyg) if zyg else 0)
                for rep in range(args.repeats):
                    t, api, bad, store = await latency(c, src.fresh, args.requests)
                    note("uncached_api_p50", pct(api, 50))
                    note("uncached_store_p50", pct(store, 50))
                    note("uncached_p50", pct(t, 50))
                    note("uncached_p99", pct(t, 99))
                    note("uncached_errors", bad)
                    one = src.fresh()
                    await timed_post(c, one)
                    t, _, bad, _ = await latency(c, lambda one=one: one, args.requests)  # type: ignore[misc]
                    note("cached_p50", pct(t, 50))
                    note("cached_p99", pct(t, 99))
                    rate, errors = await sustained(c, src, slots + min(queue, slots), args.seconds)
                    note("traces_per_s", rate)
                    note("sustained_errors", errors)
                    ov = await overload(c, src, 2 * max(rate, 1.0), args.seconds)
                    for key in (
                        "reject_share",
                        "reject_p50",
                        "reject_p99",
                        "5xx",
                        "503",
                        "failed",
                        "sent",
                        "ok",
                    ):
                        note(f"overload_{key}", ov[key])
                    await asyncio.sleep(1.0)  # let the queue drain between repeats
                    print(f"  run {rep + 1}/{args.repeats} done", file=sys.stderr)
                # RSS after each fifth of the requests: growth that stops after warm-up is caches, not a leak.
                checkpoints = []
                bad = 0
                for _ in range(5):
                    bad += await many(
                        c, src, args.rss_requests // 5, slots + min(queue, slots), cached_share=0.5
                    )
                    checkpoints.append(rss_kib(proc.pid) // 1024)
                note("rss_phase_errors", bad)
                await asyncio.sleep(1.0)
                zyg_after = zygote_pid(proc.pid)
                rss1 = (rss_kib(proc.pid), rss_kib(zyg_after) if zyg_after else 0)
            leftover_running = len(sandbox_processes())
            final_health = httpx.get(url + "/api/v1/health").json()
        finally:
            stop_server(proc)
        time.sleep(1.0)
        leaked_after_stop = len(session_processes(sid)) + len(sandbox_processes())
    return {
        "medians": {k: med(v) for k, v in out.items()},
        "runs": out,
        "rss_kib": {
            "server_before": rss0[0],
            "server_after": rss1[0],
            "zygote_before": rss0[1],
            "zygote_after": rss1[1],
        },
        "zygote_same_pid": zyg == zyg_after,
        "server_rss_checkpoints_mib": checkpoints,
        "rss_requests": args.rss_requests,
        "sandbox_processes_idle": leftover_running,
        "leaked_after_stop": leaked_after_stop,
        "stats": final_health["stats"],
        "slots": slots,
        "queue": queue,
    }


def table(r: dict[str, Any], args: argparse.Namespace) -> str:
    m = r["medians"]
    rss = r["rss_kib"]
    rows = [
        ("example", args.example, ""),
        ("pool", f"{r['slots']} slots + queue {r['queue']}", ""),
        (
            "uncached latency p50 / p99",
            f"{m['uncached_p50']:.1f} / {m['uncached_p99']:.1f} ms",
            "target <= 25 / 100 ms",
        ),
        ("  of which outside the sandbox, p50", f"{m['uncached_api_p50']:.1f} ms", "HTTP + API + storage"),
        ("    of which serialize + store (fsync), p50", f"{m['uncached_store_p50']:.1f} ms", "Server-Timing"),
        ("cached latency p50 / p99", f"{m['cached_p50']:.2f} / {m['cached_p99']:.2f} ms", ""),
        ("sustained throughput", f"{m['traces_per_s']:.1f} traces/s", "target >= 40"),
        (
            "2x overload: rejected share",
            f"{m['overload_reject_share'] * 100:.0f} % of {m['overload_sent']:.0f}",
            "429/503",
        ),
        (
            "2x overload: rejection p50 / p99",
            f"{m['overload_reject_p50']:.1f} / {m['overload_reject_p99']:.1f} ms",
            "target < 10 ms",
        ),
        (
            "2x overload: 5xx (not 503) / failed",
            f"{m['overload_5xx']:.0f} / {m['overload_failed']:.0f}",
            "target 0",
        ),
        (
            f"RSS server before/after {r['rss_requests']} req",
            f"{rss['server_before'] / 1024:.0f} / {rss['server_after'] / 1024:.0f} MiB",
            "",
        ),
        (
            "  server RSS after each fifth",
            " / ".join(str(x) for x in r["server_rss_checkpoints_mib"]) + " MiB",
            "",
        ),
        (
            "RSS zygote before/after",
            f"{rss['zygote_before'] / 1024:.0f} / {rss['zygote_after'] / 1024:.0f} MiB"
            + ("" if r["zygote_same_pid"] else " (zygote restarted)"),
            "",
        ),
        ("sandbox processes when idle", str(r["sandbox_processes_idle"]), "pre-forked workers"),
        ("processes left after stop", str(r["leaked_after_stop"]), "target 0"),
        (
            "errors (uncached / sustained / RSS phase)",
            f"{m['uncached_errors']:.0f} / {m['sustained_errors']:.0f} / {m['rss_phase_errors']:.0f}",
            "",
        ),
    ]
    width = max(len(a) for a, _, _ in rows)
    vwidth = max(len(b) for _, b, _ in rows)
    lines = [
        f"gradtrace load benchmark (medians of {args.repeats} runs, {args.requests} requests per latency run)"
    ]
    lines += [f"  {a:<{width}}  {b:<{vwidth}}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--example", default="chain_rule", help="seed example to trace (default chain_rule)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="requests per latency measurement")
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="duration of the throughput and overload phases"
    )
    parser.add_argument("--rss-requests", type=int, default=2000, help="requests between the RSS readings")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results here")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(table(result, args))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
