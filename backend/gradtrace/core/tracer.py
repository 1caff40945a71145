"""trace_source / trace_json: run a snippet as a top-level script and return its autograd trace.

The snippet runs in a fresh `__main__` namespace with every hook installed
(`instrument.instrumented`), its output captured (`capture`), RNGs seeded so the same
snippet gives byte-identical JSON. Whatever happens, even a syntax error, a limit or an
exception, the outcome is data: a trace with a status, never an exception of ours.

`trace_source` returns the validated pydantic `Trace`; `trace_json` returns the same document
as JSON text without building the model (the sandbox worker's path: its parent validates the
untrusted bytes anyway, so validating twice would only cost time).
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import gc
import io
import linecache
import math
import os
import random
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import torch
from pydantic_core import PydanticSerializationError

from gradtrace.core import capture, document, errors, explain, failing, globalstate, graph, lint, runchecks
from gradtrace.core.instrument import instrumented
from gradtrace.core.lint import Finding
from gradtrace.core.model import MIN_TRACE_BYTES, Trace, count_lines
from gradtrace.core.recorder import SNIPPET_FILENAME, Limits, Recorder

TORCH_VERSION = torch.__version__


def _seed() -> None:
    torch.manual_seed(0)
    random.seed(0)
    try:
        import numpy

        numpy.random.seed(0)
    except Exception:  # numpy is optional for snippets
        pass


def _syntax_error_doc(exc: SyntaxError | RecursionError, source: str) -> dict[str, Any]:
    """The document of a snippet that did not compile: nothing ran."""
    lineno = getattr(exc, "lineno", None)
    message = getattr(exc, "msg", None) or str(exc)
    lines = source.splitlines()
    line_text = lines[lineno - 1] if lineno and 0 < lineno <= len(lines) else ""
    if isinstance(exc, SyntaxError):
        rule = explain.classify_syntax(message, line_text, type(exc).__name__)
    else:  # nested deeper than the compiler's own stack
        rule = explain.classify(type(exc).__name__, message)
    err = {
        "type": type(exc).__name__,
        "message": message,
        "line": lineno,
        "column": getattr(exc, "offset", None),
        "kind": rule.kind,
        "node": None,
        "tensor": None,
        "explanation": {"title": rule.title, "what": rule.what, "fix": rule.fix},
    }
    event = {"seq": 0, "kind": "error", "line": lineno, "text": err["message"]}
    # The model fills in every other field with its default (a rare path: validating is fine).
    partial = {
        "torch_version": TORCH_VERSION,
        "status": "error",
        "error": err,
        "events": [event],
        # (Python names no place for an error the compiler cannot pin: too deep a nesting.)
        "stderr": (f'  File "{SNIPPET_FILENAME}", line {lineno}\n' if lineno is not None else "")
        + f"{type(exc).__name__}: {message}\n",
        "source_lines": len(source.splitlines()),
    }
    return Trace.model_validate(partial).to_dict()


def trace_source(
    source: str,
    *,
    max_nodes: int = 20_000,
    max_json_bytes: int = 8 << 20,
    max_stdout_bytes: int = 1 << 20,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    soft_timeout: float | None = None,
    soft_cpu_timeout: float | None = None,
    collect_garbage: bool = True,
) -> Trace:
    """Run `source` under observation and return its trace (see docs/trace-format.md).

    `soft_timeout` / `soft_cpu_timeout` (seconds of wall / CPU time) stop the snippet with a
    partial trace of status "timeout", before a hard limit would kill the process.

    `collect_garbage=False` skips the GC pass that frees the snippet's cyclic garbage before
    returning: for a process that exits right after (the sandbox worker), it is wasted time.
    """

    def finish(doc: dict[str, Any]) -> Trace:
        # The cut is decided on the document's own JSON, as trace_json decides it, so both
        # paths keep the same things (the model's JSON leaves out internal keys: smaller).
        doc = document.shrink(doc, max_json_bytes)
        trace = Trace.model_validate(doc)
        try:
            size = len(trace.to_json())  # kept for to_json()
        except PydanticSerializationError:  # lone surrogates in some text of the snippet's
            doc = document.scrub(doc)
            trace = Trace.model_validate(doc)
            size = len(trace.to_json())
        if size > max_json_bytes:  # not seen, but the cap is a promise
            trace = Trace.model_validate(document.shrink(doc, max_json_bytes - (size - max_json_bytes)))
        trace._source = source  # (for to_html / the notebook view)
        return trace

    return _traced(source, finish, max_nodes, max_json_bytes, max_stdout_bytes, on_event, (soft_timeout, soft_cpu_timeout), collect_garbage)


def trace_json(
    source: str,
    *,
    max_nodes: int = 20_000,
    max_json_bytes: int = 8 << 20,
    max_stdout_bytes: int = 1 << 20,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    soft_timeout: float | None = None,
    soft_cpu_timeout: float | None = None,
    collect_garbage: bool = True,
) -> str:
    """Like `trace_source`, but the document as compact JSON text, never validated here.

    Validating it with `Trace` gives the model `trace_source` returns (tests hold the two
    paths equal); key order and left-out nulls may differ from `Trace.to_json()`.
    """

    def finish(doc: dict[str, Any]) -> str:
        data = document.encode(doc)
        if len(data) > max_json_bytes:
            data = document.encode(document.shrink(doc, max_json_bytes))
        return data.decode()

    return _traced(source, finish, max_nodes, max_json_bytes, max_stdout_bytes, on_event, (soft_timeout, soft_cpu_timeout), collect_garbage)


def _check_limits(**limits: Any) -> None:
    """A caller's bad limit is a ValueError that names it, before anything runs."""
    for name in ("max_nodes", "max_json_bytes", "max_stdout_bytes"):
        value, least = limits[name], MIN_TRACE_BYTES if name == "max_json_bytes" else int(name == "max_nodes")
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be a whole number of at least {least}, not {value!r}")
    for name in ("soft_timeout", "soft_cpu_timeout"):
        value = limits[name]
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < math.inf):
            raise ValueError(f"{name} must be a number of seconds above 0 (or None for no limit), not {value!r}")


_GC_SCALE = 10  # see `_traced`


def _traced(
    source: str,
    finish: Callable[[dict[str, Any]], Any],
    max_nodes: int,
    max_json_bytes: int,
    max_stdout_bytes: int,
    on_event: Callable[[dict[str, Any]], None] | None,
    soft_timeouts: tuple[float | None, float | None],
    collect_garbage: bool,
) -> Any:
    _check_limits(max_nodes=max_nodes, max_json_bytes=max_json_bytes, max_stdout_bytes=max_stdout_bytes,
                  soft_timeout=soft_timeouts[0], soft_cpu_timeout=soft_timeouts[1])
    # A byte-order mark (code pasted from a file some Windows editors saved) is what Python
    # skips when it reads a .py file; compile() of a string rejects it.
    source = source.removeprefix("\ufeff")
    try:
        code = _compile(source)
    except RecursionError as exc:  # nested deeper than the compiler can go: `python` fails the same way
        return finish(_syntax_error_doc(exc, source))
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in source
        if not isinstance(exc, SyntaxError) or (exc.lineno is None and "\0" in source):
            at = source.index("\0") if "\0" in source else 0
            line = source.count("\n", 0, at) + 1
            column = at - (source.rfind("\n", 0, at) + 1) + 1
            exc = SyntaxError(str(exc), (SNIPPET_FILENAME, line, column, ""))
        return finish(_syntax_error_doc(exc, source))

    # Objects that exist before the snippet (torch's own) need no cyclic GC passes while it
    # runs and while its (possibly big) document is built and serialized; without this, the
    # collections our records trigger rescan all of them again and again.
    gc_enabled = gc.isenabled()
    gc.freeze()
    # Our records allocate many times more containers than a typical snippet (measured on
    # the 12-layer transformer: 52 young collections instead of the plain run's 4). Scaling
    # the first threshold by that factor gives the snippet roughly its own collection
    # cadence back, and saves the collections that would only scan our records.
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0] * _GC_SCALE, *thresholds[1:])
    try:
        doc = _trace_compiled(code, source, max_nodes, max_json_bytes, max_stdout_bytes, on_event, soft_timeouts, collect_garbage, finish)
        try:
            return finish(doc)
        except Exception as exc:  # a value the document has no JSON for: still an outcome, not a crash
            return finish(_unwritable_doc(doc, exc))
    finally:
        gc.set_threshold(*thresholds)
        if collect_garbage:
            # The snippet's namespace and graphs are garbage now (cycles through functions'
            # globals, modules, tracebacks). Collect them while the old objects are still
            # frozen: that scans only what this trace made, and nothing of it is left to be
            # frozen (and so kept forever) by the next trace in this process.
            with _output_discarded():  # (finalizers, as above)
                gc.collect()
        gc.unfreeze()
        if gc_enabled:
            gc.enable()


# The mode's frames between a torch call and the op (`__torch_function__`, `observe_call`,
# the call): recursion limits then match plain Python's within these few frames.
_FRAMES_PER_CALL = 3


@contextlib.contextmanager
def _output_discarded() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


@contextlib.contextmanager
def _as_main(module: types.ModuleType) -> Iterator[None]:
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved
        else:
            sys.modules.pop("__main__", None)


# Recursion depth a thread's target runs at (threading's bootstrap calls), given back to the
# compiler below. The compiler counts depth in thirds of a call, so no whole number matches
# `python` exactly: with 5, every expression `python` compiles compiles here too (a sum of
# 2,999 terms does, under both), and a few terms more do (3,000 does here, not under
# `python`); with 4, sums `python` compiles failed. tests/core/test_culprits.py checks it.
_THREAD_START_DEPTH = 5


def _compile(source: str) -> Any:
    """compile() of the snippet, as `python snippet.py` compiles it: on a stack of its own.

    The compiler gives up on expressions nested deeper than a limit that counts the recursion
    depth it is called at (C calls included, so counting frames is not enough); `python`
    compiles a script at depth 0. A new thread starts at a fixed, small depth wherever the
    trace was started from (the sandbox worker, the CLI, a notebook, a test runner).
    """
    result: list[Any] = []

    def run() -> None:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(limit + _THREAD_START_DEPTH)  # (the caller waits in join meanwhile)
        try:
            result.append(compile(source, SNIPPET_FILENAME, "exec", dont_inherit=True))
        except BaseException as exc:  # handed to the caller's thread
            result.append(exc)
        finally:
            sys.setrecursionlimit(limit)

    thread = threading.Thread(target=run, name="gradtrace-compile")
    thread.start()
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def _stack_depth() -> int:
    """Frames below the caller's (the snippet's module frame will sit on the caller's)."""
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1  # type: ignore[assignment]
    return depth


# Held here: a snippet may replace os.getpid (or os._exit) while it runs.
class _Run:
    """A run in progress: what its document is made from (when it ends, or from outside by
    `describe_stuck`)."""

    __slots__ = ("rec", "namespace", "source", "out", "err", "max_stdout_bytes", "finish", "kept")

    def __init__(self, rec: Recorder, namespace: dict[str, Any], source: str, out: Any, err: Any,
                 max_stdout_bytes: int, finish: Callable[[dict[str, Any]], Any], kept: globalstate.interpreter_kept) -> None:
        self.rec, self.namespace, self.source, self.out, self.err = rec, namespace, source, out, err
        self.max_stdout_bytes, self.finish, self.kept = max_stdout_bytes, finish, kept


_running: list[_Run] = []  # innermost last (the Python API can trace from inside a trace)


_getpid, _exit = os.getpid, os._exit


def _trace_compiled(
    code: Any,
    source: str,
    max_nodes: int,
    max_json_bytes: int,
    max_stdout_bytes: int,
    on_event: Callable[[dict[str, Any]], None] | None,
    soft_timeouts: tuple[float | None, float | None],
    tear_down: bool,
    finish: Callable[[dict[str, Any]], Any],
) -> dict[str, Any]:
    # Tracebacks and warnings can then quote the snippet's lines.
    linecache.cache[SNIPPET_FILENAME] = (len(source), None, source.splitlines(True), SNIPPET_FILENAME)
    limits = Limits(max_nodes=max_nodes, max_json_bytes=max_json_bytes, max_stdout_bytes=max_stdout_bytes)
    rec = Recorder(limits, on_event)
    # A real module, standing in for `__main__` while the snippet runs: pickle (torch.save of
    # a model class the snippet defined), dataclasses and typing look classes up there.
    main = types.ModuleType("__main__")
    namespace: dict[str, Any] = main.__dict__
    namespace.update(__builtins__=builtins, __file__=SNIPPET_FILENAME)
    rec.snippet_globals = namespace
    with torch.enable_grad():  # where autograd's sequence counter stands now
        rec.sequence_base = int((torch.zeros(1, requires_grad=True) * 1).grad_fn._sequence_nr()) + 1  # type: ignore[union-attr]
    status = "ok"
    failure: BaseException | None = None
    grad_enabled = torch.is_grad_enabled()
    recursion_limit = sys.getrecursionlimit()
    with capture.captured(rec, max_stdout_bytes) as (out, err), contextlib.ExitStack() as hooks:
        # Our own set-up runs outside the snippet's try: a fault there is ours, not the snippet's.
        hooks.enter_context(globalstate.given_back(SNIPPET_FILENAME))
        _seed()
        hooks.enter_context(instrumented(rec))
        hooks.enter_context(capture.soft_timeout(*soft_timeouts))
        hooks.enter_context(_as_main(main))
        # `python snippet.py` starts the snippet at depth 1; here it starts below our (and the
        # host's) frames, and each torch call adds the mode's few. Give those back, so deep
        # recursion fails, or not, where it would in plain Python.
        sys.setrecursionlimit(recursion_limit + _stack_depth() + _FRAMES_PER_CALL)
        pid = _getpid()
        started = (time.monotonic(), time.process_time())
        kept = globalstate.interpreter_kept()
        run = _Run(rec, namespace, source, out, err, max_stdout_bytes, finish, kept)
        _running.append(run)
        try:
            with kept:  # given back before any of our code runs on
                exec(code, namespace)
        except capture.SoftTimeout as exc:
            status, failure = "timeout", exc
        except capture.OutputLimit as exc:
            status, failure = "output_limit", exc
        except MemoryError as exc:
            status, failure = "memory_limit", exc
        except SystemExit as exc:
            if exc.code not in (None, 0):
                status, failure = "error", exc
        except BaseException as exc:  # the snippet's own exception is a result
            status, failure = "error", exc
            if explain.classify(type(exc).__name__, errors.message_of(exc)).kind == "out_of_memory":
                status = "memory_limit"
        finally:
            if _getpid() != pid:
                # A process the snippet forked ends where the snippet ends, as under `python`;
                # going on would make it trace too, and write a second document where the
                # parent writes its own (the sandbox's result pipe, the CLI's stdout).
                _exit(0 if status == "ok" else 1)
            _running.pop()
            torch.set_grad_enabled(grad_enabled)
            sys.setrecursionlimit(recursion_limit)

    try:
        # Making the document runs code the snippet defined (finalizers in the collection
        # before it, an exception's __str__): the snippet's own deadlines still hold for it.
        with capture.soft_timeout(*_time_left(soft_timeouts, started), snippet_only=True):
            return _document_of(run, status, failure)
    finally:
        rec.active = False
        # `python snippet.py` frees the snippet's globals at exit. In a process that goes on
        # (tear_down: the CLI, the Python API) they are freed now, and what their finalizers
        # print must not reach the host's output (the CLI's JSON). A sandbox worker exits
        # right after: freeing would only cost time, and its stdout goes nowhere.
        if tear_down:
            with _output_discarded():
                namespace.clear()
                failure = None  # its traceback holds the snippet's frames
            # A grad-mode guard the snippet entered and kept (`im = torch.inference_mode();
            # im.__enter__()`) dies just now and puts back the grad mode of its own start.
            torch.set_grad_enabled(grad_enabled)


def _time_left(soft_timeouts: tuple[float | None, float | None], started: tuple[float, float]) -> tuple[float | None, float | None]:
    """What is left of the soft (wall, CPU) deadlines since `started`: at least a moment, so
    a snippet that ran to its deadline still gets its finalizers interrupted, not the graph."""
    wall, cpu = soft_timeouts
    spent = (time.monotonic() - started[0], time.process_time() - started[1])
    return (
        max(_MOMENT, wall - spent[0]) if wall else None,
        max(_MOMENT, cpu - spent[1]) if cpu else None,
    )


_MOMENT = 0.1  # seconds


def _document_of(run: _Run, status: str, failure: BaseException | None) -> dict[str, Any]:
    """The document of a run that has ended (or, in `describe_stuck`, been frozen)."""
    rec, source = run.rec, run.source
    rec.suspended += 1  # from here on, our own torch calls are not the snippet's
    for note in lint.findings(source):  # mistakes that raise nothing, read from the source
        if note.kind == "grad_never_cleared" and not runchecks.added_to_old_grads(rec, note.line):
            continue  # (the run shows no gradient added to an old one: nothing to say)
        _note(rec, note)
    try:
        with graph.quiet():  # ...nor may they run the snippet's code
            return _describe_run(run, status, failure)
    except (Exception, capture.SoftTimeout) as exc:  # the snippet broke what we read its results with
        stdout, stderr = run.out.getvalue(), run.err.getvalue()[: run.max_stdout_bytes]
        return _unreadable_doc(rec, exc, source, status, failure, stdout, stderr)


def where_stuck(thread_id: int) -> tuple[int | None, list[dict[str, Any]]] | None:
    """Where the snippet running on thread `thread_id` is now: its innermost line, and the
    locals of its functions that are running (innermost last), read from the live frames.
    None when no snippet is running (it has ended and its trace is being made)."""
    if not _running:
        return None
    frame = sys._current_frames().get(thread_id)
    line: int | None = None
    frames: list[Any] = []
    # Only the innermost few: a runaway recursion can be millions of frames deep.
    while frame is not None and len(frames) < _STUCK_SCOPES:
        if frame.f_code.co_filename == SNIPPET_FILENAME:
            line = line or frame.f_lineno
            if frame.f_code.co_name != "<module>":
                frames.append(frame)
        frame = frame.f_back
    return line, _function_scopes(frames[::-1])


def _function_scopes(frames: list[Any]) -> list[dict[str, Any]]:
    """The locals of the snippet's running functions (innermost last), as names for the trace.

    A local bound to another object than the module-level name, or than the same name in
    another running function, is named "x (in g)" ("x (in g, call 2)" in a recursion, counted
    from the outermost call): two different tensors are then not both just "x". A local that
    is the same object as the global keeps the plain name.
    """
    local_maps = [(f.f_code.co_name, {k: v for k, v in f.f_locals.items() if k != "self"}) for f in frames]
    module = frames[0].f_globals if frames else {}
    # A recursive function runs in several frames: "x (in g, call 2)" tells their locals apart.
    calls = {name: sum(1 for n, _ in local_maps if n == name) for name, _ in local_maps}
    seen: dict[str, int] = {}
    scopes = []
    for i, (function, names) in enumerate(local_maps):
        seen[function] = seen.get(function, 0) + 1
        where = f"{function}, call {seen[function]}" if calls[function] > 1 else function
        scope = {}
        for name, value in names.items():
            clash = (name in module and module[name] is not value) or any(
                name in other and other[name] is not value for j, (_, other) in enumerate(local_maps) if j != i
            )
            scope[f"{name} (in {where})" if clash else name] = value
        scopes.append(scope)
    return scopes


_STUCK_SCOPES = 20


def describe_stuck(message: str, line: int | None, scopes: list[dict[str, Any]]) -> Any:
    """The finished trace (what `trace_json` / `trace_source` would return) of the run in
    progress, stopped by a timeout at `line`; None if no run is in progress.

    For a run that cannot be interrupted: one long C++ operation, or a snippet that
    ignores the timeout's signals. Call it in a forked copy of the process (see the sandbox
    worker): the thread running the snippet is not in the copy, so nothing changes the
    records while they are read, and the original can be killed on time.
    """
    if not _running:
        return None
    run = _running[-1]
    run.kept.__exit__(None, None, None)  # builtins and torch's namespaces as we knew them
    run.rec.on_event = None  # the live stream is the original process's
    failure = capture.SoftTimeout(message, line, scopes)
    return run.finish(_document_of(run, "timeout", failure))


def _note(rec: Recorder, finding: Finding, node: str | None = None, tensor: str | None = None) -> None:
    """A gradtrace note (category "gradtrace", not written to stderr) with its lesson."""
    rec.emit("warning", finding.line, text=finding.text, category="gradtrace", node=node, tensor=tensor,
             hint=explain.hint(finding))


def _describe_run(run: _Run, status: str, failure: BaseException | None) -> dict[str, Any]:
    """The trace document of a finished run: its error (if any) explained, its graph read."""
    rec, namespace, out, max_stdout_bytes = run.rec, run.namespace, run.out, run.max_stdout_bytes
    error = None
    scopes = [namespace]
    stderr = run.err.getvalue()
    if failure is not None:
        # A run frozen by `describe_stuck` has no traceback: its line comes with the exception,
        # and when it was frozen inside a backward pass, that pass is still open.
        frozen_at = failure.line if isinstance(failure, capture.SoftTimeout) else None
        running = rec.current_pass if frozen_at is not None else None
        error = errors.describe(rec, failure, _failing_pass(rec, failure) or running)
        if isinstance(failure, capture.SoftTimeout | capture.OutputLimit):
            error["kind"] = status
            lesson = explain.STOPPED[status]
            error["explanation"] = {"title": lesson.title, "what": lesson.what, "fix": lesson.fix}
            if frozen_at is not None:
                error["line"] = frozen_at
        else:
            stderr += errors.snippet_traceback(failure)
        rec.emit("error", error["line"], text=error["message"][:2000], node=error["node"], tensor=error["tensor"])
        scopes += _frame_locals(failure) + getattr(failure, "scopes", [])
    rec.active = True
    # Free unreachable graphs now, so "alive" does not depend on GC timing. The snippet's
    # finalizers run here, after its output was captured: what they print must not reach
    # the host's streams (the CLI's JSON on stdout, a notebook's cell).
    with _output_discarded():
        gc.collect()
    # Everything allocated from here on (the document, its JSON) lives until the trace is
    # returned: automatic collections would only rescan it. `_traced` re-enables GC.
    gc.disable()
    named = document.collect_names(scopes)
    for note, node, tensor in runchecks.notes(rec, named, document.grad_fn_of):  # read from the run's records
        _note(rec, note, node, tensor)
    reasons = [f"stdout was cut at {max_stdout_bytes} characters"] if out.overflowed else []
    truncation: dict[str, Any] = {"stdout_truncated": out.overflowed, "reasons": reasons}
    doc = document.build(
        rec,
        scopes=scopes,
        status=status,
        error=_public_error(error),
        stdout=out.getvalue(),
        stderr=stderr[:max_stdout_bytes],
        torch_version=TORCH_VERSION,
        source_lines=count_lines(run.source),
        truncation=truncation,
        named=named,
    )
    return doc


def _unreadable_doc(
    rec: Recorder,
    exc: BaseException,
    source: str,
    status: str,
    failure: BaseException | None,
    stdout: str,
    stderr: str,
) -> dict[str, Any]:
    """What can still be said when reading the results failed: the snippet replaced something
    the tracer relies on (a builtin, a torch method, `nn.Module.named_modules`, ...)."""
    reason = f"{type(exc).__name__}: {errors.message_of(exc)}"[:300]
    if failure is not None:
        exc_type, message = type(failure).__name__, errors.message_of(failure)[:2000]
    else:
        exc_type, message = "TracerError", f"gradtrace could not read the snippet's results ({reason})"
    err: dict[str, Any] = {
        "type": exc_type,
        "message": message,
        "line": failing.snippet_line(failure.__traceback__) if failure is not None else None,
        "kind": "tracer_broken",
        "node": None,
        "tensor": None,
        "explanation": {
            "title": "The snippet changed something gradtrace reads the graph with",
            "what": (
                f"After the snippet ran, reading its tensors and graph failed ({reason}). Snippets "
                "that replace builtins, PyTorch functions or attributes leave the tracer unable to "
                "describe the result; what the snippet printed is kept."
            ),
            "fix": "Leave builtins and PyTorch's own functions and attributes as they are, or "
            "restore them before the snippet ends.",
        },
    }
    # The head of the timeline is numbered 0..n-1 already (the tail needs the document build).
    events = [*rec.events_head, {"seq": len(rec.events_head), "kind": "error", "line": err["line"], "text": message}]
    partial = {
        "torch_version": TORCH_VERSION,
        "status": "error" if status == "ok" else status,
        "error": err,
        "events": events,
        "stdout": stdout,
        "stderr": stderr,
        "source_lines": len(source.splitlines()),
    }
    return Trace.model_validate(partial).to_dict()


def _unwritable_doc(doc: dict[str, Any], exc: Exception) -> dict[str, Any]:
    """The run's document could not be written (something in it has no JSON form: a gap in
    gradtrace, met by an unusual snippet). Keep the outcome and the output; say why the graph
    is missing."""
    reason = f"{type(exc).__name__}: {errors.message_of(exc)}"[:300]
    message = f"gradtrace could not write this run's trace ({reason})"
    partial = {
        "torch_version": TORCH_VERSION,
        "status": "error" if doc.get("status") == "ok" else doc.get("status", "error"),
        "error": {
            "type": "TracerError",
            "message": message,
            "line": None,
            "kind": "tracer_broken",
            "explanation": {
                "title": "gradtrace could not write this trace",
                "what": f"The snippet ran, but its graph held something the trace format has no form for ({reason}).",
                "fix": "Please report the snippet: this is a gap in gradtrace. What it printed is kept.",
            },
        },
        "events": [{"seq": 0, "kind": "error", "line": None, "text": message}],
        "stdout": doc.get("stdout", ""),
        "stderr": doc.get("stderr", ""),
        "source_lines": doc.get("source_lines", 0),
    }
    return Trace.model_validate(partial).to_dict()


def _failing_pass(rec: Recorder, exc: BaseException) -> dict[str, Any] | None:
    for p in reversed(rec.passes):
        cached = rec.errors.get(id(exc))
        if p["error"] is not None and cached is not None and p["error"] is cached[1]:
            return p
    return None


def _public_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if error is None else {k: v for k, v in error.items() if not k.startswith("_")}


def _frame_locals(exc: BaseException) -> list[dict[str, Any]]:
    """Locals of the snippet's functions that were running when it failed (innermost last;
    only the innermost few: a runaway recursion is millions of frames deep)."""
    frames: collections.deque[Any] = collections.deque(maxlen=_STUCK_SCOPES)
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_filename == SNIPPET_FILENAME and frame.f_code.co_name != "<module>":
            frames.append(frame)
        tb = tb.tb_next
    return _function_scopes(list(frames))
