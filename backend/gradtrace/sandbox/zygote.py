"""The fork server: imports torch and the tracer once, then forks one isolated worker per job.

Started by the Supervisor as `python -I -m gradtrace.sandbox.zygote --ctrl FD --notify FD`
with a clean environment (no secrets) and a raised RLIMIT_STACK. It runs no user code itself.

Control (SOCK_SEQPACKET, from the supervisor): {"op": "spawn", "slot", "token", "cfg"} with two fds
attached (job read end, result write end), or {"op": "kill", "pid"}. EOF means the supervisor
is gone: kill every worker and exit.
Notifications (length-prefixed JSON pipe, to the supervisor): hello, spawned, spawn_failed,
exited (with the raw wait status and the worker's CPU seconds from wait4).

A spawn forks twice: the first child unshares a pid namespace and forks the worker (pid 1 of
that namespace) and exits, so the worker is re-parented to the zygote (a child subreaper) and
the zygote alone reaps it and reports how it died.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib
import os
import select
import signal
import socket
import struct
import sys
from collections.abc import Callable
from typing import Any

PR_SET_CHILD_SUBREAPER = 36

# Threads must be limited before torch (and its OpenMP runtime) is even loaded: forking after a
# parallel op leaves children hanging forever on their first parallel op.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

WARMUP_SNIPPET = """\
import torch
x = torch.randn(4, 3, requires_grad=True)
w = torch.nn.Linear(3, 2)
y = torch.relu(w(x)).sum()
y.backward()
print(y.item())
"""


class Zygote:
    """Holds the warm interpreter and the table of live workers."""

    def __init__(self, ctrl: socket.socket, notify_fd: int, trace_fn: Callable[..., Any]) -> None:
        self.ctrl = ctrl
        self.notify_fd = notify_fd
        self.trace_fn = trace_fn
        self.workers: dict[int, int] = {}  # worker pid -> slot

    def notify(self, obj: dict[str, Any]) -> None:
        from gradtrace.sandbox.protocol import encode_message, write_all

        write_all(self.notify_fd, encode_message(obj))

    def spawn(self, slot: int, token: int, cfg: dict[str, Any], job_fd: int, result_fd: int) -> None:
        pid_r, pid_w = os.pipe()
        first = os.fork()
        if first == 0:  # the short-lived middle process
            try:
                os.close(pid_r)
                try:
                    from gradtrace.sandbox.isolate import new_pid_namespace

                    new_pid_namespace()
                    pidns = "on"
                except Exception as exc:
                    pidns = f"off: {exc}"
                worker = os.fork()
                if worker == 0:
                    os.close(pid_w)
                    from gradtrace.sandbox.worker import worker_main

                    worker_main(cfg, job_fd, result_fd, pidns, self.trace_fn)
                os.write(pid_w, struct.pack("!i", worker))
            finally:
                os._exit(0)
        os.close(pid_w)
        os.close(job_fd)
        os.close(result_fd)
        data = b""
        while len(data) < 4:
            chunk = os.read(pid_r, 4 - len(data))
            if not chunk:
                break
            data += chunk
        os.close(pid_r)
        os.waitpid(first, 0)
        if len(data) != 4:
            self.notify({"op": "spawn_failed", "slot": slot, "token": token, "error": "fork failed"})
            return
        (pid,) = struct.unpack("!i", data)
        self.workers[pid] = slot
        self.notify({"op": "spawned", "slot": slot, "token": token, "pid": pid})

    def reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = self.workers.pop(pid, None)
            if slot is not None:
                self.notify(
                    {
                        "op": "exited",
                        "slot": slot,
                        "pid": pid,
                        "status": status,
                        "cpu": usage.ru_utime + usage.ru_stime,
                        "maxrss_kib": usage.ru_maxrss,
                    }
                )

    def kill_all(self) -> None:
        for pid in list(self.workers):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def serve(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        while True:
            ready, _, _ = select.select([self.ctrl.fileno(), wake_r], [], [])
            if wake_r in ready:
                try:
                    while os.read(wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
                self.reap()
            if self.ctrl.fileno() in ready:
                msg, fds, _, _ = socket.recv_fds(self.ctrl, 1 << 20, 4)
                if not msg:
                    self.kill_all()
                    return
                self.handle(msg, fds)

    def handle(self, raw: bytes, fds: list[int]) -> None:
        import json

        try:
            msg = json.loads(raw)
            op = msg.get("op")
            if op == "spawn" and len(fds) == 2:
                self.spawn(int(msg["slot"]), int(msg["token"]), msg["cfg"], fds[0], fds[1])
                fds = []
            elif op == "kill":
                pid = int(msg["pid"])
                if pid in self.workers:
                    os.kill(pid, signal.SIGKILL)
            elif op == "ping":
                self.notify({"op": "pong"})
        except Exception as exc:  # a bad command must not take the zygote down
            self.notify({"op": "error", "error": repr(exc)})
        finally:
            for fd in fds:
                os.close(fd)


def load_tracer(spec: str) -> Callable[..., Any]:
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    fn: Callable[..., Any] = getattr(module, attr)
    return fn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ctrl", type=int, required=True)
    parser.add_argument("--notify", type=int, required=True)
    parser.add_argument("--tracer", default="gradtrace.core.tracer:trace_json")
    args = parser.parse_args(argv)

    # Leave the supervisor's process group: a Ctrl-C on the server's terminal is the
    # server's to handle, and it shuts us down through the control socket.
    os.setsid()
    ctrl = socket.socket(fileno=args.ctrl)
    notify_fd = args.notify

    import numpy  # noqa: F401  (torch warns on import without it)
    import torch

    torch.set_num_threads(1)  # before any torch op: see the module comment at the top
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    import pyseccomp  # noqa: F401  (imported now: the worker cannot find it after pivot_root)

    from gradtrace.sandbox import isolate, worker  # noqa: F401

    trace_fn = load_tracer(args.tracer)
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    # glibc sizes new threads' stacks from RLIMIT_STACK, which we raised to ~1 GiB for the main
    # thread: snippet threads get a normal 8 MiB so a few threads don't exhaust RLIMIT_AS.
    import threading

    threading.stack_size(8 << 20)
    zygote = Zygote(ctrl, notify_fd, trace_fn)
    warm_error = None
    try:
        # Lazy initialisation (kernels, allocator, the tracer's own caches) happens here once
        # instead of in every worker.
        trace_fn(WARMUP_SNIPPET, soft_timeout=None)
    except Exception as exc:
        warm_error = repr(exc)
    gc.collect()
    gc.freeze()  # keep the imported heap out of the workers' GC: fewer copied pages per fork
    zygote.notify(
        {
            "op": "hello",
            "pid": os.getpid(),
            "torch_version": torch.__version__,
            "vm_size": isolate.vm_size(),
            "warmup_error": warm_error,
            "ro_paths": default_ro_paths(),
            "symlinks": default_symlinks(),
        }
    )
    zygote.serve()


def default_ro_paths() -> list[str]:
    """What the worker's read-only view contains: the interpreter, the venv, the code."""
    import gradtrace
    from gradtrace.sandbox.isolate import minimal_paths

    candidates = ["/usr", sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path]
    candidates.append(os.path.dirname(os.path.dirname(os.path.abspath(gradtrace.__file__))))
    return minimal_paths(candidates)


def default_symlinks() -> dict[str, str]:
    """Merged-/usr symlinks (/lib -> usr/lib, ...) recreated in the worker's root."""
    out = {}
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            out[name] = os.readlink(name)
    return out


if __name__ == "__main__":
    main()
