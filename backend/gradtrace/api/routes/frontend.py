"""The built playground at `/` (Vite output in gradtrace/static), or a placeholder when it is not built.

Cache policy: HTML is revalidated on every load (`no-cache`) so a deploy shows up at once;
Vite's content-hashed files under `assets/` never change and are cached for a year. Other
files are served by the 404 fallback, so any route added later (`/embed`, `/t/{id}`,
`/embed.js`, issue 5) takes precedence over a file of the same name.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SHORT = "public, max-age=3600"

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gradtrace</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>gradtrace</h1>
<p>The API is running, but the playground has not been built yet.
Run <code>npm ci &amp;&amp; npm run build</code> (or <code>make setup</code>) and reload.</p>
<ul>
<li><a href="/docs">API documentation (OpenAPI)</a></li>
<li><a href="/api/v1/examples">Built-in examples</a></li>
<li><a href="/api/v1/health">Health</a></li>
</ul>
</body></html>
"""


def cache_control_for(relative: str) -> str:
    if relative.endswith(".html"):
        return REVALIDATE
    if relative.startswith("assets/"):
        return IMMUTABLE
    return SHORT


def resolve_static(static_dir: Path, relative: str) -> Path | None:
    """The file under static_dir named by `relative`, or None (never escapes static_dir)."""
    root = static_dir.resolve()
    try:
        candidate = (root / relative).resolve()
    except (OSError, ValueError):
        return None
    if root != candidate and root not in candidate.parents:
        return None
    return candidate if candidate.is_file() else None


def _file(path: Path, relative: str, request: Request | None = None) -> Response:
    media_type, _ = mimetypes.guess_type(path.name)
    response = FileResponse(
        path, media_type=media_type or "application/octet-stream", stat_result=os.stat(path)
    )
    etag = response.headers.get("etag")
    if request is not None and etag and request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": cache_control_for(relative)})
    response.headers["Cache-Control"] = cache_control_for(relative)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def build_router(static_dir: Path) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def index(request: Request) -> Response:
        path = resolve_static(static_dir, "index.html")
        if path is None:
            return HTMLResponse(PLACEHOLDER, headers={"Cache-Control": REVALIDATE})
        return _file(path, "index.html", request)

    return router


def static_fallback(static_dir: Path, request: Request) -> Response | None:
    """Serve a built file for a GET that matched no route (called from the 404 handler).

    Done as a fallback rather than a catch-all route so unknown API paths keep their 404 and
    wrong methods on real routes keep their 405.
    """
    if request.method not in ("GET", "HEAD"):
        return None
    relative = request.url.path.lstrip("/")
    if not relative or relative.startswith("api/"):
        return None
    path = resolve_static(static_dir, relative)
    return _file(path, relative, request) if path is not None else None
