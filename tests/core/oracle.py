"""Plain-PyTorch runs of a snippet: the oracle the tracer is checked against."""

from __future__ import annotations

import builtins
import contextlib
import io
import linecache
import random
import sys
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class PlainRun:
    namespace: dict[str, Any]
    exception: BaseException | None
    stdout: str
    order: list[list[str]] = field(default_factory=list)  # node names per backward pass, engine order

    @property
    def line(self) -> int | None:
        """The line Python's traceback ends at in the snippet (its innermost snippet frame)."""
        if isinstance(self.exception, SyntaxError):
            return self.exception.lineno
        line, tb = None, self.exception.__traceback__ if self.exception is not None else None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<plain>":
                line = tb.tb_lineno
            tb = tb.tb_next
        return line


def run_plain(source: str, record_order: bool = False) -> PlainRun:
    """Exec `source` like the tracer does (fresh __main__, same seeds), without any gradtrace hook."""
    torch.manual_seed(0)
    random.seed(0)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    # A text stream over bytes, as stdout is for `python file.py > out` (it has a .buffer).
    out = io.TextIOWrapper(_KeptBytes(), encoding="utf-8", write_through=True)
    orders: list[list[str]] = []
    original = torch.autograd.graph._engine_run_backward
    import torch.autograd as autograd_mod

    running: list[list[str]] = []  # order lists of the passes now running, innermost last

    def engine(t_outputs: Any, *args: Any, **kwargs: Any) -> Any:
        # Independent order oracle: a prehook on every node reachable from the roots, which
        # reports to the innermost running pass (a pass run inside another's backward, as
        # reentrant checkpointing does, can execute nodes the outer one reaches too).
        names: list[str] = []
        roots = [
            torch.autograd.graph.get_gradient_edge(t).node
            for t in t_outputs
            if isinstance(t, torch.Tensor) and t.requires_grad
        ]
        seen: set[int] = set()
        todo = list(roots)
        nodes = []
        while todo:
            n = todo.pop()
            if n is None or id(n) in seen:
                continue
            seen.add(id(n))
            nodes.append(n)
            todo.extend(m for m, _ in n.next_functions)
        handles = []
        for n in nodes:
            if "oracle" not in n.metadata:  # else an enclosing pass hooked it already
                n.metadata["oracle"] = True
                handles.append((n, n.register_prehook(lambda g, n=n: running[-1].append(n.name()))))
        orders.append(names)  # in the order passes start (a pass run inside another's backward comes second)
        running.append(names)
        try:
            return original(t_outputs, *args, **kwargs)
        finally:
            running.pop()
            for n, h in handles:
                h.remove()
                del n.metadata["oracle"]

    exc: BaseException | None = None
    # As for `python file.py`, the source can be read back (TorchScript, inspect, tracebacks).
    linecache.cache["<plain>"] = (len(source), None, source.splitlines(True), "<plain>")
    if record_order:
        autograd_mod._engine_run_backward = engine
    # Process-wide switches a scenario may flip, put back so later tests start clean.
    anomaly = (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled())
    dtype, grad = torch.get_default_dtype(), torch.is_grad_enabled()
    future = (torch.__future__.get_swap_module_params_on_conversion(), torch.__future__.get_overwrite_module_params_on_conversion())
    # ...and the interpreter's own tables, which a hostile scenario replaces (`builtins.len`).
    names, table, modules = dict(builtins.__dict__), sys.modules, dict(sys.modules)
    try:
        # stdin empty, as for `python file.py < /dev/null` (how the tracer runs a snippet;
        # pytest's own stdin raises OSError on read).
        with contextlib.redirect_stdout(out), _stdin(io.StringIO("")):
            exec(compile(source, "<plain>", "exec"), namespace)
    except BaseException as e:  # noqa: BLE001 - the snippet's outcome is what we compare
        exc = e
    finally:
        builtins.__dict__.update(names)  # first: the lines below may call a builtin
        for name in builtins.__dict__.keys() - names.keys():
            del builtins.__dict__[name]
        sys.modules = table
        table.update(modules)
        autograd_mod._engine_run_backward = original
        torch.autograd.set_detect_anomaly(*anomaly)
        torch.set_default_dtype(dtype)
        torch.set_grad_enabled(grad)
        torch.__future__.set_swap_module_params_on_conversion(future[0])
        torch.__future__.set_overwrite_module_params_on_conversion(future[1])
    return PlainRun(namespace=namespace, exception=exc, stdout=_text(out), order=orders)


class _KeptBytes(io.BytesIO):
    """A stdout buffer whose text survives the snippet closing sys.stdout."""

    kept = b""

    def close(self) -> None:
        if not self.closed:
            self.kept = self.getvalue()
        super().close()


def _text(stream: io.TextIOWrapper) -> str:
    raw = stream.buffer
    assert isinstance(raw, _KeptBytes)
    return (raw.kept if raw.closed else raw.getvalue()).decode("utf-8", "replace")


@contextlib.contextmanager
def _stdin(stream: io.StringIO) -> Any:
    saved = sys.stdin
    sys.stdin = stream
    try:
        yield
    finally:
        sys.stdin = saved


def graph_names(root: Any) -> list[str]:
    """Sorted grad_fn names reachable from `root` in a plain run."""
    seen: set[int] = set()
    names = []
    todo = [root]
    while todo:
        n = todo.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        names.append(n.name())
        todo.extend(m for m, _ in n.next_functions)
    return sorted(names)
