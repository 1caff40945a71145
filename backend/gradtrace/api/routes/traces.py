"""POST/GET traces: run a snippet in the sandbox (or serve it from storage), and stream a run live.

Flow of a POST: validate -> content address -> storage hit? answer -> rate limit -> join an
identical in-flight run or start one -> store -> answer. Overload and rate limits answer at once
(429 + Retry-After) instead of queueing more work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from gradtrace.api.errors import ApiError, ErrorEnvelope, trace_not_found
from gradtrace.api.limits import resolve_limits
from gradtrace.api.models import StreamDropped, StreamStart, TraceRequest, TraceResponse
from gradtrace.api.ratelimit import RateLimiter, client_key, release
from gradtrace.api.renders import dot_of, render
from gradtrace.api.runner import OnEvent, Overloaded, SandboxUnavailable, is_cacheable, sandbox_down
from gradtrace.api.state import AppState, get_state
from gradtrace.api.storage import is_valid_id, trace_id
from gradtrace.core.model import SCHEMA_VERSION, Trace

log = logging.getLogger("gradtrace.api")
router = APIRouter(prefix="/api/v1", tags=["traces"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope, "description": "Malformed JSON."},
    408: {"model": ErrorEnvelope, "description": "The body did not arrive within request_body_seconds."},
    413: {"model": ErrorEnvelope, "description": "Body or source too large."},
    422: {"model": ErrorEnvelope, "description": "Invalid fields (which field, and what to do)."},
    429: {"model": ErrorEnvelope, "description": "Rate limited or sandbox queue full; see Retry-After."},
    500: {"model": ErrorEnvelope, "description": "Internal fault (logged; the server keeps serving)."},
    503: {"model": ErrorEnvelope, "description": "Sandbox unavailable."},
}

StateDep = Annotated[AppState, Depends(get_state)]


def trace_json_text(trace: dict[str, Any]) -> str:
    """Compact JSON of a validated trace dict; NaN/inf become strings as the model serializes them."""
    try:
        return json.dumps(trace, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        return Trace.model_validate(trace).model_dump_json()


def envelope_bytes(tid: str, cached: bool, trace_json: str) -> bytes:
    # Spliced, not re-serialized: a stored trace is sent byte for byte as it was validated.
    head = '{"id":' + json.dumps(tid) + ',"cached":' + ("true" if cached else "false") + ',"trace":'
    return (head + trace_json + "}").encode()


def _json_response(tid: str, cached: bool, trace_json: str) -> Response:
    headers = {"ETag": f'"{tid}"'}
    headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    return Response(envelope_bytes(tid, cached, trace_json), media_type="application/json", headers=headers)


class _Prepared:
    __slots__ = ("source", "options", "run_limits", "id")

    def __init__(self, source: str, options: dict[str, Any], run_limits: Any, tid: str) -> None:
        self.source, self.options, self.run_limits, self.id = source, options, run_limits, tid


def _prepare(state: AppState, body: TraceRequest) -> _Prepared:
    max_source = state.settings.sandbox.source_bytes
    size = len(body.source.encode("utf-8", "surrogatepass"))
    if size > max_source:
        raise ApiError(
            413,
            "source_too_large",
            f"The snippet is {size} bytes; the limit is {max_source} bytes. Shorten it.",
            {"size": size, "limit": max_source},
        )
    options, run_limits = resolve_limits(body.limits, state.settings.sandbox)
    tid = trace_id(body.source, options, state.torch_version, SCHEMA_VERSION, state.tracer)
    return _Prepared(body.source, options, run_limits, tid)


async def _cached(state: AppState, tid: str) -> str | None:
    # Probe on the loop first: a miss (every run, every overload rejection) costs no thread hop.
    if not state.store.peek(tid):
        return None
    stored = await run_in_threadpool(state.store.get, tid)
    if stored is None or not stored.cacheable:
        return None
    state.counters.cache_hits += 1
    return stored.trace_json


def _check_rate(state: AppState, request: Request) -> str:
    """Refuse a client over its rate or its share of the sandbox; returns who the client is."""
    client = client_key(request, state.settings.trust_forwarded_for)
    cap = state.settings.max_runs_per_client
    if cap and state.client_runs.get(client, 0) >= cap:
        # One client must not fill every slot and queue place (10 sleeping snippets did, within
        # the rate limit, and everyone else got 429 overloaded).
        state.counters.rejected_rate_limited += 1
        raise ApiError(
            429,
            "too_many_runs",
            f"You already have {cap} runs waiting or running, the most one address may have at once. "
            "Wait for one to finish, then retry.",
            {"retry_after": 5, "limit": cap},
            headers={"Retry-After": "5"},
        )
    wait = state.limiter.acquire(client)
    if wait > 0:
        state.counters.rejected_rate_limited += 1
        retry = RateLimiter.retry_after_header(wait)
        raise ApiError(
            429,
            "rate_limited",
            f"Too many runs from your address. Retry in {retry} s (answers for snippets already "
            "traced are not limited).",
            {"retry_after": int(retry)},
            headers={"Retry-After": retry},
        )
    return client


def _store(state: AppState, prep: _Prepared, trace: dict[str, Any], client: str | None) -> str:
    """Serialize and store (in a worker thread: an 8 MiB trace must not stall the event loop),
    counted against `client`'s share of the storage budget."""
    text = trace_json_text(trace)
    state.store.put(
        prep.id,
        status=str(trace.get("status", "error")),
        trace_json=text,
        source=prep.source,
        options=prep.options,
        cacheable=is_cacheable(trace),
        client=client,
    )
    return text


async def _run(
    state: AppState, prep: _Prepared, on_event: OnEvent | None, client: str | None = None
) -> tuple[str, str]:
    """Run (or join an identical in-flight run); store the result; return (trace JSON, Server-Timing).
    `client`: who asked, counted against `max_runs_per_client` while a run it leads is active."""
    existing = state.in_flight.get(prep.id)
    if existing is not None:
        try:
            result: tuple[str, str] = await asyncio.shield(existing)
            return result
        except asyncio.CancelledError:
            if not existing.cancelled():
                raise  # this request itself was cancelled
            # The request that led the run went away and took it down: run it for this one instead.
    future: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
    state.in_flight[prep.id] = future
    if client is not None:
        state.client_runs[client] = state.client_runs.get(client, 0) + 1
    try:
        state.counters.runs_started += 1
        try:
            started = time.perf_counter()
            trace = await state.runner.run(prep.source, limits=prep.run_limits, on_event=on_event)
            run_ms = (time.perf_counter() - started) * 1000
        except Overloaded as exc:
            state.counters.runs_started -= 1  # it never ran
            state.counters.rejected_overloaded += 1
            retry = RateLimiter.retry_after_header(exc.retry_after)
            raise ApiError(
                429,
                "overloaded",
                f"All sandbox workers are busy and the queue is full. Retry in {retry} s.",
                {"retry_after": int(retry)},
                headers={"Retry-After": retry},
            ) from None
        except SandboxUnavailable:
            trace = {"status": "error", "error": {"kind": "sandbox_unavailable"}}
        if sandbox_down(trace):
            raise ApiError(
                503,
                "sandbox_unavailable",
                "The sandbox is not running; snippets cannot be traced right now. Retry later.",
                headers={"Retry-After": "5"},
            )
        started = time.perf_counter()
        text = await run_in_threadpool(partial(_store, state, prep, trace, client))
        state.counters.runs_completed += 1
        # Server-Timing: how much of the answer was the sandbox and how much the API (and storage).
        timing = f"sandbox;dur={run_ms:.1f}, store;dur={(time.perf_counter() - started) * 1000:.1f}"
        future.set_result((text, timing))
        return text, timing
    except asyncio.CancelledError:
        future.cancel()
        raise
    except BaseException as exc:
        if not future.done():
            future.set_exception(exc)
            future.exception()  # mark retrieved: nobody else may be waiting
        raise
    finally:
        state.in_flight.pop(prep.id, None)
        if client is not None:
            release(state.client_runs, client)


@router.post(
    "/traces",
    response_model=TraceResponse,
    responses=_ERRORS,
    summary="Trace a snippet",
    description="Runs the snippet in the sandbox (or serves the stored trace of an identical request) and "
    "returns the trace document with its content-addressed id. A snippet that raises is a result "
    '(`trace.status == "error"`), not an HTTP error.',
)
async def create_trace(body: TraceRequest, request: Request, state: StateDep) -> Response:
    prep = _prepare(state, body)
    hit = await _cached(state, prep.id)
    if hit is not None:
        return _json_response(prep.id, True, hit)
    client = None if prep.id in state.in_flight else _check_rate(state, request)
    text, timing = await _run(state, prep, None, client)
    response = _json_response(prep.id, False, text)
    response.headers["Server-Timing"] = timing
    return response


def _sse(event: str, data: str, event_id: int | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    # data never contains raw newlines: it is compact JSON.
    lines.append(f"data: {data}")
    return ("\n".join(lines) + "\n\n").encode()


@router.post(
    "/traces/stream",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-Sent Events: `start` (StreamStart), then `timeline` (one trace Event each) while "
            "the snippet runs, `dropped` (StreamDropped) if the reader was too slow, and finally `trace` "
            "(TraceResponse) or `error` (ErrorEnvelope).",
        },
        **_ERRORS,
    },
    response_class=StreamingResponse,
    summary="Trace a snippet, streaming the timeline live (SSE)",
)
async def stream_trace(body: TraceRequest, request: Request, state: StateDep) -> Response:
    prep = _prepare(state, body)
    hit = await _cached(state, prep.id)
    if hit is not None:
        return _stream_response(_replay(prep.id, hit))
    joined = prep.id in state.in_flight
    client = None if joined else _check_rate(state, request)

    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=state.settings.stream_buffer_events)
    dropped = 0

    async def on_event(event: dict[str, Any]) -> None:
        nonlocal dropped
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            dropped += 1  # never block the run on a slow reader

    task = asyncio.create_task(_run(state, prep, None if joined else on_event, client))
    # Let an immediate rejection (queue full, sandbox down) become a plain HTTP error, not a stream:
    # the supervisor decides before its first suspension, which these two loop turns cover.
    for _ in range(2):
        await asyncio.sleep(0)
    if task.done() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]

    async def events() -> AsyncIterator[bytes]:
        nonlocal dropped
        yield _sse("start", StreamStart(id=prep.id, cached=False).model_dump_json())
        getter: asyncio.Task[dict[str, Any]] | None = None
        try:
            while True:
                if getter is None:
                    getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({task, getter}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    yield b": keep-alive\n\n"
                    continue
                if getter in done:
                    event = getter.result()
                    getter = None
                    yield _sse("timeline", json.dumps(event, separators=(",", ":")), event.get("seq"))
                    continue
                break  # the run finished: flush what is queued, then the trace
            if getter is not None:
                getter.cancel()
                getter = None
            while not queue.empty():
                event = queue.get_nowait()
                yield _sse("timeline", json.dumps(event, separators=(",", ":")), event.get("seq"))
            if dropped:
                yield _sse("dropped", StreamDropped(count=dropped).model_dump_json())
            exc = task.exception()
            if exc is None:
                text, _timing = task.result()
                yield _sse("trace", envelope_bytes(prep.id, False, text).decode())
            elif isinstance(exc, ApiError):
                err = {"error": {"code": exc.code, "message": exc.message, "detail": exc.detail}}
                yield _sse("error", json.dumps(err))
            else:
                log.error("stream run failed", exc_info=exc)
                err = {
                    "error": {
                        "code": "internal_error",
                        "message": "The run failed unexpectedly.",
                        "detail": None,
                    }
                }
                yield _sse("error", json.dumps(err))
        finally:
            if getter is not None:
                getter.cancel()
            # A client that went away does not cancel the run: it finishes and lands in storage.
            if not task.done():
                task.add_done_callback(_swallow)

    return _stream_response(events())


def _swallow(task: asyncio.Task[Any]) -> None:
    with contextlib.suppress(BaseException):
        task.exception()


async def _replay(tid: str, trace_json: str) -> AsyncIterator[bytes]:
    yield _sse("start", StreamStart(id=tid, cached=True).model_dump_json())
    yield _sse("trace", envelope_bytes(tid, True, trace_json).decode())


def _stream_response(gen: AsyncIterator[bytes]) -> StreamingResponse:
    # X-Accel-Buffering: proxies such as nginx must pass events through as they come.
    return StreamingResponse(
        gen,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/traces/{trace_id}",
    response_model=TraceResponse,
    responses={
        200: {
            "content": {"text/vnd.graphviz": {}},
            "description": "The trace (JSON), or Graphviz DOT with ?format=dot.",
        },
        400: {"model": ErrorEnvelope, "description": "Unsupported format."},
        404: {"model": ErrorEnvelope, "description": "No trace with this id."},
    },
    summary="A stored trace (share link)",
)
async def get_trace(
    state: StateDep,
    request: Request,
    trace_id: Annotated[str, Path(description="The id returned by POST /api/v1/traces.")],
    format: Annotated[str, Query(description="`json` (default) or `dot` (Graphviz).")] = "json",
) -> Response:
    fmt = format.lower()
    if fmt not in ("json", "dot"):
        raise ApiError(
            400,
            "unsupported_format",
            f"Unsupported format {format!r}. Use ?format=json or ?format=dot.",
            {"supported": ["json", "dot"]},
        )
    stored = await run_in_threadpool(state.store.get, trace_id) if is_valid_id(trace_id) else None
    if stored is None:
        raise trace_not_found(trace_id)
    etag = f'"{trace_id}-{fmt}"'
    if request.headers.get("if-none-match") == etag and stored.cacheable:
        return Response(status_code=304, headers={"ETag": etag})
    if fmt == "dot":
        dot = await render(
            state.renders, state.render_pool, state.limiter, request, state.settings.trust_forwarded_for,
            (stored.id, "dot", stored.created_at), partial(dot_of, stored.trace_json),
        )
        return Response(
            dot,
            media_type="text/vnd.graphviz; charset=utf-8",
            headers={"ETag": etag, "Content-Disposition": f'inline; filename="gradtrace-{trace_id}.dot"'},
        )
    response = _json_response(trace_id, True, stored.trace_json)
    response.headers["ETag"] = etag
    return response
