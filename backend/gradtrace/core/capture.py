"""What the snippet prints and warns, and the soft time limit, captured for the trace.

stdout/stderr are replaced by capped in-memory streams that also emit `print` events with
the snippet line; PyTorch warnings become `warning` events attached to the call that
triggered them, filtered as in a fresh `python snippet.py`. Tracebacks in either (printed by
the snippet, or in anomaly mode's warnings) lose the tracer's frames. Limits are raised as
BaseException subclasses so `except Exception` in a snippet cannot swallow them.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

from gradtrace.core import explain
from gradtrace.core.model import CPU_STOP_MESSAGE, WALL_STOP_MESSAGE
from gradtrace.core.recorder import SNIPPET_FILENAME, Recorder


class OutputLimit(BaseException):
    """The snippet printed more than max_stdout_bytes."""


class SoftTimeout(BaseException):
    """The snippet ran past its soft time limit.

    Raised in the snippet, its traceback says where. Made up for a run that could not be
    interrupted (see `tracer.describe_stuck`), `line` and `scopes` (the locals of the
    snippet's running functions) say it instead.
    """

    def __init__(self, message: str, line: int | None = None, scopes: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.scopes = scopes or []


class _BytesSide(io.RawIOBase):
    """The binary side of a CapturedStream: bytes are decoded as UTF-8 (undecodable ones as
    U+FFFD, since the document is text) and captured with the rest."""

    def __init__(self, text: CapturedStream) -> None:
        self.text = text

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(memoryview(b))
        self.text.write(data.decode("utf-8", "replace"))
        return len(data)


class CapturedStream(io.TextIOBase):
    """A text stream that keeps at most `limit` characters and reports printed lines."""

    def __init__(self, rec: Recorder, limit: int, name: str, events: bool, errors: str) -> None:
        self.rec: Recorder | None = rec
        self.after: Any = None  # where writes go once the trace is over (see `release`)
        self.limit = limit
        self.name = name
        self.events = events
        self.parts: list[str] = []
        self.size = 0
        self.pending = ""
        self.overflowed = False
        self._errors = errors

    encoding = "utf-8"  # what a pipe's stdout has here (libraries branch on it)

    @property  # (io.TextIOBase has it as a read-only C property: overridden the same way)
    def errors(self) -> str:  # type: ignore[override]
        return self._errors

    def writable(self) -> bool:
        return True

    @property
    def buffer(self) -> _BytesSide:
        """`sys.stdout.buffer`, for snippets that write bytes; kept as (decoded) text."""
        return _BytesSide(self)

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if self.after is not None:
            return int(self.after.write(s))
        if self.closed:  # the snippet closed sys.stdout: a print then raises, as in plain Python
            raise ValueError("I/O operation on closed file.")
        written = len(s)
        if not s.isascii():
            s = self._encodable(s)
        if 'File "' in s:  # a traceback the snippet prints: without the tracer's frames
            s = without_our_frames(s)
        room = self.limit - self.size
        if len(s) > room:
            self.parts.append(s[: max(room, 0)])
            self.size = self.limit
            self.overflowed = True
            raise OutputLimit(f"{self.name} exceeded {self.limit} characters")
        self.parts.append(s)
        self.size += len(s)
        rec = self.rec
        if self.events and rec is not None and not rec.suspended:
            self.pending += s
            if "\n" in self.pending:
                text, _, self.pending = self.pending.rpartition("\n")
                stack = rec.snippet_stack()
                rec.emit("print", stack[-1] if stack else None, text=text[:2000])
        return written

    def _encodable(self, s: str) -> str:
        """`s` as a UTF-8 pipe takes it: a lone surrogate ("\\ud800") raises on stdout, as in
        `python snippet.py` (errors "strict"), and is escaped on stderr ("backslashreplace")."""
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            if self._errors == "strict":
                raise
            return s.encode("utf-8", self._errors).decode("utf-8")
        return s

    def release(self, after: Any) -> None:
        """The trace is over: later writes go to `after`, and the recorder is let go.

        A module imported while the snippet ran may have kept the stream (sympy does
        `from sys import stdout`); it would otherwise keep the whole trace alive, and its
        output would vanish into a finished capture.
        """
        self.rec = None
        self.after = after

    def flush(self) -> None:
        if self.closed and self.after is None:
            raise ValueError("I/O operation on closed file.")

    def getvalue(self) -> str:
        return "".join(self.parts)


# Python's default filters, in front of whatever the host process set (pytest shows every
# DeprecationWarning, a notebook may silence all), so a trace warns as `python snippet.py`
# would; the snippet's own filter calls go in front of these, as they would there.
# C++ warnings are raised against our frames: let them all through to `showwarning`, which
# applies the snippet's filters as if raised at the snippet line (the registry would key
# them by *our* line, hiding the same warning from a later snippet line).
_OUR_FRAMES = r"gradtrace\.core\.(instrument|backward)\Z"
_DEFAULT_FILTERS: list[tuple[Any, type[Warning], str]] = [
    ("always", Warning, _OUR_FRAMES),
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
]


# Blanket filters (`simplefilter("ignore")`, `simplefilter("error", UserWarning)`: no
# message, no module, a built-in category) are the caller's, not a library's: torch and numpy
# install specific ones at import (ignore TracerWarning from torch's own modules, numpy's
# binary-compatibility messages), which a fresh `python snippet.py` has too, so those stay.
_BUILTIN_CATEGORIES = frozenset(
    {Warning, UserWarning, DeprecationWarning, PendingDeprecationWarning, SyntaxWarning, RuntimeWarning,
     FutureWarning, ImportWarning, UnicodeWarning, BytesWarning, ResourceWarning, EncodingWarning}
)


def _fresh_process_filters() -> None:
    # The caller's blanket filters go (a notebook's simplefilter("ignore") hid the snippet's
    # warnings, "error" turned them into exceptions); Python's defaults go in front.
    warnings.filters[:] = [  # type: ignore[index]
        f for f in warnings.filters  # type: ignore[attr-defined]
        if not (f[1] is None and f[3] is None and f[2] in _BUILTIN_CATEGORIES)
    ]
    warnings._filters_mutated()  # type: ignore[attr-defined]
    for action, category, module in reversed(_DEFAULT_FILTERS):
        warnings.filterwarnings(action, category=category, module=module)


def _snippet_action(text: str, category: type[Warning], lineno: int) -> str:
    """The filter action Python would take for this warning raised at a snippet line."""
    for action, msg, cat, mod, ln in warnings.filters:  # type: ignore[attr-defined]
        if getattr(mod, "pattern", None) == _OUR_FRAMES:
            continue
        if _matches(msg, text) and issubclass(category, cat) and _matches(mod, "__main__") and ln in (0, lineno):
            return str(action)
    return str(warnings.defaultaction)  # type: ignore[attr-defined]


def _matches(pattern: Any, value: str) -> bool:
    # As the C `warnings` module does: None matches all, a plain string must be equal.
    if pattern is None:
        return True
    return bool(pattern == value) if isinstance(pattern, str) else bool(pattern.match(value))


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]*)", line \d+')


def without_our_frames(text: str) -> str:
    """Drop the tracer's frames (and the host's, above the snippet) from a traceback in text.

    Anomaly mode puts the forward call's stack into a warning, and a snippet may print a
    traceback itself; under the tracer those stacks also run through the tracer and
    whatever called it, which `python snippet.py` would not show (and a server must not
    reveal).
    """
    if 'File "' not in text:
        return text
    lines = text.split("\n")
    frames = [i for i, line in enumerate(lines) if _FRAME.match(line)]
    if not frames:
        return text
    files = {i: _FRAME.match(lines[i])["file"] for i in frames}  # type: ignore[index]
    first_snippet = next((i for i in frames if files[i] == SNIPPET_FILENAME), None)
    out: list[str] = []
    dropping = False
    for i, line in enumerate(lines):
        if i in files:
            source = lines[i + 1].strip() if i + 1 < len(lines) else ""
            dropping = (
                files[i].startswith(_PACKAGE_DIR)
                or (first_snippet is not None and i < first_snippet)
                # PyTorch's detour through our TorchFunctionMode: absent without it.
                or (files[i].endswith("overrides.py") and "in handle_torch_function" in line)
                or source.startswith("return handle_torch_function(")
            )
        elif not line.startswith("    "):  # a frame's source line is indented deeper than the frame
            dropping = False
        if not dropping:
            out.append(line)
    return "\n".join(out)


@contextlib.contextmanager
def captured(rec: Recorder, max_bytes: int) -> Iterator[tuple[CapturedStream, CapturedStream]]:
    out = CapturedStream(rec, max_bytes, "stdout", events=True, errors="strict")
    err = CapturedStream(rec, max_bytes, "stderr", events=False, errors="backslashreplace")
    saved = sys.stdout, sys.stderr, sys.stdin, warnings.showwarning
    shown: set[tuple[str, str, int | None]] = set()

    def showwarning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        stack = rec.snippet_stack()
        snippet_line = lineno if filename == SNIPPET_FILENAME else (stack[-1] if stack else None)
        key = (str(message), category.__name__, snippet_line)
        if filename.endswith(("instrument.py", "backward.py")):
            # C++ warnings point at the frame that called into torch, which is ours: report
            # them at the snippet line, filtered as they would be there.
            filename, lineno = SNIPPET_FILENAME, snippet_line or 0
            action = _snippet_action(str(message), category, lineno)
            if action == "error":
                raise category(str(message))
            if action in ("once", "module"):
                key = (key[0], key[1], None)
            if action == "ignore" or (action not in ("always", "all") and key in shown):
                return
            shown.add(key)
        call = rec.current_call
        tensor = rec.tensor_id(call[1][0]) if call and call[1] else None
        text = without_our_frames(str(message))
        rule = explain.classify_warning(category.__name__, text)
        rec.emit("warning", snippet_line, text=text[:2000], category=category.__name__, tensor=tensor,
                 op=call[0] if call else None, hint=explain.hint(rule) if rule else None)
        err.write(warnings.formatwarning(text, category, filename, lineno, None))

    # catch_warnings: the snippet's filter changes end with it, and entering it invalidates
    # the "already shown" registries, so a warning shown in an earlier trace of this process
    # (C++ warnings are registered against our frames) is shown again, as in a fresh process.
    with warnings.catch_warnings():
        _fresh_process_filters()
        sys.stdout, sys.stderr = out, err
        sys.stdin = io.StringIO("")
        warnings.showwarning = showwarning
        try:
            yield out, err
        finally:
            if out.pending and not out.overflowed:
                rec.emit("print", None, text=out.pending[:2000])
            sys.stdout, sys.stderr, sys.stdin, warnings.showwarning = saved
            out.release(saved[0])
            err.release(saved[1])


def _ours(frame: Any) -> bool:
    """A frame of gradtrace's own code (the tracer, the sandbox worker)."""
    return bool(frame.f_code.co_filename.startswith(_PACKAGE_DIR))


def _in_snippet(frame: Any) -> bool:
    """Whether the snippet's own code is running at `frame` or further out (a finalizer or
    __str__ it defined, called by the tracer)."""
    while frame is not None:
        if frame.f_code.co_filename == SNIPPET_FILENAME:
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def soft_timeout(seconds: float | None, cpu_seconds: float | None = None, snippet_only: bool = False) -> Iterator[None]:
    """Interrupt Python code after `seconds` of wall time or `cpu_seconds` of the process's CPU
    time, whichever comes first (re-armed so a swallowed interrupt fires again).

    The CPU clock matters because the sandbox's hard CPU limit kills a busy snippet (a
    `while True:` loop) before its wall clock runs out, and a killed worker returns no graph.
    `snippet_only`: interrupt only code the snippet defined (the tracer, building the
    document, calls a snippet's finalizers and exception __str__: one that never returns
    must not cost the graph), never the tracer or torch code it calls.
    """
    clocks = [(signal.ITIMER_REAL, signal.SIGALRM, seconds), (signal.ITIMER_PROF, signal.SIGPROF, cpu_seconds)]
    timers = [(which, sig, after) for which, sig, after in clocks if after]
    if not timers or threading.current_thread() is not threading.main_thread():
        yield
        return

    messages: dict[int, str] = {
        signal.SIGALRM: f"{WALL_STOP_MESSAGE} {seconds or 0:g} s",
        signal.SIGPROF: f"{CPU_STOP_MESSAGE} {cpu_seconds or 0:g} s of CPU time",
    }
    timer_of: dict[int, int] = {signal.SIGALRM: signal.ITIMER_REAL, signal.SIGPROF: signal.ITIMER_PROF}
    fired = [0]
    why = [""]  # the message of the clock that ran out

    def raise_on_every_line(frame: Any, event: str, _arg: Any) -> Any:
        if _ours(frame) or (snippet_only and frame.f_code.co_filename != SNIPPET_FILENAME):
            return None  # never inside the tracer's own code (see handler)
        # Only on line events: raising on others (exception, return) makes Python drop the
        # trace function altogether.
        if event == "line":
            raise SoftTimeout(why[0])
        return raise_on_every_line

    def handler(signum: int, frame: Any) -> None:
        if frame is not None and (_ours(frame) or (snippet_only and not _in_snippet(frame))):
            # In the tracer's own code (a backward hook, a node's finalizer, a weakref
            # callback, a record half made): raised there the interrupt would be lost (Python
            # ignores exceptions in finalizers, and then the swallowed-interrupt rule below
            # would turn on) or leave the records inconsistent. Try again in a moment, when
            # the snippet's own code runs.
            signal.setitimer(timer_of[signum], 0.005, 0.25)
            return
        fired[0] += 1
        why[0] = messages[signum]
        if fired[0] > 1:
            # The snippet swallowed the first interrupt (`except BaseException:`): from now on
            # every line it runs raises, so no handler can keep it going.
            sys.settrace(raise_on_every_line)
            while frame is not None:
                if not _ours(frame) and (not snippet_only or frame.f_code.co_filename == SNIPPET_FILENAME):
                    frame.f_trace = raise_on_every_line
                    frame.f_trace_lines = True
                if frame.f_code.co_filename == SNIPPET_FILENAME and frame.f_code.co_name == "<module>":
                    break  # what is further out is the tracer's and the host's
                frame = frame.f_back
        raise SoftTimeout(why[0])

    previous = {sig: signal.signal(sig, handler) for _, sig, _ in timers}
    # A timer the host had (a test runner's, a notebook's) stands where it would have after.
    host_timers = {which: signal.getitimer(which) for which, _, _ in timers}
    started = time.monotonic()
    for which, _, after in timers:
        signal.setitimer(which, after, 0.25)
    try:
        yield
    finally:
        for which, sig, _ in timers:
            delay, interval = host_timers[which]
            # (the CPU clock's host timer is rare; wall time is an upper bound of its time spent)
            signal.setitimer(which, max(delay - (time.monotonic() - started), 1e-3) if delay else 0, interval)
            signal.signal(sig, previous[sig])
        if fired[0] > 1:
            sys.settrace(None)
            here: Any = sys._getframe()
            while here is not None:
                here.f_trace = None
                here = here.f_back
