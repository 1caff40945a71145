"""Service settings: one pydantic-settings model, every field with a default and a description.

Read from the environment with the `GRADTRACE_` prefix; nested sandbox limits use `__`, e.g.
`GRADTRACE_SANDBOX__WALL_SECONDS=10`. `gradtrace serve --help` and docs/api.md list them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from gradtrace.sandbox.limits import SandboxLimits

PACKAGE_DIR = Path(__file__).resolve().parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GRADTRACE_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    host: str = Field(default="127.0.0.1", description="Interface `gradtrace serve` binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port `gradtrace serve` listens on.")
    data_dir: Path = Field(
        default=Path("./data"),
        description="Directory for the trace database (traces.sqlite3); created if missing.",
    )
    sandbox: SandboxLimits = Field(
        default_factory=SandboxLimits,
        description="Limits and pool size of the sandboxed workers (see docs/sandbox.md).",
    )
    allow_weaker_sandbox: bool = Field(
        default=False,
        description="Start even when an isolation layer is unavailable (documented weaker mode). "
        "When false the service refuses to start instead of running snippets less isolated.",
    )
    rate_limit_per_minute: float = Field(
        default=60.0,
        ge=0,
        description="Uncached runs each client (IP address) may start per minute; 0 disables the limit. "
        "Answers from storage are not counted.",
    )
    rate_limit_burst: int = Field(
        default=20,
        ge=1,
        description="Runs a client may start back to back before the per-minute rate applies.",
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description="Identify clients by the last X-Forwarded-For address, the one the proxy appended (only "
        "behind one trusted reverse proxy that appends to the header, as nginx's $proxy_add_x_forwarded_for does).",
    )
    max_request_bytes: int = Field(
        default=512 * 1024,
        ge=1024,
        description="Largest accepted request body in bytes (the source itself is capped by the sandbox's source limit).",
    )
    request_body_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has to send a whole request body; a slower one gets 408 "
        "(a body sent byte by byte would otherwise hold its buffer open for as long as the client likes).",
    )
    max_runs_per_client: int = Field(
        default=4,
        ge=0,
        description="Runs one client address may have waiting or running at once (0 = no cap); past it, 429 "
        "too_many_runs, so one client cannot fill every sandbox slot and queue place.",
    )
    max_body_uploads_per_client: int = Field(
        default=8,
        ge=1,
        description="Request bodies one client address may be sending at once; past it, 429 overloaded for "
        "that client only (slow uploads from one address cannot use up `max_body_uploads`).",
    )
    max_body_uploads: int = Field(
        default=64,
        ge=1,
        description="Request bodies read at the same time; past this, new requests get 429 overloaded "
        "at once (their buffers are the server's memory).",
    )
    sqlite_synchronous: Literal["full", "normal"] = Field(
        default="full",
        description="SQLite durability: `full` fsyncs every stored trace (survives power loss; ~4 ms per "
        "uncached run here); `normal` survives a crash of the server but may lose the last traces on power loss.",
    )
    store_max_bytes: int = Field(
        default=2 * 2**30,
        ge=0,
        description="Budget for stored traces (compressed documents and sources; 0 = no budget). Past it, "
        "storing a trace evicts the traces read least recently, down to 90% of the budget; their links "
        "then answer 404 and re-posting the snippet traces it again.",
    )
    store_client_share: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Share of `store_max_bytes` the traces one client (address) stored may take (1 = no cap of "
        "its own). Past it, storing evicts that client's own traces read least recently first, so one client "
        "cannot push everyone else's share links out of the store.",
    )
    max_exports_waiting: int = Field(
        default=16,
        ge=1,
        description="Exports (lesson.html, DOT) of stored traces being made or waiting for the render process at "
        "once; past it, 429 overloaded. Exports already made are served from a cache and not counted.",
    )
    max_exports_per_client: int = Field(
        default=2,
        ge=1,
        description="Exports one client address may have being made or waiting at once; past it, 429 overloaded "
        "for that client only.",
    )
    static_dir: Path = Field(
        default=PACKAGE_DIR / "static",
        description="Built frontend served at / (a placeholder page is shown when it has no index.html).",
    )
    stream_buffer_events: int = Field(
        default=2000,
        ge=10,
        description="Events buffered per streaming client; beyond it events are dropped (and counted) so a "
        "slow reader never stalls a run.",
    )

    @property
    def database_path(self) -> Path:
        return self.data_dir / "traces.sqlite3"


# Variables with the prefix that are not settings: the CLI's own re-exec marker.
_INTERNAL_VARIABLES = frozenset({"GRADTRACE_STACK_RAISED"})


def reference() -> list[tuple[str, str, str]]:
    """Every setting as (environment variable, default, description), sandbox limits in the
    `GRADTRACE_SANDBOX_*` form the docs use (the nested `GRADTRACE_SANDBOX__*` form also works
    and wins when both are set)."""
    rows = []
    for prefix, model in (("GRADTRACE_", Settings), ("GRADTRACE_SANDBOX_", SandboxLimits)):
        for name, field in model.model_fields.items():
            if model is Settings and name == "sandbox":
                continue
            default = field.get_default(call_default_factory=True)
            rows.append((prefix + name.upper(), str(default), field.description or ""))
    return rows


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """`GRADTRACE_*` variables that set nothing (a typo is otherwise silently ignored), each
    with the closest setting's name when there is one."""
    known = {name for name, _, _ in reference()}
    messages = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith("GRADTRACE_") or upper in _INTERNAL_VARIABLES:
            continue
        if upper.replace("GRADTRACE_SANDBOX__", "GRADTRACE_SANDBOX_", 1) in known:
            continue
        close = difflib.get_close_matches(upper, known, n=1)
        messages.append(f"{variable} is not a setting" + (f" (did you mean {close[0]}?)" if close else ""))
    return messages


def invalid_settings_message(exc: ValidationError) -> str:
    """A settings error that names the environment variable to fix, not the model field."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        if exc.title == SandboxLimits.__name__:  # read from its own variables, inside Settings()
            loc = ["sandbox", *loc]
        if loc[:1] == ["sandbox"]:
            variable = "GRADTRACE_SANDBOX_" + "_".join(loc[1:2]).upper()
        else:
            variable = "GRADTRACE_" + "_".join(loc[:1]).upper()
        lines.append(f"{variable}={error.get('input')!s}: {error['msg']}")
    return "invalid settings:\n  " + "\n  ".join(lines) + "\n(`gradtrace serve --help` lists every setting with its default.)"
