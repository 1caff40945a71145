"""Rendered exports of stored traces (DOT, lesson.html): made in a separate process, kept by trace and format.

A stored trace is immutable under its id (a re-run that replaces a load-dependent result
changes its `created_at`, which is part of the key), so a render can be reused until it is
evicted. Concurrent first requests share one render.

Rendering a 7 MB trace takes 0.3-3.5 s, much of it holding the GIL (JSON parsing and
writing): in the server's threads, six clients cycling through big ids slowed /health and
POSTs several times over. So renders run in one spawned process (`RenderPool`, torch-free
like the server), a bounded number may wait for it, each client may have few of them waiting
or running, and the routes count uncached renders against the client's rate limit.
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from gradtrace.api.errors import ApiError
from gradtrace.api.ratelimit import RateLimiter, client_key, release

Key = tuple[str, str, float]  # (trace id, format, stored created_at)
Run = Callable[[Callable[[], str]], Awaitable[str]]


def dot_of(trace_json: str) -> str:
    """DOT of a stored trace (a module-level function: it is sent to the render process)."""
    from gradtrace.core.export import to_dot  # torch-free serializer over the trace model

    text: str = to_dot(json.loads(trace_json))
    return text


class RenderBusy(Exception):
    """Too many renders are waiting (overall, or from this client): answer 429."""

    def __init__(self, retry_after: float, mine: bool) -> None:
        super().__init__("renders busy")
        self.retry_after, self.mine = retry_after, mine


class RenderPool:
    """Runs render functions in `processes` spawned processes; at most `queue` renders wait or
    run at once, `per_client` of them for one client. The functions must be picklable
    (module-level functions and `functools.partial`s of them, not lambdas)."""

    def __init__(self, processes: int = 1, queue: int = 16, per_client: int = 2) -> None:
        self.processes, self.queue, self.per_client = processes, queue, per_client
        self.active = 0
        self.by_client: dict[str, int] = {}
        self.avg_seconds = 1.0
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the server has threads (and a sandbox supervisor) a fork would copy.
            ctx = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(self.processes, mp_context=ctx)
        return self._executor

    def admit(self, client: str) -> None:
        """Raise RenderBusy unless a render for `client` may wait for the pool now."""
        if self.by_client.get(client, 0) >= self.per_client:
            raise RenderBusy(self._retry_after(), mine=True)
        if self.active >= self.queue:
            raise RenderBusy(self._retry_after(), mine=False)

    def _retry_after(self) -> float:
        return max(1.0, math.ceil(self.avg_seconds * self.active / self.processes))

    async def run(self, fn: Callable[[], str], client: str) -> str:
        self.admit(client)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            job = loop.run_in_executor(self._pool(), fn)
        except BrokenProcessPool:  # the render process died (killed, out of memory): a fresh one
            self._executor = None
            job = loop.run_in_executor(self._pool(), fn)
        self.active += 1
        self.by_client[client] = self.by_client.get(client, 0) + 1

        def done(_: object) -> None:
            # Counted until the process is done with it, not until the request is: a client
            # that hangs up does not free its place while its render still runs.
            self.active -= 1
            release(self.by_client, client)
            self.avg_seconds = 0.8 * self.avg_seconds + 0.2 * (loop.time() - started)

        job.add_done_callback(done)
        try:
            return await asyncio.shield(job)
        except BrokenProcessPool:
            self._executor = None  # the next render starts a fresh process
            raise

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


async def render(
    cache: RenderCache, pool: RenderPool, limiter: RateLimiter, request: Request, trust_forwarded_for: bool,
    key: Key, fn: Callable[[], str],
) -> str:
    """`key`'s render, from the cache or made in `pool`. A render the cache does not have (nor
    has under way) is charged to the client: one token of its rate limit and one of its places
    in the pool, else a 429 (answers from the cache stay free)."""
    if cache.has(key):
        return await cache.get(key, fn)
    client = client_key(request, trust_forwarded_for)
    try:
        pool.admit(client)
    except RenderBusy as busy:
        retry = RateLimiter.retry_after_header(busy.retry_after)
        mine = " from your address" if busy.mine else ""
        raise ApiError(429, "overloaded", f"Too many exports are being made{mine}; retry in {retry} s.",
                       {"retry_after": int(retry)}, headers={"Retry-After": retry}) from None
    wait = limiter.acquire(client)
    if wait > 0:
        retry = RateLimiter.retry_after_header(wait)
        raise ApiError(429, "rate_limited", f"Too many exports and runs from your address. Retry in {retry} s "
                       "(exports already made are not limited).", {"retry_after": int(retry)},
                       headers={"Retry-After": retry})
    return await cache.get(key, fn, lambda f: pool.run(f, client))


class RenderCache:
    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.renders = 0  # renders made (a hit makes none), for tests and health
        self._done: OrderedDict[Key, str] = OrderedDict()
        self._pending: dict[Key, asyncio.Future[str]] = {}

    def has(self, key: Key) -> bool:
        """True when `get(key)` would make no render of its own (kept, or being made)."""
        return key in self._done or key in self._pending

    async def get(self, key: Key, render: Callable[[], str], run: Run = run_in_threadpool) -> str:
        """The render of `key`, made with `run(render)` when it is neither kept nor being made."""
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
            text = await run(render)
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
