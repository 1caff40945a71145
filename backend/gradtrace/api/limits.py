"""Per-request limits: check them against the server's maxima and normalize them for the trace id.

A request may only lower a limit. Asking for more than the server allows is a 422 that says
the maximum (rather than a silent clamp that would make the result surprising).
"""

from __future__ import annotations

from typing import Any

from gradtrace.api.errors import ApiError
from gradtrace.sandbox.limits import RunLimits, SandboxLimits


def resolve_limits(asked: RunLimits | None, server: SandboxLimits) -> tuple[dict[str, Any], RunLimits | None]:
    """(options that identify the run, the RunLimits to hand to the sandbox or None for defaults)."""
    if asked is None:
        return {}, None
    too_high = []
    options: dict[str, Any] = {}
    for name, value in asked.model_dump(exclude_none=True).items():
        maximum = getattr(server, name)
        if value > maximum:
            too_high.append(
                {
                    "field": f"body.limits.{name}",
                    "problem": f"{value} exceeds the server maximum {maximum}",
                    "type": "limit_above_maximum",
                    "hint": f"Ask for at most {maximum}, or omit `{name}` to get the maximum.",
                    "maximum": maximum,
                }
            )
        elif value < maximum:
            options[name] = value  # asking for exactly the maximum is the default: same id
    if too_high:
        raise ApiError(
            422,
            "validation_error",
            "Invalid request: " + "; ".join(f"{e['field']}: {e['hint']}" for e in too_high),
            too_high,
        )
    if not options:
        return {}, None
    return options, RunLimits(**options)
