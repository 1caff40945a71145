"""Benchmark the tracing core against plain PyTorch and torchviz (prints a table).

Ratios are against a baseline measured in the same process and run, medians of several runs,
CPU time of this process (the machine is shared; wall time would measure the neighbours).

    .venv/bin/python bench/core_bench.py [--runs 5] [--quick]

1. full trace (forward events + walk + backward order + JSON) vs plain run of the same snippet;
2. graph walk + JSON (our finalization over a graph built without hooks) vs torchviz
   make_dot(show_attrs=True, show_saved=True);
3. growth on a chain of N elementwise ops (N = 1k, 10k, 100k): time, nodes, JSON bytes, RSS.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import torch

from gradtrace.core import document, graph, tracer
from gradtrace.core.recorder import Limits, Recorder
from gradtrace.core.tracer import trace_json, trace_source

torch.set_num_threads(1)  # facts.md: 2 threads on 2 shared cores make small models much slower

MLP = """
import torch, torch.nn as nn
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                      nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
x = torch.randn(32, 64)
loss = nn.functional.cross_entropy(model(x), torch.zeros(32, dtype=torch.long))
loss.backward()
"""

CNN = """
import torch, torch.nn as nn
torch.manual_seed(0)
class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(c)
    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(h)))
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.blocks = nn.Sequential(Block(16), Block(16), Block(16))
        self.head = nn.Linear(16, 10)
    def forward(self, x):
        h = self.blocks(torch.relu(self.stem(x)))
        return self.head(h.mean(dim=(2, 3)))
model = Net()
x = torch.randn(8, 3, 32, 32)
loss = nn.functional.cross_entropy(model(x), torch.zeros(8, dtype=torch.long))
loss.backward()
"""

TRANSFORMER = """
import torch, torch.nn as nn
torch.manual_seed(0)
layer = nn.TransformerEncoderLayer(d_model=256, nhead=8, dim_feedforward=1024, batch_first=True)
model = nn.TransformerEncoder(layer, num_layers=12, enable_nested_tensor=False)
x = torch.randn(4, 64, 256)
loss = model(x).pow(2).mean()
loss.backward()
"""

# The same models with forward+backward repeated, so model construction is a small share.
TRAIN_STEPS = "\nfor _ in range({n}):\n    model.zero_grad()\n    loss = {loss}\n    loss.backward()\n"


def chain(n: int) -> str:
    return f"""
import torch
x = torch.ones(4, requires_grad=True)
y = x
for _ in range({n}):
    y = y * 1.0001
loss = y.sum()
loss.backward(retain_graph=True)
"""


def cpu_median(fn: Callable[[], Any], runs: int, min_sample: float = 0.0) -> float:
    """Median CPU seconds per call of `fn` over `runs` samples.

    `min_sample`: calls per sample are repeated until a sample lasts about this long (as
    timeit's autorange does), so sub-millisecond calls are not measured at the clock's grain
    and one cold-cache call (after the collection before each sample) does not dominate.
    """
    start = time.process_time()
    fn()  # warm-up: imports, allocator, kernel caches
    first = time.process_time() - start
    loops = max(1, int(min_sample / first)) if first > 0 else 1
    samples = []
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        for _ in range(loops):
            fn()
        samples.append((time.process_time() - start) / loops)
    return statistics.median(samples)


def plain(source: str) -> Callable[[], None]:
    code = compile(source, "<plain>", "exec")
    return lambda: exec(code, {"__name__": "__main__"})


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def walk_and_json(root: Any, graph_only: bool = False) -> int:
    """Our finalization over a graph built without hooks: walk + saved values + JSON.

    GC as in the tracer (`tracer._traced`): objects older than the trace frozen, the first
    threshold scaled while the graph is read, collection off while the document (which
    lives until it is returned) is built and encoded.
    `graph_only`: nodes (with their saved values) and edges only, which is what torchviz
    draws; otherwise the whole document, with every tensor's summary and statistics.
    """
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0] * tracer._GC_SCALE, *thresholds[1:])
    try:
        rec = Recorder(Limits(max_nodes=10**6, max_events_head=10**6))
        rec.discover([root], None)
        gc.disable()
        if graph_only:
            nodes, edges = document.graph_dicts(rec, set(rec.nodes))
            doc: dict[str, Any] = {"nodes": nodes, "edges": edges}
        else:
            doc = document.build(
                rec,
                scopes=[],
                status="ok",
                error=None,
                stdout="",
                stderr="",
                torch_version=torch.__version__,
                source_lines=0,
                truncation={"reasons": []},
            )
        rec.active = False
        return len(document.encode(doc))
    finally:
        gc.set_threshold(*thresholds)
        gc.enable()
        gc.unfreeze()


def build_graph(source: str) -> Any:
    """The snippet's `loss` tensor, its graph built without any hook (and not consumed)."""
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source.replace("loss.backward()", "pass"), "<plain>", "exec"), ns)
    return ns["loss"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer runs, skip N=100k")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs

    print(f"torch {torch.__version__}, 1 thread, CPU-time medians of {runs} runs\n")
    print("1. full trace vs plain run of the same snippet")
    print("   traced: trace_json, the JSON text the sandbox worker sends; model: trace_source().to_json(),")
    print("   which also validates the pydantic model (the Python API)")
    print(
        f"{'snippet':<28}{'plain ms':>10}{'traced ms':>11}{'ratio':>8}{'model ms':>10}{'ratio':>8}{'nodes':>8}{'JSON KiB':>10}"
    )
    cases = {
        "mlp (4 layers)": MLP,
        "cnn (resnet-like)": CNN,
        "transformer 12L": TRANSFORMER,
        "mlp x10 steps": MLP
        + TRAIN_STEPS.format(
            n=10, loss="nn.functional.cross_entropy(model(x), torch.zeros(32, dtype=torch.long))"
        ),
        "transformer 12L x3 steps": TRANSFORMER + TRAIN_STEPS.format(n=3, loss="model(x).pow(2).mean()"),
    }
    for name, src in cases.items():
        base = cpu_median(plain(src), runs)
        traced = cpu_median(lambda src=src: trace_json(src, collect_garbage=False), runs)
        model = cpu_median(lambda src=src: trace_source(src).to_json(), runs)
        t = trace_source(src)
        print(
            f"{name:<28}{base * 1e3:>10.1f}{traced * 1e3:>11.1f}{traced / base:>8.2f}"
            f"{model * 1e3:>10.1f}{model / base:>8.2f}{len(t.nodes):>8}{len(t.to_json()) / 1024:>10.0f}"
        )

    print("\n2. graph walk + JSON vs torchviz make_dot(show_attrs=True, show_saved=True)")
    print("   graph: nodes with their saved values, and edges (what torchviz draws);")
    print("   document: the whole trace document, with every tensor's summary statistics")
    try:
        from torchviz import make_dot
    except ImportError:
        make_dot = None
    print(f"{'graph':<20}{'nodes':>7}{'graph ms':>10}{'document ms':>13}{'torchviz ms':>13}{'graph/tv':>10}{'doc/tv':>8}")
    for name, src in [
        ("mlp", MLP),
        ("cnn", CNN),
        ("transformer 12L", TRANSFORMER),
        ("chain 500", chain(500)),
    ]:
        loss = build_graph(src)
        nodes = len(graph.reachable([loss.grad_fn]))
        # Small graphs take well under a millisecond: repeat each call within a sample,
        # the same way for us and for torchviz.
        only = cpu_median(lambda root=loss.grad_fn: walk_and_json(root, graph_only=True), runs, 0.05)
        whole = cpu_median(lambda root=loss.grad_fn: walk_and_json(root), runs, 0.05)
        row = f"{name:<20}{nodes:>7}{only * 1e3:>10.2f}{whole * 1e3:>13.2f}"
        if make_dot is not None:
            theirs = cpu_median(
                lambda loss=loss: make_dot(loss, show_attrs=True, show_saved=True).source, runs, 0.05
            )
            print(f"{row}{theirs * 1e3:>13.2f}{only / theirs:>10.2f}{whole / theirs:>8.2f}")
        else:
            print(f"{row}{'(not installed)':>13}")

    print("\n3. growth with chain length (trace_source, caps raised so nothing is cut)")
    print(
        f"{'N':>8}{'plain ms':>10}{'traced ms':>11}{'ratio':>8}{'us/node':>9}{'nodes':>9}{'JSON MiB':>10}{'RSS +MiB':>10}"
    )
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    for n in sizes:
        src = chain(n)
        reps = runs if n < 100_000 else 1
        base = cpu_median(plain(src), reps)
        before = rss_mib()
        traced = cpu_median(
            lambda src=src: trace_source(src, max_nodes=10**6, max_json_bytes=1 << 30).to_json(), reps
        )
        t = trace_source(src, max_nodes=10**6, max_json_bytes=1 << 30)
        size = len(t.to_json())
        grown = rss_mib() - before
        print(
            f"{n:>8}{base * 1e3:>10.1f}{traced * 1e3:>11.1f}{traced / base:>8.2f}"
            f"{traced / max(1, len(t.nodes)) * 1e6:>9.1f}{len(t.nodes):>9}{size / 2**20:>10.2f}{grown:>10.1f}"
        )


if __name__ == "__main__":
    # Freeing very deep graphs recurses in C++ (facts.md): give it a big stack.
    threading.stack_size(1 << 30)
    sys.setrecursionlimit(10**6)
    worker = threading.Thread(target=main)
    worker.start()
    worker.join()
