"""The one JSON error envelope: `{"error": {"code", "message", "detail"}}` for every non-2xx answer.

Every failure path of the API (our own `ApiError`, FastAPI's validation errors, Starlette's
404/405, malformed JSON, unexpected exceptions) goes through the handlers installed here, so a
client only ever has to parse one shape. Internal errors never leak tracebacks or paths.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("gradtrace.api")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable key, e.g. `trace_not_found`, `rate_limited`.")
    message: str = Field(description="What went wrong and what to do about it, for humans.")
    detail: Any = Field(default=None, description="Structured context (e.g. the invalid fields), or null.")


class ErrorEnvelope(BaseModel):
    """The body of every non-2xx response."""

    error: ErrorBody


# An id is 32 characters; a path can hold 100 KB, which the 404 used to echo whole.
ECHOED_ID_CHARS = 64


def echoed_id(trace_id: str) -> str:
    """The id as a 404 repeats it: at most ECHOED_ID_CHARS characters, then an ellipsis."""
    return trace_id if len(trace_id) <= ECHOED_ID_CHARS else trace_id[:ECHOED_ID_CHARS] + "…"


def trace_not_found(trace_id: str) -> ApiError:
    """404 for an id that is not stored: never made here, mistyped, or evicted by the storage budget."""
    return ApiError(
        404,
        "trace_not_found",
        "No trace with this id is stored here (the id may be mistyped, or the trace was not opened for a long "
        "time and was removed to keep storage bounded). Re-post the snippet to POST /api/v1/traces to trace it "
        "again: the same snippet gets the same id.",
        {"id": echoed_id(trace_id)},
    )


class ApiError(Exception):
    """Raise anywhere in a route to answer with the envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers


def error_response(
    status: int, code: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "detail": detail}}
    return JSONResponse(body, status_code=status, headers=headers)


# Starlette raises bare HTTPExceptions for routing failures; give them stable codes.
_HTTP_CODES = {
    400: ("bad_request", "The request could not be understood."),
    404: ("not_found", "No such route. The API lives under /api/v1 (see /docs)."),
    405: ("method_not_allowed", "This route does not accept that HTTP method (see /docs)."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Send the body as application/json."),
}


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    return ".".join(parts)


def _hint(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    loc = err.get("loc", ())
    field = str(loc[-1]) if loc else ""
    if kind == "missing":
        if field == "source":
            return "Send a JSON object with a `source` string holding the Python snippet."
        return f"Add the required field `{field}`."
    if kind == "extra_forbidden":
        return f"Remove the unknown field `{field}` (see /docs for the accepted fields)."
    if kind == "number_type":
        return f"Give `{field}` a number (such as 5), not {(err.get('ctx') or {}).get('given')}."
    if kind in ("int_from_float", "int_parsing"):
        return f"Give `{field}` a whole number (such as 2), not {err.get('input')!r}."
    if kind in ("string_type", "int_type", "float_type", "bool_type", "dict_type", "model_type"):
        return f"Give `{field}` the expected type: {err.get('msg', '')}."
    if kind in ("less_than_equal", "greater_than_equal", "greater_than", "less_than"):
        return f"Keep `{field}` within the server's bounds: {err.get('msg', '')}."
    return str(err.get("msg", "Fix this field."))


_MAX_FIELD_ERRORS = 20


def _validation_response(exc: RequestValidationError, content_type: str | None = None) -> JSONResponse:
    errors = exc.errors()
    for err in errors:
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            return error_response(
                400,
                "malformed_json",
                "The request body is not valid JSON. Send a JSON object such as "
                '{"source": "import torch\\n..."} with Content-Type: application/json.',
                {"position": err.get("loc", [None, None])[-1], "reason": ctx.get("error")},
            )
    fields = []
    # A small body can hold thousands of bad fields (50,000 unknown keys made a 12 MB answer):
    # the first few say what to fix; the rest are counted.
    more = max(0, len(errors) - _MAX_FIELD_ERRORS)
    errors = errors[:_MAX_FIELD_ERRORS]
    for err in errors:
        loc = err.get("loc", ())
        fields.append(
            {
                "field": _field_path(loc),
                "problem": str(err.get("msg", "")),
                "type": err.get("type"),
                "hint": _hint(err),
            }
        )
    if more:
        fields.append({"field": "body", "problem": f"{more} more problems not listed", "type": "too_many_errors",
                       "hint": "Fix the fields above first."})
    body_root = [f for f in fields if f["field"] == "body"]
    sent_as = (content_type or "").split(";")[0].strip()
    is_json = sent_as.lower() == "application/json" or sent_as.lower().endswith("+json")
    if body_root and body_root[0]["type"] in ("model_attributes_type", "dict_type", "missing") and not is_json:
        # FastAPI reads only JSON-typed bodies as JSON: the object may well be right.
        how = f"as {sent_as!r}" if sent_as else "without a Content-Type header"
        message = (
            f"The body was sent {how}, so it was not read as JSON. Send it with the header "
            'Content-Type: application/json (a JSON object such as {"source": "..."}).'
        )
    elif body_root and body_root[0]["type"] in ("model_attributes_type", "dict_type", "missing"):
        message = 'The body must be a JSON object such as {"source": "..."}.'
    else:
        message = "Invalid request: " + "; ".join(f"{f['field']}: {f['hint']}" for f in fields)
    return error_response(422, "validation_error", message, fields)


NotFoundFallback = Callable[[Request], Response | None]


def install_error_handlers(app: FastAPI, not_found_fallback: NotFoundFallback | None = None) -> None:
    """Route every failure through the envelope; a 404 may first be offered to `not_found_fallback`."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc, request.headers.get("content-type"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and not_found_fallback is not None:
            fallback = not_found_fallback(request)
            if fallback is not None:
                return fallback
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI reads JSON bodies as UTF-8; a body that is not says only "400".
            bad = exc.__cause__
            return error_response(
                400,
                "malformed_json",
                "The request body is not valid UTF-8, so it is not valid JSON. Send the snippet as "
                "UTF-8 text in a JSON object such as {\"source\": \"import torch\\n...\"}.",
                {"position": bad.start, "reason": f"byte 0x{bad.object[bad.start]:02x} at offset {bad.start} is not UTF-8"},
            )
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError | ValueError):
            # The JSON parser gave up: nested deeper than it recurses, or an integer with more
            # digits than Python converts (4,300). Either way the body is not usable JSON here.
            cause = exc.__cause__
            reason = (
                "nested too deeply" if isinstance(cause, RecursionError) else str(cause).split(";")[0][:200]
            )
            return error_response(
                400,
                "malformed_json",
                f"The request body could not be parsed as JSON ({reason}). Send a JSON object such as "
                '{"source": "import torch\\n..."} with plain values.',
                {"position": None, "reason": reason},
            )
        code, default_message = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error."))
        message = default_message
        if exc.status_code not in _HTTP_CODES and isinstance(exc.detail, str):
            message = exc.detail
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, message, None, headers)

    app.add_middleware(InternalErrors)


def internal_error_response(method: str, path: str) -> JSONResponse:
    # Log the details server-side (the caller is inside `except`), give the client only an id to quote.
    incident = uuid.uuid4().hex[:12]
    log.exception("internal error %s on %s %s", incident, method, path)
    return error_response(
        500,
        "internal_error",
        "The server hit an unexpected error. Retry later; quote the incident id if it persists.",
        {"incident": incident},
    )


class InternalErrors:
    """Turn an unexpected exception into the 500 envelope *inside* the app.

    Starlette's own last-resort handler re-raises to the server, which then drops the
    keep-alive connection; answering here keeps the connection (and the client) healthy.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:  # too late for a status code: let the server close the connection
                raise
            response = internal_error_response(scope.get("method", ""), scope.get("path", ""))
            await response(scope, receive, send)
