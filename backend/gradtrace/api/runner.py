"""The seam between the API and whatever runs snippets.

The API only needs this `Runner` protocol; in production it is the sandbox's `Supervisor`
(a warm fork server of isolated workers). Tests may pass a stand-in through `create_app(runner=...)`.
The API maps the runner's two exceptions: `Overloaded` -> 429 + Retry-After, `SandboxUnavailable` -> 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

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


def overloaded_retry_after(exc: BaseException) -> float | None:
    """Seconds to wait if `exc` means "queue full", else None (works for the sandbox's and stand-ins' errors)."""
    if type(exc).__name__ == "Overloaded":
        value = getattr(exc, "retry_after", None)
        try:
            return float(value) if value is not None else 1.0
        except (TypeError, ValueError):
            return 1.0
    return None


def is_unavailable(exc: BaseException) -> bool:
    return type(exc).__name__ == "SandboxUnavailable"
