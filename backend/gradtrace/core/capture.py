"""What the snippet prints and warns, and the soft time limit, captured for the trace.

stdout/stderr are replaced by capped in-memory streams that also emit `print` events with
the snippet line; PyTorch warnings become `warning` events attached to the call that
triggered them. Limits are raised as BaseException subclasses so `except Exception` in a
snippet cannot swallow them.
"""

from __future__ import annotations

import contextlib
import io
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

from gradtrace.core.recorder import SNIPPET_FILENAME, Recorder


class OutputLimit(BaseException):
    """The snippet printed more than max_stdout_bytes."""


class SoftTimeout(BaseException):
    """The snippet ran past its soft time limit."""


class CapturedStream(io.TextIOBase):
    """A text stream that keeps at most `limit` characters and reports printed lines."""

    def __init__(self, rec: Recorder, limit: int, name: str, events: bool) -> None:
        self.rec = rec
        self.limit = limit
        self.name = name
        self.events = events
        self.parts: list[str] = []
        self.size = 0
        self.pending = ""
        self.overflowed = False

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        room = self.limit - self.size
        if len(s) > room:
            self.parts.append(s[: max(room, 0)])
            self.size = self.limit
            self.overflowed = True
            raise OutputLimit(f"{self.name} exceeded {self.limit} characters")
        self.parts.append(s)
        self.size += len(s)
        if self.events and not self.rec.suspended:
            self.pending += s
            if "\n" in self.pending:
                text, _, self.pending = self.pending.rpartition("\n")
                stack = self.rec.snippet_stack()
                self.rec.emit("print", stack[-1] if stack else None, text=text[:2000])
        return len(s)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        return "".join(self.parts)


@contextlib.contextmanager
def captured(rec: Recorder, max_bytes: int) -> Iterator[tuple[CapturedStream, CapturedStream]]:
    out = CapturedStream(rec, max_bytes, "stdout", events=True)
    err = CapturedStream(rec, max_bytes, "stderr", events=False)
    saved = sys.stdout, sys.stderr, sys.stdin, warnings.showwarning
    shown: set[tuple[str, str, int | None]] = set()

    def showwarning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        stack = rec.snippet_stack()
        snippet_line = lineno if filename == SNIPPET_FILENAME else (stack[-1] if stack else None)
        key = (str(message), category.__name__, snippet_line)
        if filename.endswith(("instrument.py", "backward.py")):
            # C++ warnings point at the frame that called into torch, which is ours: report
            # them at the snippet line, once per line, as Python's default filter would.
            if key in shown:
                return
            shown.add(key)
            filename, lineno = SNIPPET_FILENAME, snippet_line or 0
        call = rec.current_call
        tensor = rec.tensor_id(call[1][0]) if call and call[1] else None
        rec.emit("warning", snippet_line, text=str(message)[:2000], category=category.__name__, tensor=tensor,
                 op=call[0] if call else None)
        err.write(warnings.formatwarning(message, category, filename, lineno, None))

    # catch_warnings: the snippet's filter changes end with it, and entering it invalidates
    # the "already shown" registries, so a warning shown in an earlier trace of this process
    # (C++ warnings are registered against our frames) is shown again, as in a fresh process.
    with warnings.catch_warnings():
        sys.stdout, sys.stderr = out, err
        sys.stdin = io.StringIO("")
        warnings.showwarning = showwarning
        try:
            yield out, err
        finally:
            if out.pending and not out.overflowed:
                rec.emit("print", None, text=out.pending[:2000])
            sys.stdout, sys.stderr, sys.stdin, warnings.showwarning = saved


@contextlib.contextmanager
def soft_timeout(seconds: float | None) -> Iterator[None]:
    """Interrupt Python code after `seconds` (re-armed so a swallowed interrupt fires again)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    message = f"the snippet ran longer than {seconds:g} s"
    fired = [0]

    def raise_on_every_line(frame: Any, event: str, _arg: Any) -> Any:
        # Only on line events: raising on others (exception, return) makes Python drop the
        # trace function altogether.
        if event == "line":
            raise SoftTimeout(message)
        return raise_on_every_line

    def handler(_signum: int, frame: Any) -> None:
        fired[0] += 1
        if fired[0] > 1:
            # The snippet swallowed the first interrupt (`except BaseException:`): from now on
            # every line it runs raises, so no handler can keep it going.
            sys.settrace(raise_on_every_line)
            while frame is not None:
                frame.f_trace = raise_on_every_line
                frame.f_trace_lines = True
                frame = frame.f_back
        raise SoftTimeout(message)

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if fired[0] > 1:
            sys.settrace(None)
            here: Any = sys._getframe()
            while here is not None:
                here.f_trace = None
                here = here.f_back
