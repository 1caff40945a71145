"""The trace document: pydantic models of the JSON contract (schema_version "1").

This module is the single source of truth for the trace format. It imports no torch,
so the web process can validate untrusted worker output with it. Field names listed in
docs/trace-format.md are a public contract: add fields, never rename them.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

SCHEMA_VERSION = "1"
# The smallest cap a trace's JSON may have: a document with no graph (status, error,
# timeline head) fits in it, so a capped trace is always a valid one.
MIN_TRACE_BYTES = 1024
# How a soft deadline's message starts (the tracer writes it; the sandbox, which knows the
# limit the run was given, rewrites it to name that limit).
WALL_STOP_MESSAGE = "the snippet ran longer than"
CPU_STOP_MESSAGE = "the snippet used more than"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def count_lines(source: str) -> int:
    """Lines of a snippet as Python numbers them (\\n, \\r\\n and a lone \\r end a line; a last
    line without a break counts): what `source_lines` says, in the tracer and the sandbox alike."""
    breaks = len(_LINE_BREAK.findall(source))
    return breaks + (1 if source and not source.endswith(("\n", "\r")) else 0)


Status = Literal["ok", "error", "timeout", "memory_limit", "output_limit", "rejected"]
Number = float | int | bool | str  # str only for nan / inf / -inf and complex numbers


class _Model(BaseModel):
    # Unknown fields are an error: the parent validates untrusted worker output with these.
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="strings")


def _is_none(value: Any) -> bool:
    return value is None


class _Sparse(_Model):
    """Optional fields that are unset (None) are left out of the JSON, to keep traces small.

    Done with `exclude_if` on each optional field (evaluated in pydantic-core, fast, and the
    JSON Schema still lists every field); `_always` names optional fields always written."""

    _always: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, info in cls.model_fields.items():
            if info.default is None and name not in cls._always:
                info.exclude_if = _is_none
        cls.model_rebuild(force=True)


class ValueSummary(_Sparse):
    """A tensor's value (or gradient): every element for small tensors, statistics otherwise."""

    shape: list[int] = Field(description="Tensor shape (-1 for a nested tensor's ragged dimension).")
    dtype: str = Field(description="e.g. torch.float32")
    numel: int = Field(description="Number of elements.")
    values: list[Number] | None = Field(
        default=None, description="All elements, flattened in row-major order (only when numel <= 16)."
    )
    min: Number | None = None
    max: Number | None = None
    mean: Number | None = None
    std: Number | None = None
    layout: str | None = Field(
        default=None,
        description="Set for non-strided tensors: sparse ones (e.g. sparse_coo) have their values shown densely; "
        "nested ones (\"nested\") have shape only; a lazy module's parameter before its first forward call "
        "(\"uninitialized\") has its placeholder's shape [0] and no values; a tensor whose data cannot be read "
        "(\"unreadable\": a gradient inside a vmapped pass, is_grads_batched=True) has shape and numel only.",
    )


class Explanation(_Model):
    title: str
    what: str = Field(description="What happened, in terms of the graph.")
    fix: str = Field(description="How to fix it.")


class CallInput(_Model):
    tensor: str | None = Field(description="Tensor id.")
    shape: list[int]
    dtype: str


class FailedCall(_Model):
    """The torch call that raised, as the snippet made it."""

    op: str = Field(description="The function or method, e.g. stack, mul, Tensor.view, linear.")
    inputs: list[CallInput] = Field(description="The tensors it was given (at most 8), in argument order.")
    inputs_elided: int = Field(default=0, description="Tensors given beyond those 8.")


class TraceError(_Model):
    """Why the snippet (or one backward pass) failed, with the culprit pinned."""

    type: str = Field(description="Exception class name, e.g. RuntimeError.")
    message: str
    line: int | None = Field(description="1-based snippet line where it was raised (innermost snippet frame).")
    column: int | None = Field(default=None, description="1-based column (syntax errors).")
    kind: str = Field(description="Stable key, e.g. backward_twice, inplace_version, exception.")
    node: str | None = Field(default=None, description="Culprit node id.")
    tensor: str | None = Field(default=None, description="Culprit tensor id.")
    explanation: Explanation | None = None
    related_event: int | None = Field(
        default=None, description="seq of the event that caused it (e.g. the in-place op), if known."
    )
    related_line: int | None = Field(default=None, description="Line of that event.")
    version_at_save: int | None = None
    version_now: int | None = None
    backward_pass: int | None = Field(default=None, description="Index of the backward pass that raised.")
    call: FailedCall | None = Field(
        default=None, description="The torch call that raised, with its tensors' shapes and dtypes (null if none did)."
    )


class SavedTensor(_Sparse):
    """One `_saved_*` entry of a node (or one ctx.saved_tensors entry of a custom Function)."""

    name: str = Field(description="Attribute name without the _saved_ prefix, e.g. self, result, other.")
    kind: Literal["tensor", "value"] = "tensor"
    shape: list[int] | None = None
    dtype: str | None = None
    version_at_save: int | None = None
    version_now: int | None = None
    freed: bool = Field(default=False, description="Backward released this buffer.")
    stale: bool = Field(default=False, description="Modified in place after it was saved (version_now > version_at_save).")
    tensor: str | None = Field(default=None, description="Id of the tensor that was saved, if known.")
    is_output: bool = Field(default=False, description="True when the node saved its own output.")
    repr: str | None = Field(default=None, description="Short repr for non-tensor saved values.")
    packed: bool | None = Field(
        default=None,
        description="True when a saved_tensors_hooks pack hook holds the value (checkpointing, save_on_cpu, "
        "the snippet's own hooks): shape and dtype only; gradtrace does not unpack it, since that would run "
        "the unpack hook (and autograd does not check its version).",
    )


class Node(_Model):
    """An autograd graph node (a grad_fn)."""

    id: str
    name: str = Field(description="Exactly grad_fn.name().")
    seq: int = Field(description="Creation order among the trace's nodes (0, 1, 2, ...).")
    sequence_nr: int | None = Field(
        default=None, description="grad_fn._sequence_nr() (null for AccumulateGrad, whose value is UINT64_MAX)."
    )
    kind: Literal["op", "accumulate_grad", "custom", "backward_op"] = "op"
    line: int | None = Field(default=None, description="1-based snippet line that created it (innermost snippet frame).")
    stack: list[int] = Field(default_factory=list, description="Snippet lines of the call stack, outermost first.")
    module: str | None = Field(default=None, description="nn.Module path it was created in, e.g. model.encoder.layers.0")
    op: str | None = Field(default=None, description="The torch call that created it, e.g. mul, linear, MyReLU.apply.")
    saved: list[SavedTensor] = Field(default_factory=list)
    variable: str | None = Field(default=None, description="AccumulateGrad: the leaf tensor id.")
    output: str | None = Field(default=None, description="Tensor id of the tensor this node produced, if known.")
    created_by_pass: int | None = Field(default=None, description="Set when it was built while that backward pass ran (create_graph, a custom backward or hook, checkpoint's recompute).")
    alive: bool = Field(default=False, description="The node still existed when the snippet finished.")
    released: bool = Field(default=False, description="A backward pass without retain_graph freed its saved buffers.")
    stale: bool = Field(default=False, description="One of its saved tensors was modified in place after saving.")


class Edge(_Model):
    """Autograd direction: `target` is in `source.next_functions` at position `index`."""

    source: str
    target: str
    input_nr: int = Field(description="The input slot of `target` (second item of the next_functions pair).")
    index: int = Field(description="Position in source.next_functions (which gradient of source flows here).")


class Tensor(_Model):
    id: str
    names: list[str] = Field(default_factory=list, description="Names it is known by at the end, e.g. x, model.fc1.weight.")
    shape: list[int]
    dtype: str
    device: str = "cpu"
    requires_grad: bool
    is_leaf: bool
    retains_grad: bool = False
    version: int | None = Field(default=None, description="Current _version (null for inference tensors).")
    grad_fn: str | None = Field(default=None, description="Node id of its grad_fn.")
    grad: ValueSummary | None = None
    value: ValueSummary
    is_parameter: bool = False
    inference: bool = False
    versions: list[int] = Field(default_factory=list, description="seq of the in-place events that bumped its version.")


class GradReceived(_Model):
    node: str
    grads: list[ValueSummary | None] = Field(description="The gradients the node received (its grad_outputs).")


class Accumulation(_Model):
    node: str
    tensor: str | None
    before: ValueSummary | None
    after: ValueSummary | None


class BackwardPass(_Model):
    index: int
    api: Literal["Tensor.backward", "torch.autograd.backward", "torch.autograd.grad"]
    line: int | None
    retain_graph: bool
    create_graph: bool
    roots: list[str | None] = Field(default_factory=list, description="Tensor ids of the outputs differentiated.")
    inputs: list[str | None] = Field(default_factory=list, description="Tensor ids passed as inputs= (autograd.grad).")
    order: list[str] = Field(default_factory=list, description="Node ids in engine execution order.")
    order_elided: int = Field(default=0, description="Executions past the node cap, left out of `order`.")
    received: list[GradReceived] = Field(default_factory=list)
    accumulated: list[Accumulation] = Field(default_factory=list)
    freed: list[str] = Field(default_factory=list, description="Node ids whose saved buffers this pass released.")
    created_nodes: list[str] = Field(default_factory=list, description="Nodes built by a create_graph pass.")
    stale_nodes: list[str] = Field(default_factory=list, description="Nodes flagged stale before the pass ran.")
    results: list[ValueSummary | None] = Field(default_factory=list, description="autograd.grad return values.")
    error: TraceError | None = None


class WarningHint(_Model):
    """The lesson behind a PyTorch warning."""

    kind: str = Field(description="Stable key, e.g. nonleaf_grad, target_size_broadcast.")
    title: str
    what: str
    fix: str


class Event(_Sparse):
    """One step of the timeline. `kind` decides which optional fields are set (unset ones are omitted)."""

    _always: ClassVar[frozenset[str]] = frozenset({"line"})

    seq: int
    kind: Literal[
        "node",
        "leaf",
        "inplace",
        "grad_mode",
        "no_grad_op",
        "detach",
        "requires_grad",
        "retain_grad",
        "hook",
        "set_grad",
        "set_data",
        "stale",
        "backward_begin",
        "execute",
        "accumulate",
        "free",
        "backward_end",
        "print",
        "warning",
        "error",
        "elided",
    ]
    line: int | None = None
    node: str | None = None
    nodes: list[str] | None = None
    tensor: str | None = None
    tensors: list[str] | None = None
    op: str | None = None
    module: str | None = None
    backward_pass: int | None = Field(default=None, description="Index into backward_passes for backward events.")
    version_before: int | None = None
    version_after: int | None = None
    grad_enabled: bool | None = None
    inference_mode: bool | None = None
    value: bool | None = None
    grads: list[ValueSummary | None] | None = None
    sent: list[ValueSummary | None] | None = Field(default=None, description="execute: gradient sent along each next edge.")
    before: ValueSummary | None = None
    after: ValueSummary | None = None
    text: str | None = None
    category: str | None = None
    hint: WarningHint | None = Field(default=None, description="warning: what it means for autograd (known warnings only).")
    saved: str | None = None
    count: int | None = None
    elided_kinds: dict[str, int] | None = None


class Truncation(_Model):
    nodes_elided: int = 0
    events_elided: int = 0
    tensors_elided: int = 0
    passes_elided: int = 0
    values_dropped: bool = False
    stdout_truncated: bool = False
    reasons: list[str] = Field(default_factory=list)


class Trace(_Model):
    """The whole trace document."""

    schema_version: Literal["1"] = "1"
    torch_version: str
    status: Status
    error: TraceError | None = None
    tensors: list[Tensor] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    backward_passes: list[BackwardPass] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    truncation: Truncation = Field(default_factory=Truncation)
    source_lines: int = Field(default=0, description="Number of lines in the snippet.")

    _json: str | None = PrivateAttr(default=None)
    _source: str | None = PrivateAttr(default=None)  # set by trace_source: the code the viewer shows

    def to_json(self, indent: int | None = None) -> str:
        """Deterministic JSON: field order is the model's, no timestamps.

        The compact form is computed once (a trace is not modified after it is made)."""
        if indent is not None:
            return self.model_dump_json(indent=indent, exclude_none=False)
        if self._json is None:
            self._json = self.model_dump_json(exclude_none=False)
        return self._json

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.to_json())
        return result

    def to_html(self, source: str | None = None, *, title: str = "gradtrace lesson") -> str:
        """A self-contained page that plays this trace offline (what `--format html` writes).
        `source` defaults to the snippet `trace_source` ran. Needs the built viewer bundle."""
        from gradtrace.core.export_html import render_html

        return render_html(self, source if source is not None else self._source or "", title=title)

    def __repr__(self) -> str:
        error = f"{self.error.type} at line {self.error.line} ({self.error.kind})" if self.error else None
        return (
            f"Trace(status={self.status!r}, nodes={len(self.nodes)}, tensors={len(self.tensors)}, "
            f"backward_passes={len(self.backward_passes)}, error={error!r})"
        )

    def _repr_html_(self) -> str:
        """Jupyter shows the trace as the interactive widget, in a sandboxed iframe (scripts
        only: no access to the notebook's page); a one-line summary if no viewer is built."""
        from gradtrace.core.export_html import ViewerNotBuilt

        try:
            page = self.to_html()
        except ViewerNotBuilt as exc:
            return f"<pre>{html.escape(repr(self))}\n{html.escape(str(exc))}</pre>"
        return (
            f'<iframe srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts" '
            'style="width:100%;height:540px;border:0" title="gradtrace: the autograd graph of this trace"></iframe>'
        )


def trace_json_schema() -> dict[str, Any]:
    """The JSON Schema of the trace document (what `gradtrace schema` prints)."""
    schema = Trace.model_json_schema(mode="serialization")
    schema["$id"] = "https://gradtrace.dev/schema/trace-v1.json"
    schema["title"] = "gradtrace trace (schema_version 1)"
    return schema
