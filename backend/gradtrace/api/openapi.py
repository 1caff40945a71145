"""Print the OpenAPI document without starting a server: `python -m gradtrace.api.openapi`.

The frontend generates its TypeScript types from this output.
"""

from __future__ import annotations

import json
import sys
from typing import Any


class _NoRunner:
    """Placeholder runner: building the schema must not start (or even construct) a sandbox."""

    async def start(self) -> None:  # pragma: no cover - never started
        raise RuntimeError("the OpenAPI-only app cannot run snippets")

    async def close(self) -> None:  # pragma: no cover
        return None

    async def run(
        self, source: str, *, limits: Any = None, on_event: Any = None
    ) -> dict[str, Any]:  # pragma: no cover
        raise RuntimeError("the OpenAPI-only app cannot run snippets")

    def health(self) -> dict[str, Any]:  # pragma: no cover
        return {}


def openapi_document() -> dict[str, Any]:
    from gradtrace.api.app import create_app
    from gradtrace.settings import Settings

    document: dict[str, Any] = create_app(Settings(), runner=_NoRunner()).openapi()
    return document


def main() -> int:
    sys.stdout.write(json.dumps(openapi_document(), indent=2, sort_keys=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
