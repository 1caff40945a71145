"""The render cache of exports: one render per stored trace and format, shared by concurrent requests."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from gradtrace.api.renders import RenderCache


def test_concurrent_requests_share_one_render_and_later_ones_reuse_it() -> None:
    calls: list[str] = []
    lock = threading.Lock()

    def render(name: str) -> str:
        with lock:
            calls.append(name)
        time.sleep(0.05)  # a slow render, so the concurrent requests overlap it
        return f"<{name}>" * 10

    async def scenario() -> list[str]:
        cache = RenderCache(max_bytes=1000)
        same = [cache.get(("a", "dot", 1.0), lambda: render("a")) for _ in range(5)]
        texts = await asyncio.gather(*same)
        texts.append(await cache.get(("a", "dot", 1.0), lambda: render("a")))
        # A re-run stored under the same id (new created_at) is rendered again.
        texts.append(await cache.get(("a", "dot", 2.0), lambda: render("a2")))
        assert cache.renders == 2
        return texts

    texts = asyncio.run(scenario())
    assert calls == ["a", "a2"] and texts[:6] == ["<a>" * 10] * 6 and texts[6] == "<a2>" * 10


def test_the_cache_is_bounded_and_a_failed_render_is_not_kept() -> None:
    async def scenario() -> None:
        cache = RenderCache(max_bytes=100)
        for i in range(5):
            await cache.get((str(i), "html", 0.0), lambda i=i: "x" * 40)
        assert cache.size <= 100 and cache.renders == 5
        await cache.get(("4", "html", 0.0), lambda: "never")  # the latest is kept
        assert cache.renders == 5
        await cache.get(("0", "html", 0.0), lambda: "y" * 40)  # the oldest was evicted
        assert cache.renders == 6
        await cache.get(("big", "html", 0.0), lambda: "z" * 500)  # bigger than the cache: not kept
        assert cache.size <= 100

        def broken() -> str:
            raise ValueError("bad trace")

        with pytest.raises(ValueError):
            await cache.get(("bad", "dot", 0.0), broken)
        assert await cache.get(("bad", "dot", 0.0), lambda: "fixed") == "fixed"

    asyncio.run(scenario())


def test_the_render_pool_bounds_renders_per_client_and_overall() -> None:
    from functools import partial

    from gradtrace.api.renders import RenderBusy, RenderPool

    async def scenario() -> None:
        pool = RenderPool(processes=1, queue=2, per_client=1)
        try:
            slow = asyncio.ensure_future(pool.run(partial(time.sleep, 1.0), "a"))  # type: ignore[arg-type]
            await asyncio.sleep(0)
            with pytest.raises(RenderBusy) as busy:
                pool.admit("a")
            assert busy.value.mine
            other = asyncio.ensure_future(pool.run(partial(str, "made elsewhere"), "b"))
            await asyncio.sleep(0)
            with pytest.raises(RenderBusy) as full:
                pool.admit("c")
            assert not full.value.mine
            slow.cancel()  # the client went away: its place stays taken until the render ends
            await asyncio.sleep(0)
            with pytest.raises(RenderBusy):
                pool.admit("a")
            assert await other == "made elsewhere"
            for _ in range(100):
                if not pool.active:
                    break
                await asyncio.sleep(0.05)
            pool.admit("a")
            assert pool.by_client == {}
        finally:
            pool.close()

    asyncio.run(scenario())


def test_the_render_pools_caps_are_the_settings() -> None:
    from gradtrace.api.app import create_app
    from gradtrace.api.state import AppState
    from gradtrace.settings import Settings

    app = create_app(Settings(max_exports_waiting=3, max_exports_per_client=1))  # (nothing started)
    state: AppState = app.state.gradtrace
    assert (state.render_pool.queue, state.render_pool.per_client) == (3, 1)
    defaults: AppState = create_app(Settings()).state.gradtrace
    assert (defaults.render_pool.queue, defaults.render_pool.per_client) == (16, 2)
