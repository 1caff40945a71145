"""Benchmark the trace store's budget: what eviction adds to a `put`, and what a read costs.

Stores --puts traces of ~3 KB (compressed) into a fresh SQLite store, with no budget and with
a budget a tenth of that size (so, past the first tenth, puts evict), medians over --runs
runs, ratios against the no-budget store in the same run. `synchronous=normal`, so the
figures are SQLite's and ours rather than the disk's fsync.

    .venv/bin/python bench/store_bench.py [--runs 5] [--puts 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from gradtrace.api.storage import SQLiteTraceStore  # noqa: E402


def run(puts: int, max_bytes: int, docs: list[str]) -> tuple[float, float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteTraceStore(Path(tmp) / "t.sqlite3", synchronous="normal", max_bytes=max_bytes)
        ids = [f"{n:032x}" for n in range(puts)]
        start = time.perf_counter()
        for tid, doc in zip(ids, docs, strict=True):
            store.put(tid, status="ok", trace_json=doc, source="x = 1", options={})
        put_s = (time.perf_counter() - start) / puts
        start = time.perf_counter()
        for tid in ids[-200:]:
            store.get(tid)
        get_s = (time.perf_counter() - start) / 200
        usage = store.usage()
        store.close()
    return put_s, get_s, usage.traces, usage.evicted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--puts", type=int, default=2000)
    args = parser.parse_args()
    docs = [json.dumps({"status": "ok", "pad": os.urandom(1500).hex()}) for _ in range(args.puts)]
    budget = args.puts * 3100 // 10
    results: dict[str, list[tuple[float, float, int, int]]] = {"no budget": [], "budget": []}
    for _ in range(args.runs):  # alternating, so drift hits both alike
        results["no budget"].append(run(args.puts, 0, docs))
        results["budget"].append(run(args.puts, budget, docs))
    base_put = statistics.median(r[0] for r in results["no budget"])
    base_get = statistics.median(r[1] for r in results["no budget"])
    print(f"{args.puts} puts of ~3 KB, medians of {args.runs} runs; budget = {budget / 2**20:.1f} MiB")
    print(f"{'store':<12}{'put µs':>9}{'ratio':>7}{'get µs':>9}{'ratio':>7}{'kept':>7}{'evicted':>9}")
    for name, rs in results.items():
        put = statistics.median(r[0] for r in rs)
        get = statistics.median(r[1] for r in rs)
        print(f"{name:<12}{put * 1e6:>9.0f}{put / base_put:>7.2f}{get * 1e6:>9.0f}{get / base_get:>7.2f}{rs[-1][2]:>7}{rs[-1][3]:>9}")


if __name__ == "__main__":
    main()
