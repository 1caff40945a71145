"""Per-app state shared by the routes: settings, runner, store, rate limiter, counters."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from fastapi import Request

from gradtrace.api.ratelimit import RateLimiter
from gradtrace.api.renders import RenderCache, RenderPool
from gradtrace.api.runner import Runner
from gradtrace.api.storage import TraceStore
from gradtrace.settings import Settings


def installed_torch_version() -> str:
    """The torch the workers run, read from package metadata: the web process never imports torch."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:  # pragma: no cover - torch is a hard dependency
        return "unknown"


def tracer_fingerprint(package: Path | None = None) -> str:
    """A digest of the code that makes traces (the tracing core and the sandbox worker), read
    as files: the web process never imports it. Part of each trace's content address."""
    root = package or Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(p for part in ("core", "sandbox") for p in (root / part).rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@dataclass
class Counters:
    runs_started: int = 0
    runs_completed: int = 0
    cache_hits: int = 0
    rejected_overloaded: int = 0
    rejected_rate_limited: int = 0


@dataclass
class AppState:
    settings: Settings
    runner: Runner
    limiter: RateLimiter
    store_or_none: TraceStore | None = None  # opened by the lifespan unless given
    torch_version: str = field(default_factory=installed_torch_version)
    tracer: str = field(default_factory=tracer_fingerprint)
    started_at: float = field(default_factory=time.monotonic)
    counters: Counters = field(default_factory=Counters)
    # Identical concurrent requests share one run: id -> future of the stored trace JSON.
    in_flight: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    renders: RenderCache = field(default_factory=RenderCache)  # DOT / lesson.html of stored traces
    render_pool: RenderPool = field(default_factory=RenderPool)  # the process that makes them
    # Runs each client leads right now (queued or running), for `max_runs_per_client`.
    client_runs: dict[str, int] = field(default_factory=dict)

    @property
    def store(self) -> TraceStore:
        if self.store_or_none is None:
            raise RuntimeError("trace store is not open (the app's lifespan has not run)")
        return self.store_or_none


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.gradtrace
    return state
