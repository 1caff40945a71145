"""Benchmark the sandbox parent's check of a worker's document: validation + copy, GC on vs paused.

The web process validates every document a worker returns (`Trace.model_validate_json(...)
.to_dict()`), holding the GIL. This traces an N-op chain once (a big, legitimate document),
then times that step in this process with cyclic GC on and paused (`_collection_paused`),
alternating, medians of --runs, with a heap of --heap live objects standing in for the
server's own.

    .venv/bin/python bench/validate_bench.py [--runs 7] [--ops 15000] [--heap 200000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from gradtrace.core.model import Trace  # noqa: E402
from gradtrace.core.tracer import trace_json  # noqa: E402
from gradtrace.sandbox.supervisor import _collection_paused  # noqa: E402

CHAIN = "import torch\nx = torch.ones(2, requires_grad=True)\ny = x\nfor _ in range({n}):\n    y = y * 1.0001\ny.sum().backward()\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--ops", type=int, default=15000)
    parser.add_argument("--heap", type=int, default=200_000)
    args = parser.parse_args()
    text = trace_json(CHAIN.format(n=args.ops), max_nodes=50_000)
    heap = [{"k": [i, str(i)]} for i in range(args.heap)]  # noqa: F841 - lives for the whole run
    times: dict[str, list[float]] = {"gc on": [], "gc paused": []}
    for _ in range(args.runs):
        for name in times:
            start = time.perf_counter()
            if name == "gc paused":
                with _collection_paused():
                    Trace.model_validate_json(text).to_dict()
            else:
                Trace.model_validate_json(text).to_dict()
            times[name].append(time.perf_counter() - start)
            gc.collect()
    base = statistics.median(times["gc on"])
    print(f"document of {len(text) / 2**20:.1f} MiB ({args.ops} ops), {args.heap} other live objects, medians of {args.runs}")
    for name, samples in times.items():
        med = statistics.median(samples)
        print(f"{name:<10}{med * 1e3:>8.0f} ms{med / base:>7.2f}")


if __name__ == "__main__":
    main()
