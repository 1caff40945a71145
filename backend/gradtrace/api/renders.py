"""Rendered exports of stored traces (DOT, lesson.html), kept by trace and format.

A stored trace is immutable under its id (a re-run that replaces a load-dependent result
changes its `created_at`, which is part of the key), so a render can be reused until it is
evicted. Rendering a 7 MB trace takes 0.25-0.6 s of the GIL; without this, repeated GETs of
one big trace stalled every other request. Concurrent first requests share one render.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

Key = tuple[str, str, float]  # (trace id, format, stored created_at)


class RenderCache:
    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.renders = 0  # renders made (a hit makes none), for tests and health
        self._done: OrderedDict[Key, str] = OrderedDict()
        self._pending: dict[Key, asyncio.Future[str]] = {}

    async def get(self, key: Key, render: Callable[[], str]) -> str:
        text = self._done.get(key)
        if text is not None:
            self._done.move_to_end(key)
            return text
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            self.renders += 1
            text = await run_in_threadpool(render)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters, if any, get it from their await
            raise
        finally:
            self._pending.pop(key, None)
        future.set_result(text)
        self._keep(key, text)
        return text

    def _keep(self, key: Key, text: str) -> None:
        cost = len(text)
        if cost > self.max_bytes:
            return  # bigger than the whole cache: rendered each time, never kept
        self._done[key] = text
        self.size += cost
        while self.size > self.max_bytes:
            _, old = self._done.popitem(last=False)
            self.size -= len(old)
