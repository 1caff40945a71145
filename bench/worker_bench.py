"""Benchmark a sandbox-like worker: a trace in a fresh fork of a warm tracer, per malloc setting.

The sandbox forks one worker per job from a zygote that has imported torch and traced a
warm-up snippet (sandbox/zygote.py). A fork starts with the zygote's heap shared
copy-on-write, so every page the snippet's tensors touch is a fault. This measures, for the
zygote's environment with and without `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` (malloc asks
for transparent huge pages), the CPU time, minor faults and peak RSS of one trace in a
fresh fork: medians over --runs forks, each setting in its own process (glibc reads
tunables at start), ratios against the default in the same run.

    .venv/bin/python bench/worker_bench.py [--runs 7]

Isolation layers (namespaces, cgroup, seccomp, rlimits) are left out. With them, through the
real server, the tunable did not pay (docs/performance.md): this measures the fork alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"default": None, "hugetlb": "glibc.malloc.hugetlb=1"}


def child(runs: int) -> None:
    """Warm up like the zygote, then fork `runs` workers per snippet; print JSON medians."""
    sys.path.insert(0, str(ROOT / "bench"))
    import gc

    import torch

    import core_bench
    from gradtrace.core import examples
    from gradtrace.core.tracer import trace_json
    from gradtrace.sandbox.zygote import WARMUP_SNIPPET

    torch.set_num_threads(1)
    trace_json(WARMUP_SNIPPET, soft_timeout=None)
    gc.collect()
    gc.freeze()
    snippets = {
        "example chain_rule": examples.get_example("chain_rule").source,
        "cnn (resnet-like)": core_bench.CNN,
        "transformer 12L": core_bench.TRANSFORMER,
    }
    out = {}
    for name, source in snippets.items():
        samples = []
        for _ in range(runs):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(r)
                before = resource.getrusage(resource.RUSAGE_SELF)
                start = time.process_time()
                trace_json(source, collect_garbage=False)
                cpu = time.process_time() - start
                after = resource.getrusage(resource.RUSAGE_SELF)
                os.write(w, json.dumps([cpu, after.ru_minflt - before.ru_minflt, after.ru_maxrss]).encode())
                os._exit(0)
            os.close(w)
            with os.fdopen(r) as f:
                samples.append(json.loads(f.read()))
            os.waitpid(pid, 0)
        out[name] = [statistics.median(s[i] for s in samples) for i in range(3)]
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.runs)
        return
    results = {}
    for label, tunables in SETTINGS.items():
        env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
        if tunables:
            env["GLIBC_TUNABLES"] = tunables
        text = subprocess.run(
            [sys.executable, __file__, "--child", "--runs", str(args.runs)],
            env=env, check=True, capture_output=True, text=True,
        ).stdout
        results[label] = json.loads(text.strip().splitlines()[-1])
    print(f"one trace in a fresh fork of a warm tracer, medians of {args.runs} forks\n")
    print(f"{'snippet':<22}{'setting':<10}{'CPU ms':>9}{'ratio':>8}{'faults':>9}{'peak RSS MiB':>14}")
    for name in results["default"]:
        base = results["default"][name][0]
        for label in SETTINGS:
            cpu, faults, rss = results[label][name]
            print(f"{name:<22}{label:<10}{cpu * 1e3:>9.1f}{cpu / base:>8.2f}{faults:>9.0f}{rss / 1024:>14.1f}")


if __name__ == "__main__":
    main()
