"""`create_app(settings, runner)`: the FastAPI application of the REST API v1.

Wires the routes, the error envelope, the body-size guard and the lifespan that starts and
stops the sandbox supervisor and opens the trace store. Nothing here imports torch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gradtrace import __version__
from gradtrace.api.errors import error_response, install_error_handlers
from gradtrace.api.ratelimit import RateLimiter, client_key, release
from gradtrace.api.renders import RenderPool
from gradtrace.api.routes import embed, examples, frontend, meta, traces
from gradtrace.api.runner import Runner, SandboxUnavailable
from gradtrace.api.state import AppState
from gradtrace.api.storage import SQLiteTraceStore, TraceStore
from gradtrace.settings import Settings

log = logging.getLogger("gradtrace.api")

DESCRIPTION = """Trace PyTorch snippets' autograd graphs in a sandbox.

Every non-2xx response has the body `{"error": {"code", "message", "detail"}}` (see docs/api.md
for the codes). Trace ids are content addresses: the same snippet and options give the same id,
served from storage without running again.
"""


class HeadAsGet:
    """HEAD is GET without the body (RFC 9110) on every route: load balancers probe /health
    with HEAD, which the API's GET routes answered 405. The server (uvicorn) still sees the
    request as HEAD and sends no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "HEAD":
            scope = dict(scope, method="GET")
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Read request bodies before the route does, bounded: over `limit` bytes is a 413 (also
    without Content-Length), slower than `seconds` a 408, and past `uploads` bodies being read
    at once (or `per_client` from one address) a 429, so slow clients cannot hold the server's
    memory, and one client's slow uploads cannot lock the others out."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        seconds: float = 10.0,
        uploads: int = 64,
        per_client: int = 8,
        trust_forwarded_for: bool = False,
    ) -> None:
        self.app = app
        self.limit = limit
        self.seconds = seconds
        self.uploads = uploads
        self.per_client = per_client
        self.trust_forwarded_for = trust_forwarded_for
        self.reading = 0
        self.reading_by: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await self._reject(scope, receive, send)
                    return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        # Read the (bounded) body here: stopping mid-way inside the route would surface as a 400.
        client = client_key(HTTPConnection(scope), self.trust_forwarded_for)
        mine = self.reading_by.get(client, 0)
        if self.reading >= self.uploads or mine >= self.per_client:
            await error_response(
                429, "overloaded",
                "Too many requests are sending their bodies right now"
                + (" from your address" if mine >= self.per_client else "") + "; retry in a moment.",
                {"retry_after": 1}, {"Retry-After": "1"},
            )(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        self.reading += 1
        self.reading_by[client] = mine + 1
        try:
            async with asyncio.timeout(self.seconds):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    received += len(chunk)
                    if received > self.limit:
                        await self._reject(scope, receive, send)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            chunks.clear()
            await error_response(
                408, "request_timeout",
                f"The request body did not arrive within {self.seconds:g} s. Send it in one go.",
                {"received_bytes": received},
            )(scope, receive, send)
            return
        finally:
            self.reading -= 1
            release(self.reading_by, client)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later calls wait for the disconnect, as usual

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"The request body exceeds {self.limit} bytes. Send a shorter snippet.",
            {"limit": self.limit},
        )
        await response(scope, receive, send)


def _default_runner(settings: Settings) -> Runner:
    from gradtrace.sandbox.supervisor import Supervisor  # parent side only: no torch here

    limits = settings.sandbox
    if settings.allow_weaker_sandbox and not limits.allow_weaker:
        limits = limits.model_copy(update={"allow_weaker": True})
    supervisor: Any = Supervisor(limits)
    return supervisor  # type: ignore[no-any-return]


# Request-side schemas keep optional fields optional; every other schema describes JSON we emit
# with all fields present, so the generated TypeScript types may rely on them.
_INPUT_SCHEMAS = frozenset({"TraceRequest", "RunLimits"})


def _install_openapi(app: FastAPI) -> None:
    from fastapi.openapi.utils import get_openapi
    from pydantic.json_schema import models_json_schema

    from gradtrace.api.models import StreamDropped, StreamStart

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
        # Stream payloads are not response bodies of their own; publish them for the client types.
        _, extra = models_json_schema(
            [(StreamStart, "serialization"), (StreamDropped, "serialization")],
            ref_template="#/components/schemas/{model}",
        )
        for name, schema in extra.get("$defs", {}).items():
            schemas.setdefault(name, schema)
        # FastAPI's default 422 model is replaced by our envelope everywhere.
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        for path in doc.get("paths", {}).values():
            for operation in path.values():
                response = operation.get("responses", {}).get("422")
                if response is not None:
                    response["description"] = response.get("description", "Validation Error").replace(
                        "Validation Error", "Invalid fields (which field, and what to do)."
                    )
                    response["content"] = {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
                    }
        for name, schema in schemas.items():
            if name not in _INPUT_SCHEMAS and "properties" in schema:
                schema["required"] = list(schema["properties"])
        app.openapi_schema = doc
        return doc

    app.openapi = custom_openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings | None = None,
    runner: Runner | None = None,
    store: TraceStore | None = None,
) -> FastAPI:
    """Build the app. The runner starts in the lifespan (so `openapi()` never starts a sandbox)."""
    settings = settings or Settings()
    run: Runner = runner if runner is not None else _default_runner(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: AppState = app.state.gradtrace
        if state.store_or_none is None:
            state.store_or_none = SQLiteTraceStore(
                settings.database_path,
                settings.sqlite_synchronous,
                max_bytes=settings.store_max_bytes,
                client_share=settings.store_client_share,
            )
        try:
            await state.runner.start()
        except SandboxUnavailable as exc:
            state.store.close()
            log.error(
                "the sandbox cannot start: %s. Run as root on Linux with namespaces available, or accept the "
                "documented weaker mode with --allow-weaker-sandbox (GRADTRACE_ALLOW_WEAKER_SANDBOX=true).",
                exc,
            )
            raise
        except BaseException:
            state.store.close()
            raise
        log.info("gradtrace %s serving; traces in %s", __version__, settings.database_path)
        try:
            yield
        finally:
            try:
                state.render_pool.close()
                await state.runner.close()
            finally:
                state.store.close()

    app = FastAPI(
        title="gradtrace API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.gradtrace = AppState(
        settings=settings,
        runner=run,
        store_or_none=store,
        limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
        render_pool=RenderPool(queue=settings.max_exports_waiting, per_client=settings.max_exports_per_client),
    )
    _install_openapi(app)
    install_error_handlers(app, lambda request: frontend.static_fallback(settings.static_dir, request))
    app.include_router(traces.router)
    app.include_router(examples.router)
    app.include_router(meta.router)
    app.include_router(embed.build_router(settings.static_dir))
    app.include_router(frontend.build_router(settings.static_dir))
    app.add_middleware(
        BodySizeLimit, limit=settings.max_request_bytes, seconds=settings.request_body_seconds,
        uploads=settings.max_body_uploads, per_client=settings.max_body_uploads_per_client,
        trust_forwarded_for=settings.trust_forwarded_for,
    )
    app.add_middleware(embed.FramingHeaders)
    app.add_middleware(HeadAsGet)
    return app
