"""Process-wide settings a snippet may change, given back after it: a trace leaves no trace.

The sandbox runs every snippet in a fresh process, but the Python API runs it in the
caller's: a notebook that traces `torch.set_default_dtype(torch.float64)` or
`torch.autograd.set_detect_anomaly(True)` must not find them set afterwards, nor its random
streams reseeded (the tracer seeds them so that traces are deterministic).
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import torch


def _print_options() -> dict[str, Any]:
    opts = torch._tensor_str.PRINT_OPTS
    return {k: getattr(opts, k) for k in ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")}


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # deleted under us
        return None


@contextlib.contextmanager
def given_back(argv0: str) -> Iterator[None]:
    """Run the body with `sys.argv == [argv0]`; restore torch's and Python's globals after."""
    numpy = sys.modules.get("numpy")
    saved = {
        "dtype": torch.get_default_dtype(),
        "device": getattr(torch._GLOBAL_DEVICE_CONTEXT, "device_context", None),
        "anomaly": (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()),
        "deterministic": (torch.are_deterministic_algorithms_enabled(),
                          torch.is_deterministic_algorithms_warn_only_enabled()),
        "matmul": torch.get_float32_matmul_precision(),
        "threads": torch.get_num_threads(),
        "print": _print_options(),
        # (torch's state as bytes, not a tensor: the snippet's gc.get_objects() would see it)
        "rng": (bytes(torch.get_rng_state().untyped_storage()), random.getstate(),
                numpy.random.get_state() if numpy else None),
        "sys": (list(sys.argv), list(sys.path), _cwd()),
        "hooks": _hooks_now(),
        "autograd": _autograd_now(),
        "signals": _signals_now(),
    }
    sys.argv = [argv0]
    try:
        yield
    finally:
        # Each step on its own: one the snippet broke (a deleted cwd) must not stop the rest.
        for restore in _RESTORERS:
            with contextlib.suppress(Exception):
                restore(saved)


# Bound now: a snippet can rebind `builtins.vars` as easily as anything else.
_BUILTINS = builtins.__dict__
# What the tracer (and torch's own Python code) calls after the run, which a snippet can
# reassign: `torch.is_grad_enabled = None`, `torch.Tensor.__repr__ = ...`.
_MODULES = (torch, torch.autograd, torch.autograd.graph, torch.nn, torch.nn.functional)
_CLASSES = (torch.Tensor, torch.nn.Parameter, torch.nn.Module, torch.autograd.Function)
_MISSING = object()


class interpreter_kept:
    """Give back the builtins, the module table and torch's public namespaces as they were
    before the body.

    `builtins.len = ...`, `sys.modules.clear()` or `torch.is_grad_enabled = None` in a
    snippet would break the tracer's own reading of the run, and under the Python API the
    host would keep them. Names the snippet added to torch stay (torch adds submodules as
    they are imported); added builtins go. A class, not a generator: on the way out nothing
    may call a builtin (contextlib's exit calls `next`) before they are back.
    """

    def __enter__(self) -> None:
        self.names = dict(_BUILTINS)
        self.table, self.modules = sys.modules, dict(sys.modules)
        self.spaces = [dict(vars(m)) for m in _MODULES]
        self.attrs = [dict(vars(c)) for c in _CLASSES]

    def __exit__(self, *exc_info: object) -> None:
        for name in _BUILTINS.keys() - self.names.keys():
            del _BUILTINS[name]
        _BUILTINS.update(self.names)
        sys.modules = self.table
        self.table.update(self.modules)
        for module, space in zip(_MODULES, self.spaces, strict=True):
            vars(module).update(space)
        for cls, attrs in zip(_CLASSES, self.attrs, strict=True):
            now = vars(cls)
            for name, value in attrs.items():
                if now.get(name, _MISSING) is not value:
                    setattr(cls, name, value)


# `threading.excepthook = None` makes every later Thread fail to start (the tracer compiles
# on one); a `sys.excepthook` or trace function left behind would change the host's errors
# and speed.
_SYS_HOOKS = ("excepthook", "displayhook", "unraisablehook", "breakpointhook")


def _hooks_now() -> dict[str, Any]:
    return {
        "sys": {name: getattr(sys, name) for name in _SYS_HOOKS},
        "thread": threading.excepthook,
        "gc": list(gc.callbacks),
        "trace": (sys.gettrace(), sys.getprofile(), threading.gettrace(), threading.getprofile()),
    }


def _hooks(saved: dict[str, Any]) -> None:
    before = saved["hooks"]
    for name, hook in before["sys"].items():
        setattr(sys, name, hook)
    threading.excepthook = before["thread"]
    gc.callbacks[:] = before["gc"]
    trace, profile, thread_trace, thread_profile = before["trace"]
    sys.settrace(trace)
    sys.setprofile(profile)
    threading.settrace(thread_trace)
    threading.setprofile(thread_profile)


def _dtype(saved: dict[str, Any]) -> None:
    torch.set_default_dtype(saved["dtype"])


def _device(saved: dict[str, Any]) -> None:
    before = saved["device"]
    if getattr(torch._GLOBAL_DEVICE_CONTEXT, "device_context", None) is not before:
        torch.set_default_device(None if before is None else before.device)


def _anomaly(saved: dict[str, Any]) -> None:
    enabled, check_nan = saved["anomaly"]
    torch.autograd.set_detect_anomaly(enabled, check_nan)


def _deterministic(saved: dict[str, Any]) -> None:
    enabled, warn_only = saved["deterministic"]
    # Only when changed: the setter imports torch._inductor's config on first use (~1 s).
    if (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) != (
        enabled,
        warn_only,
    ):
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def _matmul(saved: dict[str, Any]) -> None:
    torch.set_float32_matmul_precision(saved["matmul"])


def _threads(saved: dict[str, Any]) -> None:
    if torch.get_num_threads() != saved["threads"]:
        torch.set_num_threads(saved["threads"])


def _print(saved: dict[str, Any]) -> None:
    torch.set_printoptions(**saved["print"])


def _rng(saved: dict[str, Any]) -> None:
    torch_state, python_state, numpy_state = saved["rng"]
    torch.set_rng_state(torch.frombuffer(bytearray(torch_state), dtype=torch.uint8))
    random.setstate(python_state)
    numpy = sys.modules.get("numpy")
    if numpy is not None and numpy_state is not None:
        numpy.random.set_state(numpy_state)


def _sys(saved: dict[str, Any]) -> None:
    argv, path, cwd = saved["sys"]
    sys.argv = argv
    sys.path[:] = path
    if cwd is not None and _cwd() != cwd:
        os.chdir(cwd)


# Autograd's and nn's own process-wide registries: a global module hook a snippet registers
# (`register_module_forward_pre_hook`) would run in every later trace and in the host's own
# models; saved-tensor hooks entered and never exited would pack the host's tensors; a
# forward-AD level left open makes the next `with fwAD.dual_level()` fail ("nested forward
# mode AD"); the `torch.__future__` flags change what `module.double()` does.
_module = torch.nn.modules.module
_c_autograd = torch._C._autograd
_forward_ad = torch.autograd.forward_ad
_FUTURE = (("overwrite", torch.__future__.get_overwrite_module_params_on_conversion,
            torch.__future__.set_overwrite_module_params_on_conversion),
           ("swap", torch.__future__.get_swap_module_params_on_conversion,
            torch.__future__.set_swap_module_params_on_conversion))


def _module_hook_registries() -> dict[str, Any]:
    return {name: value for name, value in vars(_module).items() if name.startswith("_global_")}


def _autograd_now() -> dict[str, Any]:
    return {
        "module_hooks": {name: (v, dict(v) if isinstance(v, dict) else v) for name, v in _module_hook_registries().items()},
        "saved_hooks": _c_autograd._top_saved_tensors_default_hooks(True),
        "saved_hooks_enabled": (_c_autograd._saved_tensors_hooks_is_enabled(),  # type: ignore[attr-defined]
                                _c_autograd._saved_tensors_hooks_get_disabled_error_message()),
        "dual_level": _forward_ad._current_level,
        "future": {name: get() for name, get, _ in _FUTURE},
        "switches": (torch.autograd.is_multithreading_enabled(), torch._C._is_fwd_grad_enabled(),
                     torch._C._is_view_replay_enabled()),
    }


def _same_hooks(a: Any, b: Any) -> bool:
    return a is b or (a is not None and b is not None and all(x is y for x, y in zip(a, b, strict=True)))


def _autograd(saved: dict[str, Any]) -> None:
    before = saved["autograd"]
    for name, (registry, contents) in before["module_hooks"].items():
        setattr(_module, name, registry)  # (torch's functions look them up by name each time)
        if isinstance(registry, dict):
            registry.clear()
            registry.update(contents)
    for _ in range(10_000):  # (a snippet can push any number; each pop is one frame)
        if _same_hooks(_c_autograd._top_saved_tensors_default_hooks(True), before["saved_hooks"]):
            break
        _c_autograd._pop_saved_tensors_default_hooks()
    enabled, message = before["saved_hooks_enabled"]
    if enabled:
        _c_autograd._saved_tensors_hooks_enable()
    elif message is not None:
        _c_autograd._saved_tensors_hooks_disable(message)
    while _forward_ad._current_level > before["dual_level"]:
        _forward_ad.exit_dual_level(level=_forward_ad._current_level)
    for name, get, set_flag in _FUTURE:
        if get() != before["future"][name]:
            set_flag(before["future"][name])
    multithreading, forward_grad, view_replay = before["switches"]
    torch.autograd.set_multithreading_enabled(multithreading)
    torch._C._set_fwd_grad_enabled(forward_grad)
    torch._C._set_view_replay_enabled(view_replay)


# A handler or interval timer the snippet installs would fire in the host later (a SIGALRM
# left at its default action ends the process). Only the main thread may read or set them.
_TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)


def _signals_now() -> dict[str, Any] | None:
    if threading.current_thread() is not threading.main_thread():
        return None
    handlers = {}
    for sig in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):
            handlers[sig] = signal.getsignal(sig)
    clocks = (time.monotonic(), time.process_time())
    return {"handlers": handlers, "timers": {which: signal.getitimer(which) for which in _TIMERS}, "clocks": clocks}


def _signals(saved: dict[str, Any]) -> None:
    before = saved["signals"]
    if before is None:
        return
    wall, cpu = before["clocks"]
    spent = {signal.ITIMER_REAL: time.monotonic() - wall}
    spent[signal.ITIMER_VIRTUAL] = spent[signal.ITIMER_PROF] = time.process_time() - cpu
    for which, (delay, interval) in before["timers"].items():
        if delay == 0:
            signal.setitimer(which, 0)  # one the snippet (or the tracer) armed
        else:  # the host's, as it would stand now (the tracer's soft limits use these clocks too)
            signal.setitimer(which, max(delay - spent[which], 1e-3), interval)
    for sig, handler in before["handlers"].items():
        if handler is not None and signal.getsignal(sig) is not handler:
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, handler)


_RESTORERS = (_hooks, _dtype, _device, _anomaly, _deterministic, _matmul, _threads, _print, _rng, _sys, _autograd, _signals)
