"""gradtrace: see PyTorch autograd.

The public Python API. Importing this package does not import torch; `trace_source`
imports the tracing core (and torch) on first use, so the web process stays torch-free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["trace_json", "trace_source", "Trace", "__version__"]
__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from gradtrace.core.model import Trace


def trace_source(source: str, **options: Any) -> Trace:
    """Run `source` as a top-level script and return its autograd trace (see docs/trace-format.md)."""
    from gradtrace.core.tracer import trace_source as _trace_source

    return _trace_source(source, **options)


def trace_json(source: str, **options: Any) -> str:
    """The same trace as compact JSON text, without building the pydantic model (faster)."""
    from gradtrace.core.tracer import trace_json as _trace_json

    return _trace_json(source, **options)


def __getattr__(name: str) -> Any:
    if name == "Trace":
        from gradtrace.core.model import Trace

        return Trace
    raise AttributeError(name)
