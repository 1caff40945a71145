"""The seam between the API and whatever runs snippets.

The API only needs this `Runner` protocol; in production it is the sandbox's `Supervisor`
(a warm fork server of isolated workers). Tests may pass a stand-in through `create_app(runner=...)`.
The API maps the supervisor's `Overloaded` to 429 + Retry-After and a "sandbox unavailable" result to 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from gradtrace.sandbox.supervisor import Overloaded, SandboxUnavailable

__all__ = ["OnEvent", "Overloaded", "Runner", "SandboxUnavailable", "is_cacheable", "sandbox_down"]

OnEvent = Callable[[dict[str, Any]], Awaitable[None]]


class Runner(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def run(
        self, source: str, *, limits: Any = None, on_event: OnEvent | None = None
    ) -> dict[str, Any]:
        """Run `source`; always returns a validated, status-tagged trace dict; raises only Overloaded."""
        ...

    def health(self) -> dict[str, Any]: ...


# Results that say more about the machine's state than about the snippet: stored (the id stays a
# working link) but never served as a cache hit, so the next POST runs the snippet again.
TRANSIENT_KINDS = frozenset({"worker_lost", "killed", "sandbox_unavailable"})


def is_cacheable(trace: dict[str, Any]) -> bool:
    if trace.get("status") == "timeout":
        return False
    error = trace.get("error") or {}
    return error.get("kind") not in TRANSIENT_KINDS


def sandbox_down(trace: dict[str, Any]) -> bool:
    """The supervisor answered "the sandbox is not running": an HTTP 503, not a trace of the snippet."""
    error = trace.get("error") or {}
    return trace.get("status") == "error" and error.get("kind") == "sandbox_unavailable"
