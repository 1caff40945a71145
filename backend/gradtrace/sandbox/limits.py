"""Typed limits of the sandbox: the server's maxima and what a single request may ask for.

`SandboxLimits` is the server configuration (environment variables `GRADTRACE_SANDBOX_*`
override the defaults). `RunLimits` is what one request may send; `SandboxLimits.effective()`
combines them so that a request can only ever *lower* the server's maxima.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from gradtrace.core.model import MIN_TRACE_BYTES

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
# The smallest memory budget a run may have: below ~12 MiB the tracer itself cannot finish a
# two-line snippet (its result was "tracer_crashed", blaming the snippet), so smaller asks are
# refused up front, with margin.
MIN_MEMORY_BYTES = 32 * MiB


class SandboxLimits(BaseSettings):
    """Server-side maxima and sandbox configuration (one instance per Supervisor)."""

    model_config = SettingsConfigDict(env_prefix="GRADTRACE_SANDBOX_", extra="forbid", frozen=True)

    # The built-in 10,000-step training example takes ~9-15 s of CPU traced, depending on the
    # machine (its plain run alone took 6 s on a slow one): the defaults leave it room.
    wall_seconds: float = Field(default=40.0, gt=0, description="Wall-clock limit of one run; the parent kills the whole process tree when it expires.")
    cpu_seconds: int = Field(default=30, gt=0, description="CPU seconds of one run (RLIMIT_CPU; the kernel kills the worker when exceeded).")
    memory_bytes: int = Field(default=3 * GiB // 2, ge=MIN_MEMORY_BYTES, description="Address space a run may add on top of the zygote's VmSize (RLIMIT_AS).")
    cpu_cores: float = Field(default=1.0, gt=0, le=64, description="Cores one run's processes may use together (the CFS quota of its slot's cpu cgroup, where the host has one): RLIMIT_CPU is per process, so this is what stops a run that forks busy children from taking every core.")
    tasks: int = Field(default=32, ge=2, description="Processes + threads a run may have at once (RLIMIT_NPROC of its private uid).")
    scratch_bytes: int = Field(default=64 * MiB, gt=0, description="Size of the private tmpfs that is the run's cwd and /tmp.")
    scratch_inodes: int = Field(default=4096, gt=16, description="Inodes of the scratch tmpfs (stops inode-exhaustion tricks).")
    file_bytes: int = Field(default=64 * MiB, gt=0, description="Largest file a run may write (RLIMIT_FSIZE).")
    open_files: int = Field(default=256, ge=16, description="Open file descriptors of a run (RLIMIT_NOFILE).")
    stdout_bytes: int = Field(default=1 * MiB, gt=0, description="Captured stdout/stderr of a run; the rest is dropped and flagged.")
    trace_bytes: int = Field(default=8 * MiB, ge=MIN_TRACE_BYTES, description="Largest trace JSON a worker may return; more is an output_limit result.")
    event_bytes: int = Field(default=64 * KiB, gt=0, description="Largest single streamed timeline event a worker may send.")
    max_events_streamed: int = Field(default=20000, ge=0, description="Streamed events forwarded per run; the rest are dropped (the final trace has the full, capped timeline).")
    source_bytes: int = Field(default=64 * KiB, gt=0, description="Largest snippet (UTF-8 bytes); larger ones are answered with status rejected.")
    max_nodes: int = Field(default=20000, gt=0, description="Graph nodes the tracer records before eliding the rest.")
    concurrency: int = Field(default=2, ge=1, le=64, description="Runs executing at once (one private uid and one pre-forked worker per slot).")
    queue_size: int = Field(default=8, ge=0, description="Runs waiting for a slot; beyond this `run()` raises Overloaded (HTTP 429).")
    base_uid: int = Field(default=2_000_000, ge=1000, description="Slot uids are leased in blocks of 64 from here (slot i of a block runs as uid/gid block + i); the 4096 ids from here must be unused on the host.")
    allow_weaker: bool = Field(default=False, description="Run even when an isolation layer is unavailable (logged loudly). False: refuse to start instead.")
    prefork: bool = Field(default=True, description="Keep one isolated worker per slot forked and waiting, so a run skips fork + set-up.")
    start_timeout: float = Field(default=120.0, gt=0, description="Seconds the zygote may take to import torch and warm up.")
    kill_grace: float = Field(default=2.0, gt=0, description="Seconds to wait for a killed worker's exit to be confirmed.")
    runtime_dir: str | None = Field(
        default=None,
        description="Root-owned directory for the uid-block locks and the workers' root mount point. "
        "Default: /run/gradtrace-sandbox, or <tmp>/gradtrace-sandbox where /run is read-only.",
    )
    extra_ro_paths: tuple[str, ...] = Field(default=(), description="Extra host paths bound read-only into the worker's view (e.g. a data dir snippets may read).")
    tracer: str = Field(
        default="gradtrace.core.tracer:trace_json",
        description="module:function the zygote imports to trace a snippet (tests point it elsewhere).",
    )

    def effective(self, run: RunLimits | None = None) -> EffectiveLimits:
        """This server's maxima lowered by whatever the request asked for (never raised)."""
        run = run or RunLimits()

        def low(server: float, asked: float | None) -> float:
            return server if asked is None else min(server, asked)

        return EffectiveLimits(
            wall_seconds=low(self.wall_seconds, run.wall_seconds),
            cpu_seconds=int(low(self.cpu_seconds, run.cpu_seconds)),
            memory_bytes=int(low(self.memory_bytes, run.memory_bytes)),
            stdout_bytes=int(low(self.stdout_bytes, run.stdout_bytes)),
            trace_bytes=int(low(self.trace_bytes, run.trace_bytes)),
            max_nodes=int(low(self.max_nodes, run.max_nodes)),
        )


class RunLimits(BaseModel):
    """Limits one request may ask for. Each one only lowers the server's maximum."""

    model_config = ConfigDict(extra="forbid")

    wall_seconds: float | None = Field(default=None, gt=0, description="Wall-clock seconds (capped by the server's maximum).")
    cpu_seconds: int | None = Field(default=None, gt=0, description="CPU seconds (capped by the server's maximum).")
    memory_bytes: int | None = Field(default=None, ge=MIN_MEMORY_BYTES, description="Memory budget in bytes (capped by the server's maximum; at least 32 MiB, which the tracer itself needs).")
    stdout_bytes: int | None = Field(default=None, gt=0, description="Captured stdout bytes (capped by the server's maximum).")
    trace_bytes: int | None = Field(default=None, ge=MIN_TRACE_BYTES, description="Trace JSON bytes (capped by the server's maximum).")
    max_nodes: int | None = Field(default=None, gt=0, description="Graph nodes (capped by the server's maximum).")

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_only(cls, value: Any) -> Any:
        # Lax parsing made `true` a limit of 1 and "5" a limit of 5: a request's limits are
        # numbers (a whole 2.5 CPU seconds is still refused by the int field, with its hint).
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            try:
                given = json.dumps(value)[:40]  # as the request wrote it: true, "5"
            except (TypeError, ValueError):
                given = repr(value)[:40]
            raise PydanticCustomError("number_type", "Input should be a number, not {given}", {"given": given})
        return value


class EffectiveLimits(BaseModel):
    """The limits one run actually gets (sent to the worker with the job)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wall_seconds: float = Field(description="Hard wall clock of this run.")
    cpu_seconds: int = Field(description="CPU seconds of this run.")
    memory_bytes: int = Field(description="Memory budget of this run.")
    stdout_bytes: int = Field(description="Captured stdout of this run.")
    trace_bytes: int = Field(description="Largest trace document of this run.")
    max_nodes: int = Field(description="Graph nodes before eliding.")

    @property
    def soft_timeout(self) -> float:
        """When the tracer stops the snippet itself (a partial trace beats a kill)."""
        # SIGALRM measures wall time, so it is derived from the wall limit only (on a loaded
        # machine wall time runs ahead of CPU time). The margin leaves the tracer time to
        # assemble the partial trace before the hard kill.
        return _before(self.wall_seconds)

    @property
    def soft_cpu_timeout(self) -> float:
        """The same on the process's CPU clock: a busy loop reaches the kernel's CPU limit
        (a kill, no graph) before the wall limit."""
        return _before(self.cpu_seconds)


def _before(limit: float) -> float:
    """A soft deadline under a hard `limit`: a margin of 15% of it, between 0.5 and 3 s."""
    return max(0.2, limit - min(3.0, max(0.5, limit * 0.15)))
