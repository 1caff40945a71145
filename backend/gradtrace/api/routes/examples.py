"""The built-in examples (read from package files; no torch needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from gradtrace.api.errors import ApiError, ErrorEnvelope
from gradtrace.api.models import ExampleDetail, ExampleList, ExampleSummary
from gradtrace.core.examples import get_example, list_examples

router = APIRouter(prefix="/api/v1", tags=["examples"])

_CACHE = "public, max-age=300"  # examples change only with a new release


@router.get("/examples", response_model=ExampleList, summary="List the built-in examples")
def examples_index(response: Response) -> ExampleList:
    response.headers["Cache-Control"] = _CACHE
    return ExampleList(
        examples=[
            ExampleSummary(name=e.name, title=e.title, description=e.description, tags=list(e.tags))
            for e in list_examples()
        ]
    )


@router.get(
    "/examples/{name}",
    response_model=ExampleDetail,
    responses={404: {"model": ErrorEnvelope, "description": "No example with this name."}},
    summary="One built-in example with its source",
)
def example_detail(
    name: Annotated[str, Path(description="Example name from GET /api/v1/examples.")], response: Response
) -> ExampleDetail:
    try:
        e = get_example(name)
    except KeyError as exc:
        raise ApiError(
            404,
            "example_not_found",
            f"No built-in example named {name!r}. GET /api/v1/examples lists them.",
            {"name": name, "known": [x.name for x in list_examples()]},
        ) from exc
    response.headers["Cache-Control"] = _CACHE
    return ExampleDetail(
        name=e.name, title=e.title, description=e.description, tags=list(e.tags), source=e.source
    )
