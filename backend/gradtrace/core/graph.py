"""Reading autograd nodes: names, kinds, edges and what they saved for backward.

Everything here inspects a live `grad_fn` without changing it. Attribute names of saved
values are cached per node class because `dir()` costs ~5 µs a call (facts.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

_SAVED_NAMES: dict[type, tuple[str, ...]] = {}
_VERSION_RE = re.compile(r"is at version (\d+); expected version (\d+)")
FREED_MARK = "backward through the graph a second time"
STALE_MARK = "modified by an inplace operation"


def saved_names(node: Any) -> tuple[str, ...]:
    """The node's `_saved_*` attribute names (without `_raw_saved_*`), cached per class."""
    cls = type(node)
    names = _SAVED_NAMES.get(cls)
    if names is None:
        names = tuple(a for a in dir(node) if a.startswith("_saved_"))
        _SAVED_NAMES[cls] = names
    return names


def node_kind(node: Any) -> str:
    if type(node).__name__ == "AccumulateGrad" or node.name().endswith("AccumulateGrad"):
        return "accumulate_grad"
    if isinstance(node, torch.autograd.function.BackwardCFunction):
        return "custom"
    return "op"


def sequence_nr(node: Any) -> int | None:
    n = int(node._sequence_nr())
    return None if n >= 2**63 else n  # AccumulateGrad reports UINT64_MAX


def next_edges(node: Any) -> Iterator[tuple[int, Any, int]]:
    """(index, target node, input_nr) for every non-None entry of next_functions."""
    for index, (target, input_nr) in enumerate(node.next_functions):
        if target is not None:
            yield index, target, int(input_nr)


def reachable(roots: list[Any]) -> list[Any]:
    """Every node reachable from `roots` through next_functions, iteratively (graphs can be
    100k deep), each once, in discovery order."""
    seen: set[int] = set()
    nodes: list[Any] = []
    todo = [r for r in roots if r is not None]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)  # held: keeps id() unique during the walk
        todo.extend(t for t, _ in node.next_functions if t is not None)
    return nodes


@dataclass
class SavedProbe:
    """One saved value as read now. `storage` links it to in-place events (not serialized)."""

    name: str
    kind: str = "tensor"
    shape: list[int] | None = None
    dtype: str | None = None
    version: int | None = None  # version now (or at save, when read right after creation)
    expected: int | None = None  # version at save, known when autograd reports it stale
    freed: bool = False
    stale: bool = False
    is_output: bool = False
    repr: str | None = None
    storage: int | None = None
    tensor: torch.Tensor | None = field(default=None, repr=False)


def _tensor_probe(name: str, t: torch.Tensor, is_output: bool) -> SavedProbe:
    try:
        version: int | None = int(t._version)
    except Exception:  # inference tensors have no version counter
        version = None
    try:
        storage: int | None = int(t.untyped_storage().data_ptr())
    except Exception:
        storage = None
    return SavedProbe(
        name=name,
        shape=list(t.shape),
        dtype=str(t.dtype),
        version=version,
        is_output=is_output,
        storage=storage,
        tensor=t,
    )


def _error_probe(name: str, exc: BaseException, is_output: bool) -> SavedProbe:
    msg = str(exc)
    if FREED_MARK in msg:
        return SavedProbe(name=name, freed=True, is_output=is_output)
    m = _VERSION_RE.search(msg)
    if STALE_MARK in msg and m:
        return SavedProbe(
            name=name, stale=True, version=int(m.group(1)), expected=int(m.group(2)), is_output=is_output
        )
    return SavedProbe(name=name, kind="value", repr=f"<unreadable: {type(exc).__name__}>", is_output=is_output)


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def probe_saved(node: Any) -> list[SavedProbe]:
    """Read every value the node saved for backward, noting freed and stale ones.

    Reading a `_saved_*` tensor runs autograd's own checks, so a freed buffer or a
    version mismatch shows up exactly as backward would see it.
    """
    if isinstance(node, torch.autograd.function.BackwardCFunction):
        return _probe_custom(node)
    out: list[SavedProbe] = []
    for attr in saved_names(node):
        name = attr[len("_saved_"):]
        is_output = name.startswith("result")
        try:
            value = getattr(node, attr)
        except Exception as exc:  # freed or stale
            out.append(_error_probe(name, exc, is_output))
            continue
        if isinstance(value, torch.Tensor):
            out.append(_tensor_probe(name, value, is_output))
        elif isinstance(value, tuple | list) and value and all(isinstance(v, torch.Tensor) for v in value):
            out.extend(_tensor_probe(f"{name}[{i}]", v, is_output) for i, v in enumerate(value))
        elif value is None:
            continue
        else:
            out.append(SavedProbe(name=name, kind="value", repr=_short_repr(value)))
    return out


def _probe_custom(node: Any) -> list[SavedProbe]:
    """Custom Function nodes are their own ctx: their saves live in `saved_tensors`."""
    try:
        tensors = node.saved_tensors
    except Exception as exc:
        if FREED_MARK in str(exc) or STALE_MARK in str(exc):
            return [_error_probe("saved_tensors", exc, False)]
        return []
    return [
        _tensor_probe(f"saved_tensors[{i}]", t, False) for i, t in enumerate(tensors) if isinstance(t, torch.Tensor)
    ]
