"""Run built-in examples under plain PyTorch and report what happened, as JSON.

Used as a script by the example tests (``python harness.py NAME [NAME ...]``) so that the
oracle runs in a fresh interpreter with nothing of gradtrace's tracing loaded. For each
example it execs the source as a top-level script (filename ``<snippet>``, like a pasted
snippet) and prints one JSON document mapping the example name to:

- ``status`` (``ok`` | ``error``), ``error`` {type, message, line} for the exception,
- ``stdout`` and ``warnings`` (category + message + line),
- ``tensors``: every tensor the learner can name at the end -- module-level tensors, plus
  ``NAME.PARAM`` for the parameters/buffers and ``NAME.ATTR`` for plain tensor attributes
  of module-level ``nn.Module`` objects -- with requires_grad, is_leaf, shape, dtype,
  ``version``, ``value`` and ``grad`` (full values, as lists), ``grad_fn`` (its name) and
  ``next`` (the names and input_nr of ``grad_fn.next_functions``),
- ``seconds``: wall time of the snippet itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

SNIPPET = "<snippet>"
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "backend" / "gradtrace" / "core" / "examples"


def _values(t: Any) -> list[Any] | None:
    import torch

    if t.is_inference() and t.requires_grad:  # pragma: no cover - cannot happen
        return None
    with torch.no_grad():
        flat = t.detach().reshape(-1)
        if flat.is_complex():
            return [str(v) for v in flat.tolist()]
        return [float(v) if not isinstance(v, bool) else v for v in flat.tolist()]


def _describe(t: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # reading .grad of a non-leaf warns; the snippet's warnings are kept apart
        grad = t.grad
    try:
        version = t._version
    except RuntimeError:  # inference tensors have no version counter
        version = None
    return {
        "shape": list(t.shape),
        "dtype": str(t.dtype),
        "requires_grad": t.requires_grad,
        "is_leaf": t.is_leaf,
        "retains_grad": t.retains_grad,
        "grad_fn": None if t.grad_fn is None else t.grad_fn.name(),
        # The grad_fn's next_functions: [name or None, input_nr] per slot (readable after backward).
        "next": None
        if t.grad_fn is None
        else [[None if fn is None else fn.name(), nr] for fn, nr in t.grad_fn.next_functions],
        "version": version,
        "inference": t.is_inference(),
        "value": _values(t),
        "grad": None if grad is None else _values(grad),
    }


def named_tensors(namespace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tensors a learner can name at the end of the snippet."""
    import torch
    from torch import nn

    found: dict[str, dict[str, Any]] = {}
    for var, obj in namespace.items():
        if var.startswith("__"):
            continue
        if isinstance(obj, torch.Tensor):
            found[var] = _describe(obj)
        elif isinstance(obj, nn.Module):
            for pname, param in obj.named_parameters():
                found[f"{var}.{pname}"] = _describe(param)
            for bname, buf in obj.named_buffers():
                found[f"{var}.{bname}"] = _describe(buf)
            for mname, module in obj.named_modules():
                for attr, value in vars(module).items():
                    if isinstance(value, torch.Tensor) and not attr.startswith("_"):
                        prefix = f"{var}.{mname}." if mname else f"{var}."
                        found[f"{prefix}{attr}"] = _describe(value)
    return found


def run_source(source: str) -> dict[str, Any]:
    """Exec ``source`` as a top-level script and describe the outcome."""
    import torch

    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    out = io.StringIO()
    result: dict[str, Any] = {"status": "ok", "error": None}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        try:
            code = compile(source, SNIPPET, "exec")
            exec(code, namespace)
        except Exception as exc:  # the snippet's own exception is the result
            lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == SNIPPET]
            result["status"] = "error"
            result["error"] = {
                "type": type(exc).__name__,
                "message": str(exc),
                "line": lines[-1] if lines else None,
            }
    result["seconds"] = round(time.perf_counter() - start, 3)
    result["stdout"] = out.getvalue()
    result["warnings"] = [
        {
            "category": w.category.__name__,
            "message": str(w.message),
            "line": w.lineno if w.filename == SNIPPET else None,
        }
        for w in caught
    ]
    result["tensors"] = named_tensors(namespace)
    # Leave no global state behind for the next example in this process.
    torch.set_grad_enabled(True)
    return result


def main(argv: list[str]) -> int:
    import torch

    torch.set_num_threads(1)
    report = {}
    for name in argv:
        source = (EXAMPLES_DIR / f"{name}.py").read_text(encoding="utf-8")
        report[name] = run_source(source)
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
