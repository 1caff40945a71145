"""A stand-in for gradtrace.core.tracer.trace_source (same signature), used until the core lands."""

from __future__ import annotations

import contextlib
import io
import signal
from collections.abc import Callable
from typing import Any


class _SoftTimeout(BaseException):
    pass


def trace_source(
    source: str,
    *,
    max_nodes: int = 20000,
    max_json_bytes: int = 8 << 20,
    max_stdout_bytes: int = 1 << 20,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    soft_timeout: float | None = None,
) -> Any:
    import torch

    from gradtrace.core.model import Trace, TraceError

    buf = io.StringIO()
    status = "ok"
    error = None

    def alarm(*_: object) -> None:
        raise _SoftTimeout()

    if soft_timeout:
        signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, soft_timeout)
    try:
        with contextlib.redirect_stdout(buf):
            exec(compile(source, "<snippet>", "exec"), {"__name__": "__main__"})
    except _SoftTimeout:
        status = "timeout"
    except MemoryError as exc:
        status = "memory_limit"
        error = TraceError(type="MemoryError", message=str(exc), line=None, kind="memory_limit")
    except BaseException as exc:
        status = "error"
        error = TraceError(type=type(exc).__name__, message=str(exc)[:2000], line=None, kind="exception")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    out = buf.getvalue()
    if on_event is not None:
        on_event({"seq": 0, "kind": "print", "text": out[:200]})
    return Trace(
        torch_version=torch.__version__,
        status=status,
        error=error,
        stdout=out[:max_stdout_bytes],
        truncated=len(out) > max_stdout_bytes,
        source_lines=source.count("\n") + 1,
    )
