"""Service metadata: health (sandbox alive, queue depth, version) and the trace JSON Schema."""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gradtrace import __version__
from gradtrace.api.errors import ApiError, ErrorEnvelope
from gradtrace.api.models import Health, HealthStats
from gradtrace.api.state import AppState, get_state
from gradtrace.api.storage import StoreUsage
from gradtrace.core.model import SCHEMA_VERSION, trace_json_schema

router = APIRouter(prefix="/api/v1", tags=["service"])
StateDep = Annotated[AppState, Depends(get_state)]


def _sandbox_ok(report: dict[str, Any]) -> bool:
    # The supervisor's report names liveness `zygote_alive` (fall back to `alive`/`ok`).
    for key in ("zygote_alive", "alive", "ok"):
        if key in report:
            return bool(report[key])
    return True


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def build_health(state: AppState, stored: StoreUsage) -> Health:
    try:
        report = dict(state.runner.health())
    except Exception as exc:  # a broken report must not break the health route
        report = {"zygote_alive": False, "error": type(exc).__name__}
    c = state.counters
    return Health(
        status="ok" if _sandbox_ok(report) else "degraded",
        version=__version__,
        torch_version=state.torch_version,
        schema_version=SCHEMA_VERSION,
        uptime_seconds=round(time.monotonic() - state.started_at, 3),
        zygote_alive=_sandbox_ok(report),
        queue_depth=_int(report.get("queued", report.get("queue_depth", 0))),
        running=_int(report.get("running", 0)),
        sandbox=report,
        stats=HealthStats(
            runs_started=c.runs_started,
            runs_completed=c.runs_completed,
            cache_hits=c.cache_hits,
            in_flight=len(state.in_flight),
            rejected_overloaded=c.rejected_overloaded,
            rejected_rate_limited=c.rejected_rate_limited,
        ),
        stored_traces=stored.traces,
        stored_bytes=stored.bytes,
        store_max_bytes=stored.max_bytes,
        evicted_traces=stored.evicted,
    )


@router.get(
    "/health",
    response_model=Health,
    responses={
        503: {"model": ErrorEnvelope, "description": "Degraded: the sandbox is not alive (detail = Health)."}
    },
    summary="Service health",
)
async def health(state: StateDep) -> Health:
    stored = await run_in_threadpool(state.store.usage)
    report = build_health(state, stored)
    if report.status != "ok":
        raise ApiError(
            503,
            "unhealthy",
            "The sandbox is not alive; traces cannot be run until it restarts.",
            report.model_dump(mode="json"),
        )
    return report


@cache
def _schema_bytes() -> bytes:
    return json.dumps(trace_json_schema(), indent=2).encode()


@router.get(
    "/schema",
    summary="JSON Schema of the trace document",
    responses={200: {"content": {"application/schema+json": {}}, "description": "The trace JSON Schema."}},
)
def schema(request: Request) -> Response:
    return Response(
        _schema_bytes(),
        media_type="application/schema+json",
        headers={"Cache-Control": "public, max-age=3600"},
    )
