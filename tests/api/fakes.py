"""A stand-in runner (tests only) with the sandbox Supervisor's interface, for seams the real one can't reach.

It produces minimal valid trace dicts; it never runs the snippet.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gradtrace.sandbox.supervisor import Overloaded


class FakeRunner:
    def __init__(self, concurrency: int = 2, queue_size: int = 8, delay: float = 0.0) -> None:
        self.concurrency = concurrency
        self.queue_size = queue_size
        self.delay = delay
        self.runs = 0
        self.waiting = 0
        self.running = 0
        self._slots: asyncio.Semaphore | None = None

    async def start(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)

    async def close(self) -> None:
        return None

    def health(self) -> dict[str, Any]:
        return {"zygote_alive": True, "queue_depth": self.waiting, "running": self.running, "fake": True}

    async def run(self, source: str, *, limits: Any = None, on_event: Any = None) -> dict[str, Any]:
        assert self._slots is not None
        if self.running >= self.concurrency and self.waiting >= self.queue_size:
            raise Overloaded(1.0)
        self.waiting += 1
        async with self._slots:
            self.waiting -= 1
            self.running += 1
            try:
                self.runs += 1
                lines = source.count("\n") + 1
                n_events = int(source.split("EVENTS=")[1].split()[0]) if "EVENTS=" in source else 3
                if on_event is not None:
                    for i in range(n_events):
                        await on_event({"seq": i, "kind": "print", "line": 1, "text": f"event {i}"})
                if self.delay or "sleep" in source:
                    await asyncio.sleep(self.delay or 1.0)
                return {
                    "schema_version": "1",
                    "torch_version": "2.13.0+cpu",
                    "status": "ok",
                    "error": None,
                    "tensors": [],
                    "nodes": [],
                    "edges": [],
                    "backward_passes": [],
                    "events": [
                        {"seq": i, "kind": "print", "line": 1, "text": f"event {i}"} for i in range(3)
                    ],
                    "stdout": "",
                    "stderr": "",
                    "truncated": False,
                    "source_lines": lines,
                }
            finally:
                self.running -= 1
