"""Trace one built-in example in a fresh interpreter and print the trace JSON.

``python trace_worker.py NAME [LIMITS_JSON]``. A fresh process per example keeps traces
independent of whatever ran before in the test process (autograd's sequence numbers,
leftover state), as in the sandbox where every job is a new child.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    import torch

    from gradtrace.core.examples import get_example
    from gradtrace.core.tracer import trace_source

    torch.set_num_threads(1)
    name = argv[0]
    limits = json.loads(argv[1]) if len(argv) > 1 else {}
    trace = trace_source(get_example(name).source, **limits)
    sys.stdout.write(trace.to_json(indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
