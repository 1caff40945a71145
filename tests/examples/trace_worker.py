"""Trace built-in examples, each in a pristine process, and write their trace JSON.

``python trace_worker.py OUTDIR LIMITS_JSON NAME [NAME ...]`` writes ``OUTDIR/NAME.json``.

The parent imports torch and the tracer once and runs no torch op; each example is traced
in a child forked from it (like the sandbox's zygote), so every trace starts from the same
state as a fresh interpreter (autograd's sequence numbers, RNG, no leftovers of earlier
snippets) at the cost of a fork instead of a torch import. LIMITS_JSON maps example names
to ``trace_source`` keyword arguments.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any


def _child(name: str, limits: dict[str, Any], outdir: str) -> int:
    try:
        from gradtrace.core.examples import get_example
        from gradtrace.core.tracer import trace_source

        trace = trace_source(get_example(name).source, **limits)
        tmp = os.path.join(outdir, f".{name}.json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(trace.to_json(indent=1) + "\n")
        os.replace(tmp, os.path.join(outdir, f"{name}.json"))
        return 0
    except BaseException:
        traceback.print_exc()
        return 1


def main(argv: list[str]) -> int:
    # Single-threaded before any torch op: a child forked after a parallel op can hang.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    import gradtrace.core.tracer  # noqa: F401  (imported once, shared by every child)

    outdir, limits_by_name, names = argv[0], json.loads(argv[1]), argv[2:]
    jobs = max(1, int(os.environ.get("GRADTRACE_TEST_JOBS", "2")))
    running: dict[int, str] = {}
    failed: list[str] = []
    pending = list(names)
    while pending or running:
        while pending and len(running) < jobs:
            name = pending.pop(0)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                os._exit(_child(name, limits_by_name.get(name, {}), outdir))
            running[pid] = name
        pid, status = os.wait()
        name = running.pop(pid)
        if os.waitstatus_to_exitcode(status) != 0:
            failed.append(f"{name} (exit {os.waitstatus_to_exitcode(status)})")
    if failed:
        print("failed to trace: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
