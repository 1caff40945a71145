"""Request and response models of the REST API v1 (they shape the OpenAPI the frontend's types come from)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gradtrace.core.model import Event, Trace
from gradtrace.sandbox.limits import RunLimits


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TraceRequest(_Strict):
    source: str = Field(
        description="The Python snippet, run as a top-level script.", examples=["import torch\n"]
    )
    limits: RunLimits | None = Field(
        default=None,
        description="Optional tighter limits; each may only lower the server's maximum (asking for more is a 422).",
    )

    @field_validator("source")
    @classmethod
    def _utf8(cls, source: str) -> str:
        # JSON can carry a lone surrogate ("\udfff"), which no UTF-8 text holds: refused here,
        # before it runs (it used to run, then fail to be stored: a 500).
        try:
            source.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"the source holds a lone surrogate (U+{ord(source[exc.start]):04X}) at character {exc.start}, "
                "which is not text: send the snippet as UTF-8 text"
            ) from None
        return source


class TraceResponse(BaseModel):
    """A trace document and its content address (also its share id)."""

    id: str = Field(
        description="Content address: hash of source + options + torch version. GET /api/v1/traces/{id}."
    )
    cached: bool = Field(description="True when served from storage without running the snippet.")
    trace: Trace


class StreamStart(BaseModel):
    """Data of the first `start` event of a stream."""

    id: str
    cached: bool


class StreamDropped(BaseModel):
    """Data of a `dropped` event: timeline events skipped because the client read too slowly."""

    count: int


class ExampleSummary(BaseModel):
    name: str = Field(description="Stable key, used in /api/v1/examples/{name} and /embed?example=.")
    title: str
    description: str = Field(description="One line for the examples menu.")
    tags: list[str] = Field(default_factory=list, description="e.g. error, retain_graph.")


class ExampleDetail(ExampleSummary):
    source: str = Field(description="The snippet's Python source.")


class ExampleList(BaseModel):
    examples: list[ExampleSummary]


class HealthStats(BaseModel):
    runs_started: int = Field(description="Snippets sent to the sandbox since start-up.")
    runs_completed: int
    cache_hits: int = Field(description="POSTs answered from storage without running.")
    in_flight: int = Field(description="Runs currently waiting for or holding a sandbox slot.")
    rejected_overloaded: int
    rejected_rate_limited: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str = Field(description="gradtrace version.")
    torch_version: str = Field(description="torch version the workers trace with.")
    schema_version: str = Field(description="Trace document schema_version.")
    uptime_seconds: float
    zygote_alive: bool = Field(description="The sandbox's warm fork server is running.")
    queue_depth: int = Field(description="Runs waiting for a sandbox slot right now.")
    running: int = Field(description="Runs executing in the sandbox right now.")
    sandbox: dict[str, Any] = Field(
        description="The sandbox supervisor's own report (zygote alive, queue depth, ...)."
    )
    stats: HealthStats
    stored_traces: int
    stored_bytes: int = Field(description="Bytes the stored traces take against the storage budget.")
    store_max_bytes: int = Field(description="The storage budget (`store_max_bytes` setting; 0 = none).")
    evicted_traces: int = Field(description="Traces evicted to stay within the budget since start-up.")


# Re-exported so the OpenAPI has a named schema for the streamed timeline events.
TimelineEvent = Event
