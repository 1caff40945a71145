"""Reading autograd nodes: names, kinds, edges and what they saved for backward.

Everything here inspects a live `grad_fn` without changing it. Attribute names of saved
values are cached per node class because `dir()` costs ~5 µs a call (facts.md).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import torch
from torch._C._functorch import get_unwrapped as _get_unwrapped  # torch.func's wrapper tensors
from torch._C._functorch import is_functorch_wrapped_tensor as _is_functorch_wrapped
from torch.utils._python_dispatch import _disable_current_modes  # private, but stable since 1.13

from gradtrace.core.summary import dtype_name, shape_of

_VERSION_RE = re.compile(r"is at version (\d+); expected version (\d+)")
FREED_MARK = "backward through the graph a second time"
STALE_MARK = "modified by an inplace operation"
# How reading a saved view fails when its base was written after it was saved, and the view
# is one of several an op returned (split, chunk, unbind, or a view of one: "... is a view and
# its base or another view of its base has been modified inplace") or was made under no_grad
# ("A view was created in no_grad mode and its base or another view of its base has been
# modified inplace with grad mode enabled"): stale, but the message gives no versions.
VIEW_STALE_MARK = "and its base or another view of its base has been modified inplace"


class _Probe:
    """Reading a saved value that a `saved_tensors_hooks` pack hook packed runs the matching
    unpack hook: the snippet's own code (a print), or checkpointing's recomputation. The
    instrumentation wraps every pack/unpack pair (`instrument.wrapped_saved_hooks`): while
    `probing`, the unpack wrapper returns a meta-device stand-in with the saved tensor's
    shape and dtype instead, and counts it in `standins`."""

    __slots__ = ("armed", "probing", "standins")

    def __init__(self) -> None:
        self.armed = False  # a pack/unpack pair was wrapped in this process (else none can stand in)
        self.probing = 0
        self.standins = 0


PROBE = _Probe()


class quiet:
    """Context for the tracer's own reads: they must not run the snippet's code, neither a
    Tensor subclass's `__torch_function__` nor a TorchDispatchMode it entered (reading a
    saved output, for one, runs an aten op such a mode would log)."""

    __slots__ = ("_tf", "_modes")

    def __enter__(self) -> None:
        self._tf = torch._C.DisableTorchFunction()
        self._tf.__enter__()
        self._modes = _disable_current_modes() if torch._C._len_torch_dispatch_stack() else None
        if self._modes is not None:
            self._modes.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self._modes is not None:
            self._modes.__exit__(*exc)
        self._tf.__exit__(*exc)


# Per node class: (attribute, entry name, is_output) for each `_saved_*` value (not the
# `_raw_saved_*` ones); None for custom Functions, whose saves live in `saved_tensors`.
# Cached because `dir()` costs ~5 µs a call (facts.md).
_SAVED_PLANS: dict[type, tuple[tuple[str, str, bool], ...] | None] = {}


def _saved_plan(node: Any) -> tuple[tuple[str, str, bool], ...] | None:
    cls = type(node)
    try:
        return _SAVED_PLANS[cls]
    except KeyError:
        pass
    plan: tuple[tuple[str, str, bool], ...] | None = None
    if not isinstance(node, torch.autograd.function.BackwardCFunction):
        names = [a for a in dir(node) if a.startswith("_saved_")]
        plan = tuple((a, a[7:], a[7:].startswith("result")) for a in names)
    _SAVED_PLANS[cls] = plan
    return plan


_KINDS: dict[tuple[type, str], str] = {}


def node_kind(node: Any, name: str | None = None) -> str:
    """"accumulate_grad", "custom" (a Python autograd.Function) or "op"; memoized per class and name."""
    if name is None:
        name = node.name()
    key = (type(node), name)
    kind = _KINDS.get(key)
    if kind is None:
        if type(node).__name__ == "AccumulateGrad" or name.endswith("AccumulateGrad"):
            kind = "accumulate_grad"
        elif isinstance(node, torch.autograd.function.BackwardCFunction):
            kind = "custom"
        else:
            kind = "op"
        _KINDS[key] = kind
    return kind


def sequence_nr(node: Any) -> int | None:
    n = int(node._sequence_nr())
    return None if n >= 2**63 else n  # AccumulateGrad reports UINT64_MAX


# (the C function itself: it runs for every op output without a grad_fn)
is_functorch_wrapped = _is_functorch_wrapped


def functorch_layers(t: torch.Tensor) -> list[torch.Tensor]:
    """`t` and the tensors under torch.func's wrappers (a vmap level's BatchedTensor, a grad
    level's GradTrackingTensor), outermost first; shorter if a level cannot be unwrapped."""
    layers = [t]
    for _ in range(32):  # nested transforms: one wrapper per level
        if not _is_functorch_wrapped(t):
            break
        try:
            t = _get_unwrapped(t)
        except Exception:
            break
        layers.append(t)
    return layers


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


class Saved(NamedTuple):
    """A node's saved values as read now, as three aligned lists.

    `entries` have the trace's saved-entry keys. `version_at_save` is the version now for a
    tensor autograd let us read (it checked it is unchanged since it was saved), the expected
    version its message names for a stale one, else None. `storages`
    tie the values to in-place events, `tensors` to the live tensors; neither is serialized.
    """

    entries: list[dict[str, Any]]
    storages: list[int | None]
    tensors: list[torch.Tensor | None]


# Every saved entry has these keys, in this order. Entries are built as `{**_BLANK, ...}`:
# one C-level copy, twice as fast as an 11-key literal (hot: every saved value of every node).
_BLANK: dict[str, Any] = {
    "name": None,
    "kind": "tensor",
    "shape": None,
    "dtype": None,
    "version_at_save": None,
    "version_now": None,
    "freed": False,
    "stale": False,
    "tensor": None,
    "is_output": False,
    "repr": None,
}


def _entry(name: str, kind: str = "tensor", is_output: bool = False) -> dict[str, Any]:
    return {**_BLANK, "name": name, "kind": kind, "is_output": is_output}


def _add_tensor(out: Saved, name: str, t: torch.Tensor, is_output: bool) -> None:
    # Hot (every saved tensor of every node): no helper calls.
    try:
        version: int | None = t._version
    except Exception:  # inference tensors have no version counter
        version = None
    try:
        storage: int | None = t.untyped_storage().data_ptr()
    except Exception:
        storage = None
    # A value read without error is not stale: its version now is the one it was saved at.
    out.entries.append(
        {**_BLANK, "name": name, "shape": shape_of(t), "dtype": dtype_name(t.dtype),
         "version_at_save": version, "version_now": version, "is_output": is_output}
    )
    out.storages.append(storage)
    out.tensors.append(t)


def _add_packed(out: Saved, name: str, standin: torch.Tensor, is_output: bool) -> None:
    """A value a pack hook holds: shape and dtype from the stand-in; no version (autograd
    does not check versions of hooked values), storage or tensor (the hook has them)."""
    entry = _entry(name, "tensor", is_output)
    entry["shape"] = shape_of(standin)
    entry["dtype"] = dtype_name(standin.dtype)
    entry["packed"] = True
    _add_value(out, entry)


def storage_of(t: torch.Tensor) -> int | None:
    """The address of `t`'s storage: what ties an in-place write to saved values (views share it)."""
    try:
        return int(t.untyped_storage().data_ptr())
    except Exception:  # no storage (some subclasses, sparse)
        return None


def _add_value(out: Saved, entry: dict[str, Any]) -> None:
    out.entries.append(entry)
    out.storages.append(None)
    out.tensors.append(None)


def _error_entry(name: str, exc: BaseException, is_output: bool) -> dict[str, Any]:
    msg = str(exc)
    entry = _entry(name, "tensor", is_output)
    if FREED_MARK in msg:
        entry["freed"] = True
        return entry
    m = _VERSION_RE.search(msg)
    if STALE_MARK in msg and m:
        entry["stale"] = True
        entry["version_now"] = int(m.group(1))
        entry["version_at_save"] = int(m.group(2))
        return entry
    if VIEW_STALE_MARK in msg:
        entry["stale"] = True
        return entry
    entry["kind"] = "value"
    entry["repr"] = f"<unreadable: {type(exc).__name__}>"
    return entry


def probe_saved(node: Any) -> Saved:
    """Read every value the node saved for backward, noting freed and stale ones.

    Reading a `_saved_*` tensor runs autograd's own checks, so a freed buffer or a
    version mismatch shows up exactly as backward would see it. Values packed by a
    `saved_tensors_hooks` pack hook are not unpacked (see `_Probe`).
    """
    if not PROBE.armed:  # the usual case, and hot: no unpack hook of ours exists
        return _probe_saved(node)
    PROBE.probing += 1
    try:
        return _probe_saved(node)
    finally:
        PROBE.probing -= 1


# `Saved([], [], [])` runs the NamedTuple's Python `__new__`; this is the same tuple, built in C
# (the probe makes one per node).
_new_saved = functools.partial(tuple.__new__, Saved)


def _probe_saved(node: Any) -> Saved:
    plan = _saved_plan(node)
    if plan is None:
        return _probe_custom(node)
    out: Saved = _new_saved(([], [], []))
    for attr, name, is_output in plan:
        standins = PROBE.standins
        try:
            value = getattr(node, attr)
        except Exception as exc:  # freed or stale
            _add_value(out, _error_entry(name, exc, is_output))
            continue
        cls = value.__class__
        if cls in _PLAIN_VALUES or (cls is tuple and not (value and isinstance(value[0], torch.Tensor))):
            # Hot: most entries are sizes, dims and scalars. None is kept too: "autograd did
            # not need this one" is part of the lesson (x * 2 saves no `self`).
            _add_repr(out, name, value)
        elif isinstance(value, torch.Tensor):
            if PROBE.standins != standins:
                _add_packed(out, name, value, is_output)
            else:
                _add_tensor(out, name, value, is_output)
        elif (
            isinstance(value, tuple | list)
            and value
            and isinstance(value[0], torch.Tensor)
            and all(isinstance(v, torch.Tensor) for v in value)
        ):
            add = _add_packed if PROBE.standins != standins else _add_tensor
            for i, v in enumerate(value):
                add(out, f"{name}[{i}]", v, is_output)
        else:
            _add_repr(out, name, value)
    return out


# Saved values that are never tensors, checked by exact class (a subclass of int could be
# anything): sizes come as tuples, dims and flags as ints and bools, scalars as floats.
_PLAIN_VALUES = frozenset({int, float, bool, str, type(None)})


def _add_repr(out: Saved, name: str, value: Any) -> None:
    text = repr(value)
    out.entries.append({**_BLANK, "name": name, "kind": "value", "repr": text if len(text) <= 80 else text[:77] + "..."})
    out.storages.append(None)
    out.tensors.append(None)


def _probe_custom(node: Any) -> Saved:
    """Custom Function nodes are their own ctx: their saves live in `saved_tensors`."""
    out = Saved([], [], [])
    standins = PROBE.standins
    try:
        tensors = node.saved_tensors
    except Exception as exc:
        if FREED_MARK in str(exc) or STALE_MARK in str(exc):
            _add_value(out, _error_entry("saved_tensors", exc, False))
        return out
    add = _add_packed if PROBE.standins != standins else _add_tensor
    for i, t in enumerate(tensors):
        if isinstance(t, torch.Tensor):
            add(out, f"saved_tensors[{i}]", t, False)
    return out
