"""Embedding pages: `/embed` (the widget), `/diff`, `/t/{id}` (share link), `/embed.js`, offline export.

Framing policy, applied by `FramingHeaders` to every response:
- the widget pages (`/embed`, `/diff`) may be framed by any site and carry a strict CSP (own
  scripts only, API calls to this origin only, no plugins, no forms, no <base>);
- everything else (the playground, `/t/{id}`, the API, docs) may not be framed at all
  (`X-Frame-Options: DENY` and `frame-ancestors 'none'`).
The widget never reads its parent: it only posts its height to the origin embed.js named.
"""

from __future__ import annotations

import html
import json
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gradtrace.api.errors import ApiError, echoed_id, trace_not_found
from gradtrace.api.renders import render
from gradtrace.api.routes.frontend import REVALIDATE, SHORT, resolve_static
from gradtrace.api.state import AppState, get_state
from gradtrace.api.storage import StoredTrace, is_valid_id

StateDep = Annotated[AppState, Depends(get_state)]

EMBED_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors *; "
    "base-uri 'none'; form-action 'none'; object-src 'none'"
)
APP_FRAME_CSP = "frame-ancestors 'none'"
FRAMEABLE_PATHS = frozenset({"/embed", "/diff"})

NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>gradtrace</title></head>
<body style="font-family: system-ui, sans-serif; margin: 1rem">
<p>The gradtrace widget is not built on this server. Run <code>npm ci &amp;&amp; npm run build</code>.</p>
</body></html>
"""

# /t/ID for an id nobody stored, when the playground is not built to say so itself.
SHARE_NOT_FOUND = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Trace not found · gradtrace</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>Trace not found</h1>
<p>No trace with the id <code>{id}</code> is stored here. Check the link: a trace nobody opened for a
long time may have been removed to keep storage bounded. Paste the code into the
<a href="/">playground</a> and run it again.</p>
</body></html>
"""


class FramingHeaders:
    """Adds the framing / CSP headers described in the module docstring (never overrides a route's own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        frameable = scope.get("path", "") in FRAMEABLE_PATHS

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if frameable:
                    if b"content-security-policy" not in names:
                        headers.append((b"content-security-policy", EMBED_CSP.encode()))
                else:
                    if b"x-frame-options" not in names:
                        headers.append((b"x-frame-options", b"DENY"))
                    if b"content-security-policy" not in names:
                        headers.append((b"content-security-policy", APP_FRAME_CSP.encode()))
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, wrapped)


def _page(static_dir: Path, name: str) -> Response:
    path = resolve_static(static_dir, name)
    if path is None:
        return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": REVALIDATE})
    return HTMLResponse(path.read_text(encoding="utf-8"), headers={"Cache-Control": REVALIDATE})


async def _stored(state: AppState, trace_id: str) -> StoredTrace:
    stored = await run_in_threadpool(state.store.get, trace_id) if is_valid_id(trace_id) else None
    if stored is None:
        raise trace_not_found(trace_id)
    return stored


def build_router(static_dir: Path) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.api_route("/embed", methods=["GET", "HEAD"])
    def embed_page() -> Response:
        return _page(static_dir, "embed.html")

    @router.api_route("/diff", methods=["GET", "HEAD"])
    def diff_page() -> Response:
        return _page(static_dir, "diff.html")

    @router.api_route("/embed.js", methods=["GET", "HEAD"])
    def embed_js() -> Response:
        path = resolve_static(static_dir, "embed.js")
        if path is None:
            body = "console.error('gradtrace: embed.js is not built on this server (npm run build).');\n"
            return Response(body, status_code=503, media_type="text/javascript; charset=utf-8")
        return Response(
            path.read_bytes(),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": SHORT, "Cross-Origin-Resource-Policy": "cross-origin"},
        )

    @router.api_route("/t/{trace_id}", methods=["GET", "HEAD"])
    async def share_page(trace_id: str, state: StateDep) -> Response:
        # A page for people, never the API's JSON (that is /api/v1/traces/ID): an unknown id is
        # still the playground, answered 404, which says the trace was not found when its
        # /embed/data/ID request fails; unbuilt, a short page says it.
        page = _page(static_dir, "index.html")
        if is_valid_id(trace_id) and state.store.peek(trace_id) is not None:
            return page
        if page.status_code != 200:
            page = HTMLResponse(
                SHARE_NOT_FOUND.format(id=html.escape(echoed_id(trace_id))), headers={"Cache-Control": REVALIDATE}
            )
        page.status_code = 404
        return page

    @router.get("/embed/data/{trace_id}")
    async def embed_data(trace_id: str, state: StateDep) -> Response:
        """Source + trace of a stored id, for `/embed?trace=ID` (the public trace API omits the source)."""
        stored = await _stored(state, trace_id)
        head = f'{{"id":{json.dumps(stored.id)},"source":{json.dumps(stored.source)},"trace":'
        body = head + stored.trace_json + "}"
        return Response(body, media_type="application/json", headers={"Cache-Control": SHORT})

    @router.get("/t/{trace_id}/lesson.html")
    async def export_html(trace_id: str, request: Request, state: StateDep) -> Response:
        from gradtrace.core.export_html import ViewerNotBuilt, render_html

        stored = await _stored(state, trace_id)
        make = partial(render_html, stored.trace_json, stored.source, title=f"gradtrace {trace_id[:8]}",
                       static_dir=static_dir)
        try:
            text = await render(
                state.renders, state.render_pool, state.limiter, request, state.settings.trust_forwarded_for,
                (stored.id, "html", stored.created_at), make,
            )
        except ViewerNotBuilt as exc:
            raise ApiError(503, "viewer_not_built", str(exc), None) from None
        return HTMLResponse(
            text,
            headers={
                "Content-Disposition": f'attachment; filename="gradtrace-{trace_id[:12]}.html"',
                "Cache-Control": SHORT,
            },
        )

    return router
