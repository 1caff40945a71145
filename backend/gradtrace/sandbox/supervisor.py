"""The parent side of the sandbox: slots, queue, wall clock, kills, and the untrusted result.

Lives in the web server process and never imports torch or runs user code. It starts the
zygote, keeps one pre-forked isolated worker per slot, hands each run to a worker through a
pipe, reads the worker's frames with size caps, validates them against the trace schema and
turns every way a run can end (result, timeout, signal, os._exit, garbage) into a
status-tagged trace document.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import json
import logging
import os
import re
import resource
import select
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gradtrace.core.model import (
    CPU_STOP_MESSAGE,
    WALL_STOP_MESSAGE,
    Event,
    Explanation,
    Trace,
    TraceError,
    count_lines,
)
from gradtrace.sandbox import worker as worker_codes
from gradtrace.sandbox.cgroups import SlotCgroups
from gradtrace.sandbox.isolate import LAYER_ORDER, minimal_paths
from gradtrace.sandbox.limits import EffectiveLimits, RunLimits, SandboxLimits
from gradtrace.sandbox.protocol import (
    FAULT_BYTES,
    FAULT_HEAD,
    FRAME,
    FRAME_EVENT,
    FRAME_LAYERS,
    FRAME_RESULT,
    LEN,
    encode_message,
)

log = logging.getLogger("gradtrace.sandbox")

F_SETPIPE_SZ = 1031
PIPE_BYTES = 1 << 20
STACK_BYTES = 1 << 30  # freeing huge graphs recurses deeply in libc10 (see docs/sandbox.md)
SPAWN_TIMEOUT = 30.0
UID_BLOCK = 64  # uids per supervisor (concurrency is at most 64)
UID_BLOCKS = 64  # supervisors that can share one host
# Memory cgroup cap = the run's budget + scratch tmpfs + this (the worker's copies of zygote
# pages it touches are charged to it too).
CGROUP_SLACK = 256 << 20
RESULT_EXIT_GRACE = 0.5  # seconds a worker gets to exit on its own after sending its result
WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "PATH": "/usr/bin:/bin",
}
# The zygote's whole environment: nothing from the server (no secrets, no tokens).
ZYGOTE_ENV = {**WORKER_ENV, "NUMEXPR_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


_gc_pauses = 0  # validations under way with collection paused
_gc_was_enabled = True  # the state before the first of them, given back after the last
_gc_lock = threading.Lock()


@contextlib.contextmanager
def _collection_paused() -> Any:
    """Cyclic GC off while a worker's document is validated and copied: that makes tens of
    thousands of objects that all live on, and each young collection they trigger scans them
    again (a 4.5 MB document: 510 ms with collection, 196 ms without, in a process holding
    200k objects). Counted, so overlapping validations in two threads restore it once."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


class Overloaded(Exception):
    """Every slot is busy and the queue is full: answer 429 with Retry-After."""

    def __init__(self, retry_after: float, message: str = "the sandbox queue is full") -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SandboxUnavailable(Exception):
    """An isolation layer cannot be had (and allow_weaker is False), or the zygote won't start."""


class _WorkerGone(Exception):
    """A worker could not be spawned or died before taking its job."""


@dataclass
class _Worker:
    slot: int
    pid: int
    pidfd: int
    job_w: int
    reader: asyncio.StreamReader
    transport: asyncio.BaseTransport
    exited: asyncio.Future[dict[str, Any]]
    layers: dict[str, str] = field(default_factory=dict)

    def kill(self) -> None:
        if self.pidfd < 0:  # closed: the number may belong to someone else by now
            return
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def alive(self) -> bool:
        """False once the process has exited (a pidfd polls readable then)."""
        if self.pidfd < 0:
            return False
        try:
            readable, _, _ = select.select([self.pidfd], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close(self) -> None:
        for fd in (self.job_w, self.pidfd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.job_w = self.pidfd = -1
        self.transport.close()


@dataclass
class _Outcome:
    """What the parent observed about one run, before it becomes a trace document."""

    result: bytes | None = None
    timed_out: bool = False
    oversize: str | None = None
    malformed: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    exit: dict[str, Any] | None = None
    oom_killed: bool = False
    fault: bytes = b""  # the fault handler's report of a native crash (untrusted text)


class Supervisor:
    """Runs snippets in isolated workers forked from a warm zygote. See docs/sandbox.md."""

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self._proc: asyncio.subprocess.Process | None = None
        self._ctrl: socket.socket | None = None
        self._notify_task: asyncio.Task[None] | None = None
        self._zygote_ready = asyncio.Event()
        self._zygote_lock = asyncio.Lock()
        self._hello: dict[str, Any] = {}
        self._spawn_waiters: dict[int, asyncio.Future[int]] = {}  # by spawn token
        self._spawn_seq = 0
        self._exit_waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._idle: dict[int, asyncio.Task[_Worker]] = {}
        self._live: dict[int, _Worker] = {}
        self._free: asyncio.Queue[int] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running = 0
        self._queued = 0
        self._avg_run = 1.0
        self._layers: dict[str, str] = {}
        self._started = False
        self._closing = False
        self._uid_lease: int | None = None
        self._cgroups: dict[int, SlotCgroups] = {}
        self.base_uid = self.limits.base_uid
        self._runtime_dir = ""
        self.torch_version = "unknown"

    # --- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the zygote, probe every layer with a real worker, log what is active."""
        if os.geteuid() != 0 and not self.limits.allow_weaker:
            raise SandboxUnavailable(
                "the sandbox needs root (namespaces, per-slot uids); set allow_weaker to run without them"
            )
        self._closing = False
        self._free = asyncio.Queue()
        self._runtime_dir = _runtime_dir(self.limits.runtime_dir)
        self._lease_uids()
        self._sweep_all_uids()
        self._make_cgroups()
        try:
            await self._start_zygote()
            probe = await self._spawn(0)
        except (_WorkerGone, SandboxUnavailable) as exc:
            await self.close()
            if isinstance(exc, SandboxUnavailable):
                raise
            raise SandboxUnavailable(f"sandbox worker failed to start: {exc}") from exc
        self._layers = {name: probe.layers.get(name, "off: not reported") for name in LAYER_ORDER}
        off = {k: v for k, v in self._layers.items() if not v.startswith("on")}
        if off and not self.limits.allow_weaker:
            probe.kill()
            probe.close()
            await self.close()
            raise SandboxUnavailable(f"isolation layers unavailable: {off}")
        if off:
            log.warning("sandbox running in WEAKER mode; layers off: %s", off)
        else:
            log.info("sandbox layers active: %s", ", ".join(self._layers))
        loop = asyncio.get_running_loop()
        done: asyncio.Future[_Worker] = loop.create_future()
        done.set_result(probe)
        self._idle[0] = asyncio.ensure_future(done)
        for slot in range(self.limits.concurrency):
            if slot and self.limits.prefork:
                self._idle[slot] = self._bg(self._spawn(slot))
            self._free.put_nowait(slot)
        self._started = True

    async def close(self) -> None:
        """Kill every worker and the zygote; return once they are gone (and reaped)."""
        self._closing = True
        for task in list(self._idle.values()):
            task.cancel()
        self._idle.clear()
        await self._drain_tasks()
        # Workers first, while the zygote is still there to reap them (an orphan's zombie
        # would wait for the host's init).
        workers = list(self._live.values())
        for w in workers:
            w.kill()
        for w in workers:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(w.exited), self.limits.kill_grace)
        if self._ctrl is not None:  # EOF: the zygote kills what is left and exits
            with contextlib.suppress(OSError):
                self._ctrl.close()
            self._ctrl = None
        if self._proc is not None and self._proc.returncode is None:
            try:
                await asyncio.wait_for(self._proc.wait(), self.limits.kill_grace)
            except BaseException:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(self._proc.wait(), 10)
        if self._notify_task is not None:
            self._notify_task.cancel()
            with contextlib.suppress(BaseException):
                await self._notify_task
        await self._drain_tasks()  # runs that ended meanwhile scheduled their recycling
        for w in list(self._live.values()):
            w.close()
        self._live.clear()
        self._sweep_all_uids()
        for cg in self._cgroups.values():
            cg.remove()
        self._cgroups.clear()
        self._zygote_ready.clear()
        self._started = False
        if self._uid_lease is not None:
            os.close(self._uid_lease)
            self._uid_lease = None

    async def _drain_tasks(self) -> None:
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.difference_update(tasks)

    def health(self) -> dict[str, Any]:
        alive = self._proc is not None and self._proc.returncode is None and self._zygote_ready.is_set()
        off = any(not v.startswith("on") for v in self._layers.values())
        return {
            "zygote_alive": alive,
            "running": self._running,
            "queued": self._queued,
            "layers": dict(self._layers),
            "mode": "weaker" if off else "full",
            "torch_version": self.torch_version,
            "concurrency": self.limits.concurrency,
            "queue_size": self.limits.queue_size,
            # Cores a run may use together, None where the host has no cpu cgroup for it.
            "cpu_quota_cores": min((cg.cpu_cores or 0.0 for cg in self._cgroups.values()), default=0.0) or None,
        }

    async def settle(self) -> None:
        """Wait until finished runs are cleaned up and every idle slot is pre-forked again
        (for tests and benchmarks: `run()` returns before its slot is recycled)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def worker_pids(self) -> set[int]:
        """Host pids of the workers this supervisor currently owns (idle or running)."""
        return set(self._live)

    # --- running a snippet ----------------------------------------------------------------

    async def run(
        self,
        source: str,
        *,
        limits: RunLimits | None = None,
        on_event: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """Trace `source` in a fresh isolated worker; always a validated, status-tagged document.

        Raises only Overloaded (every slot busy and the queue full).
        """
        eff = self.limits.effective(limits)
        lines = count_lines(source)
        try:
            size = len(source.encode("utf-8"))
        except UnicodeEncodeError:
            return self._failure("rejected", "source_invalid", "The source is not valid UTF-8 text.", lines)
        if size > self.limits.source_bytes:
            return self._failure(
                "rejected",
                "source_too_large",
                f"The source is {size} bytes; the limit is {self.limits.source_bytes} bytes.",
                lines,
            )
        if not self._started:
            return self._failure("error", "sandbox_unavailable", "The sandbox is not running.", lines)
        # Capacity is `concurrency` runs holding a slot plus `queue_size` waiting for one (a
        # slot still being recycled counts as busy: its next worker is moments away).
        if self._running + self._queued >= self.limits.concurrency + self.limits.queue_size:
            waiting = self._queued + self._running
            raise Overloaded(
                retry_after=max(1.0, min(self.limits.wall_seconds, self._avg_run * waiting / self.limits.concurrency))
            )
        self._queued += 1
        try:
            slot = await self._free.get()
        finally:
            self._queued -= 1
        self._running += 1
        started = time.monotonic()
        handed_back = False
        try:
            for attempt in range(2):
                worker = await self._take_worker(slot)
                if worker is None:
                    return self._failure("error", "sandbox_unavailable", "No sandbox worker could be started.", lines)
                try:
                    outcome = await self._execute(worker, source, eff, on_event)
                except _WorkerGone:
                    # The idle worker died before it took the job (not the snippet's doing):
                    # clean it up and use a fresh one.
                    log.warning("slot %d: idle worker %d was gone; retrying (%d)", slot, worker.pid, attempt)
                    await self._recycle(slot, worker, release=False)
                    continue
                except BaseException:
                    # Cancelled (client gone) or a bug: the tree still dies, the slot comes back.
                    self._bg(self._recycle(slot, worker))
                    handed_back = True
                    raise
                self._bg(self._recycle(slot, worker))
                handed_back = True
                try:
                    if outcome.result is not None and len(outcome.result) > 1 << 16:
                        # Validating megabytes takes a while: keep the event loop answering.
                        return await asyncio.to_thread(self._document, outcome, eff, lines)
                    return self._document(outcome, eff, lines)
                except Exception:  # a bug here must still give the caller a tagged document
                    log.exception("could not build the result document")
                    return self._failure("error", "sandbox_error", "Internal sandbox error.", lines)
            return self._failure("error", "sandbox_unavailable", "No sandbox worker could be started.", lines)
        finally:
            self._running -= 1
            self._avg_run = 0.8 * self._avg_run + 0.2 * (time.monotonic() - started)
            if not handed_back:
                self._bg(self._recycle(slot, None))

    async def _take_worker(self, slot: int) -> _Worker | None:
        task = self._idle.pop(slot, None)
        for attempt in range(2):
            try:
                if task is None:
                    task = self._bg(self._spawn(slot))
                try:
                    worker = await asyncio.shield(task)
                except asyncio.CancelledError:
                    # Our caller gave up; the worker being forked for it must not linger.
                    task.add_done_callback(self._discard_spawned)
                    raise
                if worker.exited.done() or not worker.alive():
                    worker.kill()
                    worker.close()
                    self._live.pop(worker.pid, None)
                    raise _WorkerGone("idle worker died")
                return worker
            except (_WorkerGone, SandboxUnavailable, OSError) as exc:
                # OSError: forking failed for want of resources (EMFILE from os.pipe2 while the
                # server's descriptors ran out, EAGAIN): try again, then answer "no worker"
                # (a tagged result), never a 500.
                log.warning("slot %d: worker unavailable (%s), attempt %d", slot, exc, attempt + 1)
                task = None
        return None

    async def _execute(
        self,
        w: _Worker,
        source: str,
        eff: EffectiveLimits,
        on_event: Callable[[dict[str, Any]], Awaitable[None]] | None,
    ) -> _Outcome:
        loop = asyncio.get_running_loop()
        out = _Outcome()
        deadline = loop.time() + eff.wall_seconds
        job = {
            "source": source,
            "limits": {**eff.model_dump(), "soft_timeout": eff.soft_timeout, "soft_cpu_timeout": eff.soft_cpu_timeout},
            "stream": on_event is not None,
            "max_events": self.limits.max_events_streamed,
            "max_event_bytes": 2 * eff.trace_bytes,
            "event_bytes": self.limits.event_bytes,
        }
        cg = self._cgroups.get(w.slot)
        oom_before = 0
        if cg is not None:
            with contextlib.suppress(OSError):  # fails only if already above: keep the maximum
                cg.set_memory(self._memory_cap(eff.memory_bytes))
            oom_before = cg.oom_kills()
        try:
            await self._send_job(w, encode_message(job), deadline)
        except OSError as exc:
            raise _WorkerGone(str(exc)) from exc
        finally:
            with contextlib.suppress(OSError):
                os.close(w.job_w)
            w.job_w = -1
        try:
            async with asyncio.timeout_at(deadline):
                await self._read_frames(w, eff, on_event, out)
                if out.result is None and out.oversize is None and out.malformed is None:
                    # EOF: the worker closed its end; wait for it to actually exit (it may
                    # still be running after closing the fd: that is on its wall clock).
                    out.exit = await asyncio.shield(w.exited)
        except TimeoutError:
            out.timed_out = out.result is None and out.oversize is None and out.malformed is None
        if out.result is not None and not out.timed_out:
            # A worker that delivered exits by itself right away; killing it mid-exit only
            # slows the namespace teardown down.
            with contextlib.suppress(TimeoutError):
                out.exit = await asyncio.wait_for(asyncio.shield(w.exited), RESULT_EXIT_GRACE)
        w.kill()
        try:
            out.exit = await asyncio.wait_for(asyncio.shield(w.exited), self.limits.kill_grace)
        except TimeoutError:
            log.error("slot %d: worker %d did not confirm its exit", w.slot, w.pid)
        if cg is not None:
            out.oom_killed = cg.oom_kills() > oom_before
        return out

    async def _send_job(self, w: _Worker, data: bytes, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            try:
                n = os.write(w.job_w, view)
                view = view[n:]
            except BlockingIOError:
                if loop.time() > deadline:
                    raise OSError("job not taken") from None
                await asyncio.sleep(0.005)

    async def _read_frames(
        self,
        w: _Worker,
        eff: EffectiveLimits,
        on_event: Callable[[dict[str, Any]], Awaitable[None]] | None,
        out: _Outcome,
    ) -> None:
        forwarded = 0
        event_frames = 0
        event_bytes = 0
        # Bounds on everything the worker may send, forged or not: the web server must not
        # spend a whole wall-clock budget parsing a flood.
        max_event_frames = self.limits.max_events_streamed + 1
        max_event_bytes = 2 * eff.trace_bytes  # the worker keeps to this budget (see worker.py)
        while True:
            try:
                head = await w.reader.readexactly(FRAME.size)
            except asyncio.IncompleteReadError:
                return
            kind, size = FRAME.unpack(head)
            if kind == FRAME_EVENT:
                event_frames += 1
                event_bytes += size
                if size > self.limits.event_bytes:
                    out.oversize = f"a timeline event of {size} bytes (limit {self.limits.event_bytes})"
                    return
                if event_frames > max_event_frames or event_bytes > max_event_bytes:
                    out.oversize = f"more than {max_event_frames} timeline events or {max_event_bytes} bytes of them"
                    return
                payload = await self._read_body(w, size)
                if payload is None:
                    return
                if on_event is None or forwarded >= self.limits.max_events_streamed:
                    continue
                try:
                    event = Event.model_validate_json(payload).model_dump(mode="json")
                except ValidationError:
                    continue  # an event the schema rejects is dropped, not forwarded
                forwarded += 1
                if len(out.events) < self.limits.max_events_streamed:
                    out.events.append(event)
                try:
                    await on_event(event)
                except Exception:
                    # The consumer (e.g. a disconnected SSE client) failing must not fail
                    # the run: stop streaming, keep tracing.
                    log.warning("on_event callback failed; streaming stopped", exc_info=True)
                    on_event = None
            elif kind == FRAME_RESULT:
                if size > eff.trace_bytes + 4096:
                    out.oversize = f"a trace of {size} bytes (limit {eff.trace_bytes})"
                    return
                out.result = await self._read_body(w, size)
                return
            elif head == FAULT_HEAD:
                # A native crash: the worker is dying; keep (a bounded start of) its report.
                out.fault = head
                while chunk := await w.reader.read(FAULT_BYTES - len(out.fault)):
                    out.fault += chunk
                return
            else:
                out.malformed = f"unknown frame type {kind!r}"
                return

    async def _read_body(self, w: _Worker, size: int) -> bytes | None:
        try:
            return await w.reader.readexactly(size)
        except asyncio.IncompleteReadError:
            return None

    # --- outcome -> document --------------------------------------------------------------

    def _failure(
        self,
        status: str,
        kind: str,
        message: str,
        lines: int,
        events: list[dict[str, Any]] | None = None,
        line: int | None = None,
    ) -> dict[str, Any]:
        lesson = _LESSONS.get(kind)
        trace = Trace(
            torch_version=self.torch_version,
            status=status,  # type: ignore[arg-type]
            error=TraceError(
                type="SandboxError",
                message=message,
                line=line,
                kind=kind,
                explanation=Explanation(title=lesson[0], what=lesson[1], fix=lesson[2]) if lesson else None,
            ),
            events=[Event.model_validate(e) for e in events or []],
            source_lines=lines,
        )
        return trace.to_dict()

    def _document(self, out: _Outcome, eff: EffectiveLimits, lines: int) -> dict[str, Any]:
        if out.result is not None:
            try:
                with _collection_paused():
                    doc = Trace.model_validate_json(out.result).to_dict()
                _name_the_limit(doc, eff)
                claim = _supervisor_only_claim(doc)
                if claim is not None:
                    # E.g. "sandbox_unavailable" made the API answer 503 on demand, "rejected"
                    # (which never comes over HTTP) was stored and served as the snippet's trace.
                    return self._failure(
                        "error", "malformed_output",
                        f"The worker's result claims an outcome only the sandbox supervisor can report ({claim}); "
                        "the snippet may have tampered with the result channel.",
                        lines, out.events,
                    )
                return doc
            except ValidationError as exc:
                return self._failure(
                    "error",
                    "malformed_output",
                    "The worker returned output that is not a valid trace document "
                    f"({exc.error_count()} schema errors); the snippet may have tampered with the result channel.",
                    lines,
                    out.events,
                )
        if out.oversize is not None:
            return self._failure(
                "output_limit", "output_limit", f"The worker sent {out.oversize}; the run was stopped.", lines, out.events
            )
        if out.malformed is not None:
            return self._failure(
                "error",
                "malformed_output",
                f"The worker's output was corrupted ({out.malformed}); the snippet may have written to the result channel.",
                lines,
                out.events,
            )
        if out.timed_out:
            return self._failure(
                "timeout",
                "timeout",
                f"The snippet ran longer than the {eff.wall_seconds:g} s wall-clock limit; it and every process it started were killed.",
                lines,
                out.events,
            )
        if out.oom_killed and out.exit is not None and os.WIFSIGNALED(int(out.exit.get("status") or 0)):
            return self._failure(
                "memory_limit",
                "memory_limit",
                f"The run used more than its {eff.memory_bytes >> 20} MiB memory budget (all its processes together) and was killed.",
                lines,
                out.events,
            )
        line = _crash_line(out.fault, lines)
        status, kind, message = self._death(out.exit, eff, line)
        return self._failure(status, kind, message, lines, out.events, line if kind == "crashed" else None)

    def _death(self, exit: dict[str, Any] | None, eff: EffectiveLimits, line: int | None) -> tuple[str, str, str]:
        """(status, kind, message) for a worker that ended without a result (`line`: where
        the fault handler's report says a crash happened, if it does)."""
        if exit is None or exit.get("status") is None:
            return ("error", "worker_lost", "The sandbox worker was lost (the sandbox restarted); please retry.")
        status = int(exit["status"])
        cpu = float(exit.get("cpu") or 0.0)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= eff.cpu_seconds - 0.5):
                return ("timeout", "cpu_limit", f"The snippet used more than {eff.cpu_seconds} s of CPU time and was killed.")
            if sig == signal.SIGKILL:
                return ("memory_limit", "killed", "The worker was killed by the system (most likely out of memory).")
            if sig == signal.SIGXFSZ:
                return ("output_limit", "file_size", "The snippet wrote a file larger than the scratch limit.")
            where = f"at line {line}" if line is not None else "before producing a trace"
            return (
                "error",
                "crashed",
                f"The worker crashed with {name} {where} (deep recursion, ctypes or a native-code bug can cause this).",
            )
        code = os.WEXITSTATUS(status)
        if code == worker_codes.EXIT_TRACER_CRASHED:
            return (
                "error",
                "tracer_crashed",
                "The worker could not deliver a trace (the snippet may have broken the tracer or closed its result channel).",
            )
        # (EXIT_LAYER_FAILED is not special here: a worker reports its isolation before it is
        # given a job, so once the snippet ran, exit status 70 is the snippet's os._exit(70),
        # not a sandbox failure the API would answer with 503.)
        return (
            "error",
            "exited",
            f"The snippet ended the worker process (exit status {code}, e.g. os._exit) before a trace was produced.",
        )

    # --- workers --------------------------------------------------------------------------

    async def _spawn(self, slot: int) -> _Worker:
        """Fork an isolated worker for `slot` through the zygote and read its layer report."""
        await self._ensure_zygote()
        loop = asyncio.get_running_loop()
        job_r, job_w = os.pipe2(os.O_CLOEXEC)
        result_r, result_w = os.pipe2(os.O_CLOEXEC)
        for fd in (job_w, result_w):
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)
        os.set_blocking(job_w, False)
        spawned: asyncio.Future[int] = loop.create_future()
        self._spawn_seq += 1
        token = self._spawn_seq  # several spawns for one slot can overlap (a cancelled one)
        self._spawn_waiters[token] = spawned
        transport: asyncio.BaseTransport | None = None
        pidfd = -1
        try:
            msg = {"op": "spawn", "slot": slot, "token": token, "cfg": self._worker_config(slot)}
            assert self._ctrl is not None
            try:
                socket.send_fds(self._ctrl, [json.dumps(msg).encode()], [job_r, result_w])
            except OSError as exc:
                raise _WorkerGone(f"zygote unreachable: {exc}") from exc
            finally:
                os.close(job_r)
                os.close(result_w)
            pid = await asyncio.wait_for(spawned, SPAWN_TIMEOUT)
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                pidfd = -1  # already gone: its layer report (read below) says why
            exited = self._exit_future(pid)
            reader = asyncio.StreamReader(limit=1 << 16)
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(result_r, "rb", buffering=0)
            )
            result_r = -1
            head = await asyncio.wait_for(reader.readexactly(FRAME.size), SPAWN_TIMEOUT)
            kind, size = FRAME.unpack(head)
            if kind != FRAME_LAYERS or size > 1 << 16:
                raise _WorkerGone("bad layer report")
            report = json.loads(await asyncio.wait_for(reader.readexactly(size), SPAWN_TIMEOUT))
            if "error" in report:
                raise _WorkerGone(f"isolation failed: {report['error']}")
            if pidfd < 0:
                raise _WorkerGone("the worker exited during set-up")
            worker = _Worker(slot, pid, pidfd, job_w, reader, transport, exited)
            worker.layers = {str(k): str(v) for k, v in report.items()}
            self._live[pid] = worker
            return worker
        except BaseException as exc:
            # Nothing of a worker that failed to start may linger: kill it, close its ends.
            if pidfd >= 0:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                os.close(pidfd)
            with contextlib.suppress(OSError):
                os.close(job_w)
            if transport is not None:
                transport.close()
            if isinstance(exc, (TimeoutError, asyncio.IncompleteReadError, ValueError, OSError)):
                raise _WorkerGone(f"{type(exc).__name__}: {exc}") from exc
            raise
        finally:
            self._spawn_waiters.pop(token, None)
            if result_r >= 0:
                os.close(result_r)

    def _discard_spawned(self, task: asyncio.Task[_Worker]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        w = task.result()
        w.kill()
        w.close()
        self._live.pop(w.pid, None)

    def _worker_config(self, slot: int) -> dict[str, Any]:
        lim = self.limits
        ro_paths = minimal_paths([*self._hello.get("ro_paths", []), *lim.extra_ro_paths])
        return {
            "uid": self.base_uid + slot,
            "allow_weaker": lim.allow_weaker,
            "env": WORKER_ENV,
            "root_dir": os.path.join(self._runtime_dir, "root"),
            "ro_paths": ro_paths,
            "symlinks": self._hello.get("symlinks", {}),
            "scratch_bytes": lim.scratch_bytes,
            "scratch_inodes": lim.scratch_inodes,
            "memory_bytes": lim.memory_bytes,
            "cpu_seconds": lim.cpu_seconds,
            "file_bytes": lim.file_bytes,
            "open_files": lim.open_files,
            "tasks": lim.tasks,
            "max_job_bytes": PIPE_BYTES * 8,
            "cgroups": self._cgroups[slot].paths() if slot in self._cgroups else [],
        }

    def _exit_future(self, pid: int) -> asyncio.Future[dict[str, Any]]:
        fut = self._exit_waiters.get(pid)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._exit_waiters[pid] = fut
        return fut

    async def _recycle(self, slot: int, w: _Worker | None, *, release: bool = True) -> None:
        """Make sure the old worker's tree is gone, pre-fork the next one, free the slot."""
        try:
            if w is not None:
                w.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(w.exited), self.limits.kill_grace)
                w.close()
                self._live.pop(w.pid, None)
                self._exit_waiters.pop(w.pid, None)
            # Belt and braces: the pid namespace already took every descendant with it.
            survivors = await asyncio.to_thread(self._sweep_uid, self.base_uid + slot)
            if survivors:
                log.error("slot %d: killed %d survivors by uid", slot, survivors)
            if release and self.limits.prefork and not self._closing:
                self._idle[slot] = self._bg(self._spawn(slot))
        finally:
            if release and not self._closing:
                self._free.put_nowait(slot)

    def _sweep_uid(self, uid: int) -> int:
        """SIGKILL every process running as `uid` until none is left; returns how many."""
        killed = 0
        for _ in range(100):
            found = 0
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                try:
                    with open(f"/proc/{name}/status", "rb") as f:
                        zombie = False
                        for line in f:
                            if line.startswith(b"State:"):
                                zombie = b"Z" in line.split()[1]
                            elif line.startswith(b"Uid:"):
                                if int(line.split()[1]) == uid and not zombie:
                                    found += 1
                                    os.kill(int(name), signal.SIGKILL)
                                break
                except (OSError, ValueError):
                    continue
            if not found:
                return killed
            killed += found
            time.sleep(0.01)
        return killed

    def _sweep_all_uids(self) -> None:
        if os.geteuid() != 0 or self._uid_lease is None:
            return
        for slot in range(self.limits.concurrency):
            self._sweep_uid(self.base_uid + slot)

    def _memory_cap(self, memory_bytes: int) -> int:
        return memory_bytes + self.limits.scratch_bytes + CGROUP_SLACK

    def _make_cgroups(self) -> None:
        """One memory + pids (+ cpu) cgroup per slot (v1); missing memory or pids turn the worker's
        layer off, a missing cpu controller only the CPU quota (health says `cpu_quota_cores`)."""
        if os.geteuid() != 0 or not SlotCgroups.available():
            return
        for slot in range(self.limits.concurrency):
            cg = SlotCgroups(f"{self.base_uid}-{slot}")
            try:
                cg.create(
                    memory_bytes=self._memory_cap(self.limits.memory_bytes),
                    tasks=self.limits.tasks,
                    cpu_cores=self.limits.cpu_cores,
                )
            except OSError as exc:
                log.warning("cgroup for slot %d unavailable: %s", slot, exc)
                continue
            self._cgroups[slot] = cg

    def _lease_uids(self) -> None:
        """Claim a block of UID_BLOCK uids for this supervisor's slots (flock on a lock file).

        Several supervisors on one host (tests, a dev server, CI) must never share slot uids:
        each one kills every process of its uids when a run ends.
        """
        if self._uid_lease is not None or os.geteuid() != 0:
            return
        taken = _host_ids()
        for block in range(UID_BLOCKS):
            base = self.limits.base_uid + block * UID_BLOCK
            if taken & set(range(base, base + UID_BLOCK)):
                continue  # never sweep (kill) a real account's processes
            fd = os.open(f"{self._runtime_dir}/locks/uids-{base}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._uid_lease = fd
            self.base_uid = base
            return
        raise SandboxUnavailable(f"all {UID_BLOCKS} uid blocks from {self.limits.base_uid} are in use")

    def _bg(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- zygote ---------------------------------------------------------------------------

    async def _restart_zygote(self) -> None:
        try:
            await self._ensure_zygote()
        except (SandboxUnavailable, _WorkerGone) as exc:
            log.error("zygote restart failed (the next run retries): %s", exc)

    async def _ensure_zygote(self) -> None:
        if self._zygote_ready.is_set():
            return
        if self._closing:
            raise _WorkerGone("supervisor is closing")
        await self._start_zygote()

    async def _start_zygote(self) -> None:
        async with self._zygote_lock:
            if self._zygote_ready.is_set():
                return
            if self._ctrl is not None:  # the previous zygote's channel
                with contextlib.suppress(OSError):
                    self._ctrl.close()
                self._ctrl = None
            parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            notify_r, notify_w = os.pipe2(os.O_CLOEXEC)
            import gradtrace

            code_root = os.path.dirname(os.path.dirname(os.path.abspath(gradtrace.__file__)))
            bootstrap = (
                f"import sys; sys.path.insert(0, {code_root!r}); "
                "from gradtrace.sandbox.zygote import main; main(sys.argv[1:])"
            )
            cmd = [sys.executable, "-I", "-c", bootstrap, "--ctrl", str(child.fileno()), "--notify", str(notify_w)]
            cmd += ["--tracer", self.limits.tracer]
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    *cmd,
                    env=ZYGOTE_ENV,
                    cwd="/",
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    pass_fds=(child.fileno(), notify_w),
                    preexec_fn=_raise_stack_limit,
                )
            finally:
                child.close()
                os.close(notify_w)
            parent.setblocking(False)
            self._ctrl = parent
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader(limit=1 << 20)
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(notify_r, "rb", 0))
            try:
                hello = await asyncio.wait_for(_read_message(reader), self.limits.start_timeout)
            except (TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
                raise SandboxUnavailable(f"the zygote did not start: {exc!r}") from exc
            if hello.get("op") != "hello":
                raise SandboxUnavailable(f"unexpected zygote greeting {hello!r}")
            if hello.get("warmup_error"):
                log.warning("zygote warm-up failed: %s", hello["warmup_error"])
            self._hello = hello
            self.torch_version = str(hello.get("torch_version", "unknown"))
            self._notify_task = asyncio.ensure_future(self._notifications(reader, self._proc))
            self._zygote_ready.set()
            log.info("zygote %d up (torch %s)", hello.get("pid"), self.torch_version)

    async def _notifications(self, reader: asyncio.StreamReader, proc: asyncio.subprocess.Process) -> None:
        try:
            while True:
                msg = await _read_message(reader)
                op = msg.get("op")
                if op == "spawned":
                    fut = self._spawn_waiters.get(int(msg["token"]))
                    if fut is not None and not fut.done():
                        fut.set_result(int(msg["pid"]))
                elif op == "spawn_failed":
                    fut = self._spawn_waiters.get(int(msg["token"]))
                    if fut is not None and not fut.done():
                        fut.set_exception(_WorkerGone(str(msg.get("error"))))
                elif op == "exited":
                    exit_fut = self._exit_future(int(msg["pid"]))
                    if not exit_fut.done():
                        exit_fut.set_result(msg)
                elif op == "error":
                    log.error("zygote: %s", msg.get("error"))
        except (asyncio.IncompleteReadError, ValueError, OSError):
            pass
        # The zygote is gone: its workers are orphans now. Kill them, fail the waiters.
        self._zygote_ready.clear()
        for w in list(self._live.values()):
            w.kill()
        for fut in self._spawn_waiters.values():
            if not fut.done():
                fut.set_exception(_WorkerGone("zygote died"))
        for exit_fut in self._exit_waiters.values():
            if not exit_fut.done():
                exit_fut.set_result({"op": "exited", "status": None})
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        if not self._closing:
            log.error("zygote died (exit %s); restarting it", proc.returncode)
            self._bg(self._restart_zygote())
        for slot, task in list(self._idle.items()):
            self._idle.pop(slot, None)
            if task.done() and not task.cancelled() and task.exception() is None:
                idle = task.result()
                idle.close()
                self._live.pop(idle.pid, None)
            else:
                task.cancel()


async def _read_message(reader: asyncio.StreamReader) -> dict[str, Any]:
    (size,) = LEN.unpack(await reader.readexactly(LEN.size))
    if size > 1 << 20:
        raise ValueError("oversized zygote message")
    obj = json.loads(await reader.readexactly(size))
    if not isinstance(obj, dict):
        raise ValueError("zygote message is not an object")
    return obj


def _runtime_dir(configured: str | None) -> str:
    """A directory only root can write (not a symlink), with `root/` and `locks/` inside."""
    candidates = [configured] if configured else ["/run/gradtrace-sandbox", os.path.join(tempfile.gettempdir(), "gradtrace-sandbox")]
    problems = []
    for path in candidates:
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
                problems.append(f"{path}: not a private directory of this user")
                continue
            for sub in ("root", "locks"):
                os.makedirs(os.path.join(path, sub), mode=0o700, exist_ok=True)
            return path
        except OSError as exc:
            problems.append(f"{path}: {exc}")
    raise SandboxUnavailable(f"no usable runtime directory ({'; '.join(problems)})")


def _host_ids() -> set[int]:
    """uids and gids of the host's accounts, plus nobody/nogroup and (uid_t)-1."""
    ids = {65534, 65535}
    for path in ("/etc/passwd", "/etc/group"):
        with contextlib.suppress(OSError), open(path) as f:
            for line in f:
                parts = line.split(":")
                if len(parts) > 2 and parts[2].isdigit():
                    ids.add(int(parts[2]))
    return ids


def _raise_stack_limit() -> None:
    """preexec_fn of the zygote: a ~1 GiB main-thread stack (only setrlimit: fork-safe)."""
    _, hard = resource.getrlimit(resource.RLIMIT_STACK)
    soft = STACK_BYTES if hard == resource.RLIM_INFINITY else min(STACK_BYTES, hard)
    resource.setrlimit(resource.RLIMIT_STACK, (soft, hard))


# Outcomes only this process can observe (the ends of a run the tracer never sees, a source
# refused before it ran, a failure of the sandbox itself, which the API answers with a 503 or
# does not cache). A worker's document claiming one was written by the snippet, which shares
# the tracer's process and can write any frame on the result pipe. `timeout` and
# `output_limit` are not here: the tracer stops runs at its soft limits itself.
_SUPERVISOR_ONLY_STATUSES = frozenset({"rejected"})
_SUPERVISOR_ONLY_KINDS = frozenset({
    "source_too_large", "source_invalid",  # rejected before running
    "sandbox_unavailable", "sandbox_error", "worker_lost",  # the sandbox failed
    "killed", "cpu_limit", "memory_limit", "file_size",  # deaths the parent tags
    "crashed", "exited", "tracer_crashed", "malformed_output",
})


def _supervisor_only_claim(doc: dict[str, Any]) -> str | None:
    """What a worker's document claims that only the supervisor may say, or None."""
    if doc.get("status") in _SUPERVISOR_ONLY_STATUSES:
        return f"status {doc['status']}"
    kind = (doc.get("error") or {}).get("kind")
    return f"kind {kind}" if kind in _SUPERVISOR_ONLY_KINDS else None


def _name_the_limit(doc: dict[str, Any], eff: EffectiveLimits) -> None:
    """The tracer stops a run a little before the limits (so the graph can still be written)
    and says when it stopped ("ran longer than 2.5 s"); the learner set or met the limit
    itself (3 s): name that one, in the error and in its timeline event."""
    err = doc.get("error")
    if doc["status"] != "timeout" or not err or err.get("kind") != "timeout" or err.get("type") != "SoftTimeout":
        return
    old = err["message"]
    if old.startswith(WALL_STOP_MESSAGE):
        new = f"The snippet ran longer than its {eff.wall_seconds:g} s time limit and was stopped"
    elif old.startswith(CPU_STOP_MESSAGE):
        new = f"The snippet used more than its {eff.cpu_seconds:g} s of CPU time and was stopped"
    else:
        return
    err["message"] = new
    for event in doc["events"]:
        if event["kind"] == "error" and event.get("text") == old:
            event["text"] = new


# (title, what happened, how to fix it) for the ends of a run the snippet's own code can
# cause, where no exception of the snippet's explains it. Limits have the playground's cards.
_LESSONS: dict[str, tuple[str, str, str]] = {
    "timeout": (
        "The snippet ran out of time",
        "It ran past its time limit and was killed before it could hand over its graph (the "
        "timeline shows what was streamed before that).",
        "Look for a loop that never ends or a very long training loop, and make it smaller.",
    ),
    "cpu_limit": (
        "The snippet used up its CPU time",
        "It kept the processor busy past its CPU-time limit and was killed before it could hand "
        "over its graph.",
        "Look for a loop that never ends or a very long training loop, and make it smaller.",
    ),
    "output_limit": (
        "The run produced too much output",
        "It sent more than the sandbox keeps (timeline events or trace bytes) and was stopped.",
        "Build a smaller graph, run fewer steps, or print less.",
    ),
    "file_size": (
        "The snippet wrote too big a file",
        "It wrote a file larger than the sandbox's scratch space allows and was stopped.",
        "Write less, or keep the data in memory (a tensor, a list) instead of a file.",
    ),
    "killed": (
        "The system stopped the run",
        "The process was killed from outside, most likely because the machine ran out of memory.",
        "Use smaller tensors or fewer iterations.",
    ),
    "memory_limit": (
        "The snippet ran out of memory",
        "Its processes together used more memory than the sandbox allows, so it was killed "
        "before it could hand over its graph.",
        "Use smaller tensors or fewer iterations; free what you no longer need (del, or keep "
        "only .item() values of losses instead of the tensors).",
    ),
    "crashed": (
        "The process crashed in native code",
        "Code below Python (ctypes, a C extension, or a bug inside PyTorch) made the process "
        "crash. Everything it held went with it, the graph too; the line, when known, is where "
        "the snippet was when it crashed.",
        "Leave out ctypes and raw memory access. If plain PyTorch code crashes, make the snippet "
        "as small as it can be while it still crashes, and report it to PyTorch.",
    ),
    "exited": (
        "The snippet ended the process",
        "os._exit() ended the process before the trace was made, "
        "so there is no graph to show.",
        "Let the snippet end normally; sys.exit() is fine (the trace is kept).",
    ),
}


# (core.recorder.SNIPPET_FILENAME: the web process does not import the tracing core)
_SNIPPET_FRAME = re.compile(rb'File "<snippet>", line (\d{1,9})')


def _crash_line(report: bytes, lines: int) -> int | None:
    """The snippet's innermost line in a fault handler report (most recent call first)."""
    match = _SNIPPET_FRAME.search(report)
    line = int(match.group(1)) if match else 0
    return line if 1 <= line <= lines else None  # the report is the snippet's to forge
