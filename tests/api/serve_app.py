"""Launch the API under uvicorn for the tests: `python serve_app.py PORT` (settings from GRADTRACE_* env).

GT_TEST_RUNNER=fake swaps in the stand-in runner; GT_TEST_FAULTY_STORE=1 makes storing a snippet
that contains BOOM_STORE raise, to show an internal fault is a 500 envelope and not a crash.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

from gradtrace.api import create_app
from gradtrace.api.storage import SQLiteTraceStore
from gradtrace.settings import Settings


class FaultyStore(SQLiteTraceStore):
    def put(self, trace_id: str, *, source: str, **kwargs: Any) -> None:  # type: ignore[override]
        if "BOOM_STORE" in source:
            raise OSError("simulated disk failure at /secret/path/traces.sqlite3")
        super().put(trace_id, source=source, **kwargs)


def main() -> None:
    port = int(sys.argv[1])
    settings = Settings(host="127.0.0.1", port=port)
    runner: Any = None
    if os.environ.get("GT_TEST_RUNNER") == "fake":
        sys.path.insert(0, str(Path(__file__).parent))
        from fakes import FakeRunner

        runner = FakeRunner(concurrency=settings.sandbox.concurrency, queue_size=settings.sandbox.queue_size)
    store = FaultyStore(settings.database_path) if os.environ.get("GT_TEST_FAULTY_STORE") else None
    app = create_app(settings, runner=runner, store=store)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
