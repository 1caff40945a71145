"""The forked worker: isolate itself, report its layers, wait for one job, trace it, exit.

Runs in a child of the zygote as pid 1 of a fresh pid namespace, still root until the `uid`
layer. Everything it uses after the seccomp filter is loaded was imported by the zygote.
It never returns: every path ends in os._exit, so no zygote code runs in the child.
"""

from __future__ import annotations

import _thread
import faulthandler
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from gradtrace.sandbox import isolate
from gradtrace.sandbox.protocol import (
    FRAME_EVENT,
    FRAME_LAYERS,
    FRAME_RESULT,
    encode_frame,
    read_message,
    write_all,
)

# Exit codes the supervisor recognises (anything else is "the snippet called os._exit").
EXIT_OK = 0
EXIT_LAYER_FAILED = 70
EXIT_TRACER_CRASHED = 71
EXIT_NO_JOB = 72
EXIT_NOT_STUCK = 73  # the watchdog's copy found no run to describe

# Bound before any snippet runs: a snippet that monkeypatches json/os only hurts itself.
_dumps = json.dumps
_write_all = write_all
_exit = os._exit
_sigmask = signal.pthread_sigmask
_ALL_SIGNALS = signal.valid_signals()
_fork, _waitpid, _exit_code = os.fork, os.waitpid, os.waitstatus_to_exitcode
_sleep, _monotonic, _cpu, _get_ident = time.sleep, time.monotonic, time.process_time, _thread.get_ident

# The watchdog takes over halfway between the tracer's soft deadline and the hard limit.
WATCH_POINT = 0.5


def apply_layers(cfg: dict[str, Any], fds: list[int], pidns: str) -> dict[str, str]:
    """Apply every layer in order; `fds` ([job, result]) is updated in place when renumbered.

    A layer that fails is fatal unless cfg["allow_weaker"]; the report says "on" or
    "off: <why>" for each layer.
    """
    report: dict[str, str] = {"pidns": pidns}
    uid: int = int(cfg["uid"])

    def layer(name: str, fn: Callable[[], object]) -> None:
        try:
            fn()
            report[name] = "on"
        except Exception as exc:
            report[name] = f"off: {exc}"
            if not cfg["allow_weaker"]:
                raise

    def close_fds() -> None:
        fds[:] = isolate.close_inherited_fds(fds)

    layer("fds", close_fds)
    layer("env", lambda: isolate.clear_environment(cfg["env"]))
    if not pidns.startswith("on") and not cfg["allow_weaker"]:
        raise isolate.LayerError(f"pidns {pidns}")
    layer("cgroup", lambda: isolate.join_cgroups(cfg["cgroups"]))
    layer("netns", isolate.new_network_namespace)
    layer(
        "mountns",
        lambda: isolate.new_mount_namespace(
            root_dir=cfg["root_dir"],
            ro_paths=cfg["ro_paths"],
            symlinks=cfg["symlinks"],
            scratch_bytes=cfg["scratch_bytes"],
            scratch_inodes=cfg["scratch_inodes"],
            uid=uid,
        ),
    )
    if not report["mountns"].startswith("on"):
        # Weaker mode without a private root: at least leave the zygote's cwd.
        try:
            os.chdir("/tmp")
        except OSError:
            pass
    layer(
        "rlimits",
        lambda: isolate.set_rlimits(
            memory_bytes=cfg["memory_bytes"],
            cpu_seconds=cfg["cpu_seconds"],
            file_bytes=cfg["file_bytes"],
            open_files=cfg["open_files"],
            tasks=cfg["tasks"],
        ),
    )
    layer("uid", lambda: isolate.drop_privileges(uid))
    layer("no_new_privs", isolate.no_new_privs)
    layer("seccomp", isolate.install_seccomp)
    return report


def worker_main(
    cfg: dict[str, Any],
    job_fd: int,
    result_fd: int,
    pidns: str,
    trace_fn: Callable[..., Any],
) -> None:
    """Entry point of the forked worker; never returns."""
    code = EXIT_OK
    # One trace document leaves this process: the run's own, or the watchdog's (`_Watch`).
    # Whoever takes `delivering` first writes it (re-entrant: the run's way out takes it
    # again); `pipe` keeps event frames whole.
    delivering, pipe = _thread.RLock(), _thread.allocate_lock()
    try:
        # The zygote's SIGCHLD wake-up plumbing must not leak into the worker.
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        fds = [job_fd, result_fd]
        try:
            report = apply_layers(cfg, fds, pidns)
            job_fd, result_fd = fds
        except Exception as exc:
            job_fd, result_fd = fds
            try:
                _write_all(result_fd, encode_frame(FRAME_LAYERS, _dumps({"error": str(exc)}).encode()))
            finally:
                _exit(EXIT_LAYER_FAILED)
        _write_all(result_fd, encode_frame(FRAME_LAYERS, _dumps(report).encode()))

        # The watchdog thread starts now, while the worker waits for its job: its start costs
        # the request nothing. It waits, without the GIL, until `arm` gives it the deadlines.
        stream_closed = [False]
        tracer = sys.modules.get(getattr(trace_fn, "__module__", ""))
        describe, where = getattr(tracer, "describe_stuck", None), getattr(tracer, "where_stuck", None)
        watch = None
        if describe is not None and where is not None:  # (a test's stand-in tracer may have neither)
            watch = _Watch(result_fd, delivering, pipe, stream_closed, _get_ident(), where, describe)
            try:
                _thread.start_new_thread(watch.run, ())
            except RuntimeError:
                watch = None  # no thread to spare: the run goes on without its watchdog

        job = read_message(job_fd, limit=cfg["max_job_bytes"])
        if job is None:
            _exit(EXIT_NO_JOB)
        os.close(job_fd)
        limits = job["limits"]
        # Tighten to this request's limits (lowering needs no privilege).
        isolate.lower_rlimits(memory_bytes=limits["memory_bytes"], cpu_seconds=limits["cpu_seconds"])

        on_event: Callable[[dict[str, Any]], None] | None = None
        if job.get("stream"):
            # Stay inside what the parent accepts (more would end the run as output_limit).
            budget = [int(job.get("max_events", 0)), int(job.get("max_event_bytes", 0))]
            max_one = int(job.get("event_bytes", 0))

            def on_event(event: dict[str, Any]) -> None:
                if budget[0] <= 0 or stream_closed[0]:
                    return
                payload = _dumps(event, default=str).encode()
                if len(payload) > max_one or len(payload) > budget[1]:
                    return
                budget[0] -= 1
                budget[1] -= len(payload)
                frame = encode_frame(FRAME_EVENT, payload)
                # A signal handler raising mid-write (the soft timeout's SIGALRM, or the
                # snippet's own) would leave half a frame and garble the stream: the signal
                # waits until the frame is out.
                old = _sigmask(signal.SIG_BLOCK, _ALL_SIGNALS)
                try:
                    with pipe:
                        if not stream_closed[0]:
                            _write_all(result_fd, frame)
                finally:
                    _sigmask(signal.SIG_SETMASK, old)

        if watch is not None:
            watch.arm(limits)
        # A crash in native code (ctypes, a C-stack overflow) kills the worker with its graph;
        # Python's fault handler at least writes the stack, so the parent can say which line.
        faulthandler.enable(file=result_fd, all_threads=False)
        try:
            trace = trace_fn(
                job["source"],
                max_nodes=limits["max_nodes"],
                max_json_bytes=limits["trace_bytes"],
                max_stdout_bytes=limits["stdout_bytes"],
                on_event=on_event,
                soft_timeout=limits["soft_timeout"],
                soft_cpu_timeout=limits["soft_cpu_timeout"],
                collect_garbage=False,  # this process exits right after: no tidying up
            )
            # trace_json gives text already; any other tracer (tests) may give a model.
            payload = (trace if isinstance(trace, str) else trace.to_json()).encode()
        except BaseException:
            # The tracer itself failed (or the snippet broke it): say so on the real stderr
            # of nobody (fd 2 is /dev/null) and let the supervisor tag the run.
            traceback.print_exc()
            delivering.acquire()
            _exit(EXIT_TRACER_CRASHED)
        _sigmask(signal.SIG_BLOCK, _ALL_SIGNALS)  # nothing interrupts the last frame
        faulthandler.disable()
        delivering.acquire()  # waits while the watchdog delivers (it exits the process, or gives way)
        _write_all(result_fd, encode_frame(FRAME_RESULT, payload))
    except BaseException:
        code = EXIT_TRACER_CRASHED
    finally:
        # os._exit: no atexit handlers, no zygote code, threads the snippet left die with us.
        delivering.acquire()
        _exit(code)


class _Watch:
    """The worker's watchdog thread: delivers a trace of a run that cannot be stopped.

    The tracer stops the snippet at its soft deadlines with a signal, whose handler runs
    between two Python instructions. A snippet inside one long C++ operation (a huge
    matmul), or one that ignores those signals, is still running when the hard limit kills
    the worker, and its graph would be lost. Halfway from the soft deadline to the hard
    limit, the watchdog forks: the copy holds the run's records as they stand, without the
    thread that runs the snippet, so it can describe them undisturbed (status `timeout`,
    the line where the snippet was) and write the document; then the worker exits.
    """

    def __init__(self, result_fd: int, delivering: Any, pipe: Any, stream_closed: list[bool], main: int,
                 where: Callable[..., Any], describe: Callable[..., Any]) -> None:
        self.result_fd, self.delivering, self.pipe, self.stream_closed = result_fd, delivering, pipe, stream_closed
        self.main, self.where, self.describe = main, where, describe
        self.armed = _thread.allocate_lock()
        self.armed.acquire()  # released by `arm`

    def arm(self, limits: dict[str, Any]) -> None:
        """Start the clocks of a job (from the job's limits, as the tracer's soft deadlines)."""
        soft, hard = limits.get("soft_timeout"), limits["wall_seconds"]
        soft_cpu, hard_cpu = limits.get("soft_cpu_timeout"), limits["cpu_seconds"]
        self.wall, self.cpu = hard, hard_cpu
        now, cpu = _monotonic(), _cpu()
        self.wall_at = now + (soft + WATCH_POINT * (hard - soft) if soft else hard)
        self.cpu_at = cpu + (soft_cpu + WATCH_POINT * (hard_cpu - soft_cpu) if soft_cpu else hard_cpu)
        self.armed.release()

    def run(self) -> None:
        _sigmask(signal.SIG_BLOCK, _ALL_SIGNALS)  # the snippet's signals are the main thread's
        self.armed.acquire()
        while (left := min(self.wall_at - _monotonic(), self.cpu_at - _cpu())) > 0:
            # CPU time runs no faster than wall time for one thread; the snippet's threads can
            # make it run faster, hence the bound on each wait.
            _sleep(min(left, 0.25))
        limit = f"{self.wall:g} s time" if _monotonic() >= self.wall_at else f"{self.cpu:g} s CPU"
        if not self.delivering.acquire(False):
            return  # the run is delivering its own trace
        pid = -1
        try:
            with self.pipe:  # between two event frames: none may be written while the copy runs
                self.stream_closed[0] = True
            where = self.where(self.main)
            if where is not None:  # (None: the snippet has ended, the tracer is describing it)
                pid = _fork()
                if pid == 0:
                    self._describe_copy(limit, *where)  # never returns
            if pid > 0 and _exit_code(_waitpid(pid, 0)[1]) == EXIT_OK:
                _exit(EXIT_OK)  # the copy delivered the trace
        except BaseException:
            pass  # (a fork refused: the snippet took every process slot)
        # Nothing delivered: the run goes on, and delivers its own trace or meets the hard limit.
        self.stream_closed[0] = False
        self.delivering.release()

    def _describe_copy(self, limit: str, line: int | None, scopes: list[dict[str, Any]]) -> None:
        """In the forked copy: describe the run as it stands, deliver it, exit."""
        code = EXIT_NOT_STUCK
        try:
            # A crash here must not write a fault report: the run may still deliver its own.
            faulthandler.disable()
            at = f" at line {line}" if line else ""
            trace = self.describe(
                f"the snippet was still running{at} close to its {limit} limit, inside a "
                "call that cannot be interrupted (or with the timeout's signals ignored); the "
                "trace shows the run as it stood then",
                line,
                scopes,
            )
            if trace is not None:
                payload = (trace if isinstance(trace, str) else trace.to_json()).encode()
                _write_all(self.result_fd, encode_frame(FRAME_RESULT, payload))
                code = EXIT_OK
        finally:
            _exit(code)
