"""The recorder: ids, node and tensor records, and the event timeline of one trace.

It is fed by the hooks in `instrument.py` (forward ops) and `backward.py` (backward passes)
and turned into a document by `document.py`. Node identity lives in the node's own
`metadata` dict (a tag object), never in `id()`: Python wrappers of C++ nodes are recreated
and ids reused (facts.md). The tag's finalizer tells us when a node dies, which keeps the
records of long training loops bounded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from gradtrace.core import graph

SNIPPET_FILENAME = "<snippet>"
_TAG_KEY = "gradtrace"


_MAX_ITEMS_PER_CONTAINER = 64


_NAMED_KINDS = (torch.Tensor, torch.nn.Module)
_KEY_TYPES = (str, int, bool)


def _nameable(value: Any) -> bool:
    # type(), not isinstance(): an object's `__class__` is whatever it says it is.
    return issubclass(type(value), _NAMED_KINDS)


def _head(seq: list[Any] | tuple[Any, ...], n: int) -> list[Any] | tuple[Any, ...]:
    if isinstance(seq, list):
        return list.__getitem__(seq, slice(0, n))
    return tuple.__getitem__(seq, slice(0, n))


def scope_items(scope: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, value) for the tensors and modules a learner can name in `scope`: its variables
    and, one level down, the items of its lists, tuples and dicts (`layers[0]`,
    `heads['a']`; at most 64 per container), in a stable order.

    Reads through the base types' own methods, so none of the snippet's code runs (a list
    subclass's `__getitem__`, a dict subclass's `items`, a key's `__repr__`)."""
    found: list[tuple[str, Any]] = []
    for var, value in list(dict.items(scope)):
        if type(var) is not str or var.startswith("__"):  # globals()[1] = ... is allowed
            continue
        if _nameable(value):
            found.append((var, value))
        elif isinstance(value, list | tuple):
            head = _head(value, _MAX_ITEMS_PER_CONTAINER)
            for i, v in enumerate(head):
                if _nameable(v):
                    found.append((f"{var}[{i}]", v))
        elif isinstance(value, dict):
            for i, (k, v) in enumerate(dict.items(value)):
                if i >= _MAX_ITEMS_PER_CONTAINER:
                    break
                if _nameable(v) and type(k) in _KEY_TYPES:
                    found.append((f"{var}[{k!r}]", v))
    return found


def mapping_items(mapping: Any) -> list[tuple[Any, Any]]:
    """Items of a module's `_modules`, `_parameters` or `_buffers`. A dict's are read through
    `dict.items` (a subclass's own `items` is the snippet's code, which must not run again);
    TorchScript's wrappers (`torch.jit.script(model)`: not dicts) through their own `items`,
    which is torch's code; anything else gives nothing."""
    if isinstance(mapping, dict):
        return list(dict.items(mapping))
    if type(mapping).__module__.startswith("torch.") and callable(getattr(type(mapping), "items", None)):
        return list(mapping.items())
    return []


def submodules(prefix: str, module: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """`module.named_modules(prefix=prefix)`, read from the `_modules` dicts themselves: a
    subclass may override named_modules, `__getattr__` or `__hash__` with the snippet's code,
    which must not run again here. Pre-order, each module once, no recursion."""
    out: list[tuple[str, torch.nn.Module]] = []
    seen: set[int] = set()  # (ids only to skip repeats, never written out)
    todo = [(prefix, module)]
    while todo:
        name, mod = todo.pop()
        if id(mod) in seen:
            continue
        seen.add(id(mod))
        out.append((name, mod))
        for child_name, child in reversed(mapping_items(vars(mod).get("_modules"))):
            if issubclass(type(child), torch.nn.Module):
                todo.append((f"{name}.{child_name}" if name else child_name, child))
    return out


@dataclass(slots=True)
class Limits:
    """Caps that keep a trace bounded (see Settings for the user-facing knobs)."""

    max_nodes: int = 20_000
    max_json_bytes: int = 8 << 20
    max_stdout_bytes: int = 1 << 20
    max_events_head: int = 4_000
    max_events_tail: int = 1_500
    max_tensors: int = 5_000
    max_recent_dead_nodes: int = 1_000
    max_passes_head: int = 100
    max_passes_tail: int = 20
    max_pass_details: int = 1_000  # received/accumulated entries kept per pass


class _Tag:
    """Stored in a node's metadata; its death is the node's death."""

    __slots__ = ("num", "owner", "rec", "__weakref__")

    def __init__(self, num: int, owner: object, rec: weakref.ref[Recorder]) -> None:
        self.num = num
        self.owner = owner  # the recorder's token: identity check without calling the weakref (hot)
        # Weak: the recorder holds the snippet's namespace, which holds the graph, which holds
        # this tag; a strong reference would make a cycle through C++ that GC cannot break.
        self.rec = rec

    def __repr__(self) -> str:  # a snippet printing grad_fn.metadata sees it: no address
        return f"<gradtrace node n{self.num}>"

    def __del__(self) -> None:
        rec = self.rec()
        if rec is not None and rec.active:
            rec.on_node_freed(self.num)


@dataclass(slots=True, frozen=True)
class PlainGradient:
    """A gradient autograd.grad returned without a graph, and why it has none."""

    tensor: weakref.ref[torch.Tensor]
    line: int | None
    create_graph: bool
    once_differentiable: tuple[str, ...]  # custom nodes of the pass whose backward records nothing


@dataclass(slots=True)
class NodeRecord:
    num: int
    name: str
    kind: str
    sequence_nr: int | None
    line: int | None
    stack: list[int]
    module: str | None
    op: str | None
    saved: list[dict[str, Any]]
    storages: list[int | None]  # aligned with `saved`: storage of each saved tensor (not serialized)
    edges: list[tuple[int, int, int]]  # (index, target num, input_nr)
    variable: str | None = None
    output: str | None = None
    created_by_pass: int | None = None
    created_event: int | None = None
    alive: bool = True
    released: bool = False
    stale: bool = False

    @property
    def id(self) -> str:
        return f"n{self.num}"


@dataclass(slots=True)
class TensorRecord:
    num: int
    ref: weakref.ref[torch.Tensor]
    versions: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    # For the output of a `.data` / detach() read of a tensor that requires grad: the node
    # (or, for a leaf, the tensor) it was cut from, so a `.data =` of it can say whose
    # values it takes without their history (vector_to_parameters).
    detached_from: str | None = None

    @property
    def id(self) -> str:
        return f"t{self.num}"


@dataclass(slots=True)
class CallContext:
    """Where the current torch call comes from in the snippet."""

    line: int | None
    stack: list[int]
    module: str | None
    op: str | None


class Recorder:
    """Accumulates everything a trace says while the snippet runs."""

    def __init__(self, limits: Limits, on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.limits = limits
        self.on_event = on_event
        self.token = object()  # what our node tags carry: "tagged by this recorder"
        self.active = True
        self.nodes: dict[int, NodeRecord] = {}
        self.recent_dead: deque[int] = deque()
        self.dead_head: list[int] = []
        # Nodes kept while more than half the cap was in use, oldest first: the ones that
        # make way when one graph alone outgrows the cap (see `_enforce_node_cap`).
        self.middle: deque[int] = deque()
        self.node_count = 0
        self.nodes_elided = 0  # dead nodes left out
        self.nodes_cut = 0  # live nodes left out of the middle of a graph bigger than the cap
        self.tensors: dict[int, TensorRecord] = {}  # id(tensor) -> record (checked against the weakref)
        self.tensor_by_num: dict[int, TensorRecord] = {}
        self.tensor_count = 0
        self.events_head: list[dict[str, Any]] = []
        self.events_tail: deque[dict[str, Any]] = deque(maxlen=limits.max_events_tail)
        self.event_count = 0
        self.elided_kinds: dict[str, int] = {}
        # Backward passes: the first ones in full, then only the most recent (a training loop
        # runs thousands); `pass_count` numbers them all.
        self.passes_head: list[dict[str, Any]] = []
        self.passes_tail: deque[dict[str, Any]] = deque(maxlen=limits.max_passes_tail)
        self.pass_count = 0
        # Plain tensors (outside any graph) the latest autograd.grad passes returned:
        # differentiating one of them again is the second-derivative mistake.
        self.plain_gradients: deque[PlainGradient] = deque(maxlen=64)
        self.module_stack: list[torch.nn.Module] = []
        self.module_names: dict[int, tuple[weakref.ref[torch.nn.Module], str]] = {}
        self.snippet_globals: dict[str, Any] = {}
        self.grad_state: tuple[bool, bool] = (True, False)
        self.suspended = 0  # >0 inside custom Function.forward and our own bookkeeping
        self.last_failed_call: dict[str, Any] | None = None
        self.current_pass: dict[str, Any] | None = None
        self.hooked: set[int] = set()  # nums of nodes that carry our backward hooks
        self.freed_at: dict[int, int] = {}  # node num -> seq of the event that freed its saved tensors
        self.stale_reported: set[tuple[int, str]] = set()  # (node num, saved name) reported stale
        # Node num -> (its execute event, its variable's grad before) between pre and post hook.
        self.executing: dict[int, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        self.grad_shapes: dict[tuple[Any, Any], dict[str, Any]] = {}  # see backward._small
        self.current_call: tuple[str, list[torch.Tensor]] | None = None
        self.errors: dict[int, tuple[BaseException, dict[str, Any]]] = {}
        self.in_optimizer: tuple[Any, list[torch.Tensor], list[int | None]] | None = None
        self.mode_popped = False
        self.sequence_base = 0
        self.inplace_storages: dict[int, int] = {}  # storage data_ptr -> seq of its last in-place event
        self.event_storages: dict[int, int] = {}  # in-place event seq -> storage it modified
        # Version counters: views share their base's, and t.detach() shares t's (it is no
        # view). `aliases`: a detached tensor's num -> the num of the tensor it came from;
        # `event_family`: in-place event seq -> num of the tensor owning the counter it bumped.
        self.aliases: dict[int, int] = {}
        self.event_family: dict[int, int] = {}
        self.storage_versions: dict[int, int] = {}  # storage data_ptr -> version its last in-place event left

    # ---- snippet locations -------------------------------------------------------------
    def snippet_stack(self) -> list[int]:
        """Snippet lines on the Python stack, outermost first."""
        lines: list[int] = []
        frame = sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            if code.co_filename == SNIPPET_FILENAME:
                lines.append(frame.f_lineno)
                if code.co_name == "<module>":
                    break  # the snippet's top level: what is further out is the tracer's
            frame = frame.f_back  # type: ignore[assignment]
        lines.reverse()
        return lines

    def context(self, op: str | None) -> CallContext:
        stack = self.snippet_stack()
        module = self.module_path(self.module_stack[-1]) if self.module_stack else None
        return CallContext(line=stack[-1] if stack else None, stack=stack, module=module, op=op)

    # ---- module names --------------------------------------------------------------------
    def module_path(self, module: torch.nn.Module) -> str:
        entry = self.module_names.get(id(module))
        if entry is not None and entry[0]() is module:
            return entry[1]
        self._scan_module_names()
        entry = self.module_names.get(id(module))
        if entry is not None and entry[0]() is module:
            return entry[1]
        name = f"<{type(module).__name__}>"
        self.module_names[id(module)] = (weakref.ref(module), name)
        return name

    def _scan_module_names(self) -> None:
        """Name modules by the snippet variables that hold them (globals, then live frames)."""
        scopes: list[dict[str, Any]] = [self.snippet_globals]
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == SNIPPET_FILENAME and frame.f_locals is not self.snippet_globals:
                scopes.append(dict(frame.f_locals))
            frame = frame.f_back  # type: ignore[assignment]
        for scope in scopes:
            for var, value in scope_items(scope):
                if isinstance(value, torch.nn.Module) and var != "self":
                    for sub, mod in submodules(var, value):
                        known = self.module_names.get(id(mod))
                        if known is None or known[0]() is not mod or known[1].startswith("<"):
                            self.module_names[id(mod)] = (weakref.ref(mod), sub)

    # ---- tensors -----------------------------------------------------------------------
    def tensor_record(self, t: torch.Tensor, create: bool = True) -> TensorRecord | None:
        rec = self.tensors.get(id(t))
        if rec is not None and rec.ref() is t:
            return rec
        if not create:
            return None
        self.tensor_count += 1
        num = self.tensor_count - 1
        rec = TensorRecord(num=num, ref=self._watch(t, num))
        self.tensors[id(t)] = rec
        self.tensor_by_num[num] = rec
        return rec

    def _watch(self, t: torch.Tensor, num: int) -> weakref.ref[torch.Tensor]:
        """A weak reference to `t` that drops its record (number `num`) when `t` dies."""
        key = id(t)

        def _forget(_ref: Any) -> None:
            cur = self.tensors.get(key)
            if cur is not None and cur.num == num:
                del self.tensors[key]
            self.tensor_by_num.pop(num, None)

        return weakref.ref(t, _forget)

    @contextlib.contextmanager
    def unwatched(self, *tensors: Any) -> Iterator[None]:
        """Our weak references to `tensors` dropped for the body, then made again (the records
        stay, held strongly meanwhile): torch.utils.swap_tensors refuses tensors that have any."""
        held: list[tuple[TensorRecord, torch.Tensor]] = []
        plain: list[tuple[int, PlainGradient, torch.Tensor]] = []
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                continue
            trec = self.tensor_record(t, create=False)
            if trec is not None:
                held.append((trec, t))
                trec.ref = (lambda t=t: t)  # type: ignore[assignment]  # strong, for the body only
            for i, grad in enumerate(self.plain_gradients):
                if grad.tensor() is t:
                    plain.append((i, grad, t))
        for i, grad, t in plain:
            self.plain_gradients[i] = dataclasses.replace(grad, tensor=lambda t=t: t)  # type: ignore[arg-type]
        try:
            yield
        finally:
            for trec, t in held:
                trec.ref = self._watch(t, trec.num)
            for i, grad, t in plain:
                if i < len(self.plain_gradients) and self.plain_gradients[i].tensor() is t:
                    self.plain_gradients[i] = dataclasses.replace(grad, tensor=weakref.ref(t))

    def counter_owner(self, t: torch.Tensor, create: bool = True) -> int | None:
        """The num of the tensor whose version counter `t` uses (see `aliases`): an in-place
        write through any of them bumps the version of all."""
        base = t._base
        while base is not None:
            t, base = base, base._base
        rec = self.tensor_record(t, create)
        if rec is None:
            return None
        num = rec.num
        while num in self.aliases:
            num = self.aliases[num]
        return num

    def note_write(self, t: torch.Tensor, trec: TensorRecord, seq: int) -> None:
        """The in-place event `seq` wrote `t`: it is in t's history and in that of every
        tensor sharing its version counter."""
        trec.versions.append(seq)
        owner = self.counter_owner(t)
        if owner is not None:
            self.event_family[seq] = owner

    def tensor_id(self, t: torch.Tensor | None, create: bool = True) -> str | None:
        if t is None:
            return None
        rec = self.tensor_record(t, create)
        return rec.id if rec is not None else None

    # ---- nodes -------------------------------------------------------------------------
    def node_num(self, node: Any) -> int | None:
        tag = node.metadata.get(_TAG_KEY)
        if tag.__class__ is _Tag and tag.owner is self.token:
            return int(tag.num)
        return None

    def node_id(self, node: Any) -> str | None:
        num = self.node_num(node)
        return None if num is None else f"n{num}"

    def discover(
        self,
        roots: list[Any],
        ctx: CallContext | None,
        output_for: dict[int, torch.Tensor] | None = None,
        created_by_pass: int | None = None,
    ) -> list[NodeRecord]:
        """Give ids and records to every node reachable from `roots` that we have not seen.

        The walk is iterative (graphs can be 100k deep) and stops at known nodes. New nodes
        are numbered in creation order: AccumulateGrad first (built when an op first uses a
        leaf), then by autograd's own sequence number. Hot: runs for every op that builds a
        node, which usually means one new node whose inputs are all known.
        """
        token = self.token
        if len(roots) == 1 and roots[0] is not None:
            # Fast path, the usual op: one new node whose inputs are all known already.
            node = roots[0]
            tag = node.metadata.get(_TAG_KEY)
            if tag.__class__ is _Tag and tag.owner is token:
                return []
            nexts = node.next_functions
            for target, _ in nexts:
                if target is not None:
                    tag = target.metadata.get(_TAG_KEY)
                    if tag.__class__ is not _Tag or tag.owner is not token:
                        break
            else:
                num = self.node_count
                node.metadata[_TAG_KEY] = _Tag(num, token, weakref.ref(self))
                self.node_count = num + 1
                return [self._make_record(num, node, nexts, graph.sequence_nr(node), ctx, output_for, created_by_pass)]
        fresh: list[tuple[Any, tuple[Any, ...]]] = []  # (node, its next_functions), read once
        seen: set[int] = set()  # ids of nodes in `fresh` (held, so their ids stay unique)
        todo = [n for n in roots if n is not None]
        while todo:
            node = todo.pop()
            if id(node) in seen:
                continue
            tag = node.metadata.get(_TAG_KEY)
            if tag.__class__ is _Tag and tag.owner is token:
                continue
            seen.add(id(node))
            nexts = node.next_functions
            fresh.append((node, nexts))
            for target, _ in nexts:
                if target is not None and id(target) not in seen:
                    todo.append(target)
        if not fresh:
            return []
        seqs = [graph.sequence_nr(node) for node, _ in fresh]
        if len(fresh) > 1:
            # AccumulateGrad (no sequence number) first, in walk order; then autograd's order.
            keys = [(0, i) if seq is None else (1, seq) for i, seq in enumerate(seqs)]
            ranked = sorted(range(len(fresh)), key=keys.__getitem__)
            fresh = [fresh[i] for i in ranked]
            seqs = [seqs[i] for i in ranked]
        first = self.node_count
        self_ref = weakref.ref(self)
        for num, (node, _) in enumerate(fresh, first):
            node.metadata[_TAG_KEY] = _Tag(num, token, self_ref)
        self.node_count = first + len(fresh)
        return [
            self._make_record(num, node, nexts, seq, ctx, output_for, created_by_pass)
            for num, ((node, nexts), seq) in enumerate(zip(fresh, seqs, strict=True), first)
        ]

    def _make_record(
        self,
        num: int,
        node: Any,
        nexts: tuple[Any, ...],
        seq: int | None,
        ctx: CallContext | None,
        output_for: dict[int, torch.Tensor] | None,
        created_by_pass: int | None,
    ) -> NodeRecord:
        name = node.name()
        kind = graph.node_kind(node, name)
        if created_by_pass is not None and kind == "op":
            kind = "backward_op"
        output = output_for.get(id(node)) if output_for else None
        variable = self.tensor_id(node.variable) if kind == "accumulate_grad" else None
        out_id = self.tensor_id(output) if output is not None else None
        edges: list[tuple[int, int, int]] = []
        token = self.token
        for index, (target, input_nr) in enumerate(nexts):
            if target is not None:
                tag = target.metadata.get(_TAG_KEY)
                if tag.__class__ is _Tag and tag.owner is token:
                    edges.append((index, tag.num, input_nr))
        saved, storages = self.saved_entries(node, out_id, at_creation=True)
        rec = NodeRecord(
            num=num,
            name=name,
            kind=kind,
            sequence_nr=None if seq is None else seq - self.sequence_base,
            line=ctx.line if ctx else None,
            stack=ctx.stack if ctx and len(ctx.stack) > 1 else [],
            module=ctx.module if ctx else None,
            op=ctx.op if ctx else None,
            saved=saved,
            storages=storages,
            edges=edges,
            variable=variable,
            output=out_id,
            created_by_pass=created_by_pass,
        )
        for entry in saved:
            if entry["stale"]:
                rec.stale = True
        self.nodes[num] = rec
        if len(self.nodes) > self.limits.max_nodes // 2:
            self.middle.append(num)
            if len(self.nodes) > self.limits.max_nodes:
                self._enforce_node_cap(num)
        return rec

    def _enforce_node_cap(self, new: int) -> None:
        """Over the cap, forget dead nodes first (recent ones, then the latest of the head).
        When every kept node is alive (one graph bigger than the cap: a 30,000-op chain), the
        oldest node kept past half the cap makes way: the trace keeps both ends of the graph,
        where construction began (leaves, first ops) and where backward begins (the latest
        nodes), and leaves out its middle."""
        while len(self.nodes) > self.limits.max_nodes:
            dead = True
            if self.recent_dead:
                victim = self.recent_dead.popleft()
            elif self.dead_head:
                victim = self.dead_head.pop()
            else:
                dead = False
                victim = self.middle.popleft() if self.middle else new
            if self.nodes.pop(victim, None) is not None:
                if dead:
                    self.nodes_elided += 1
                else:
                    self.nodes_cut += 1
            if victim == new:
                return

    def saved_entries(
        self, node: Any, output_id: str | None, at_creation: bool
    ) -> tuple[list[dict[str, Any]], list[int | None]]:
        """The node's saved values as trace entries, and the storage of each (for in-place checks)."""
        entries, storages, tensors = graph.probe_saved(node)
        if not at_creation:
            return entries, storages
        for entry, tensor in zip(entries, tensors, strict=True):
            # (A re-read, above, only needs versions and state.)
            if entry["is_output"]:
                entry["tensor"] = output_id
            elif tensor is not None:
                entry["tensor"] = self.tensor_id(tensor)
        return entries, storages

    def refresh_saved(self, node: Any) -> NodeRecord | None:
        """Re-read a node's saved values now: version_now, freed, stale."""
        num = self.node_num(node)
        rec = self.nodes.get(num) if num is not None else None
        if rec is None:
            return None
        now = {e["name"]: e for e in self.saved_entries(node, rec.output, at_creation=False)[0]}
        for entry in rec.saved:
            name = entry["name"]
            cur = now.get(name)
            if cur is None and name.endswith("]"):
                # A saved list read element by element at creation: freed or stale, it now
                # fails as a whole ("saved_tensors", or "tensors" for a cat).
                cur = now.get(name[: name.rindex("[")])
            if cur is None:
                continue
            if cur["freed"]:
                entry["freed"] = True
                continue
            if cur["stale"]:
                entry["stale"] = True
                if cur["version_now"] is not None:
                    entry["version_now"] = cur["version_now"]
                else:  # a stale view says no versions: its storage's last write does
                    storage = rec.storages[rec.saved.index(entry)]
                    entry["version_now"] = self.storage_versions.get(storage if storage is not None else -1, entry["version_now"])
                if entry["version_at_save"] is None:
                    entry["version_at_save"] = cur["version_at_save"]
            elif cur["version_now"] is not None:
                entry["version_now"] = cur["version_now"]
        rec.stale = any(e["stale"] for e in rec.saved)
        rec.released = rec.released or any(e["freed"] for e in rec.saved)
        return rec

    def maybe_stale(self, node: Any) -> bool:
        """Cheap pre-check: did an in-place op touch one of this node's saved storages since it was made?"""
        if not self.inplace_storages:
            return False
        num = self.node_num(node)
        rec = self.nodes.get(num) if num is not None else None
        if rec is None:
            return False
        since = rec.created_event if rec.created_event is not None else -1
        for storage in rec.storages:
            last = self.inplace_storages.get(storage if storage is not None else -1)
            if last is not None and last > since:
                return True
        return False

    def on_node_freed(self, num: int) -> None:
        self.hooked.discard(num)
        rec = self.nodes.get(num)
        if rec is None:
            return
        rec.alive = False
        if rec.created_event is not None and rec.created_event < self.limits.max_events_head:
            self.dead_head.append(num)  # part of the timeline's head: kept while there is room
            return
        # Past the head of the timeline, a dead node is kept only while it is recent.
        self.recent_dead.append(num)
        while len(self.recent_dead) > self.limits.max_recent_dead_nodes:
            old = self.recent_dead.popleft()
            if self.nodes.pop(old, None) is not None:
                self.nodes_elided += 1

    # ---- backward passes ----------------------------------------------------------------
    def add_pass(self, record: dict[str, Any]) -> None:
        self.pass_count += 1
        if len(self.passes_head) < self.limits.max_passes_head:
            self.passes_head.append(record)
        else:
            self.passes_tail.append(record)

    @property
    def passes(self) -> list[dict[str, Any]]:
        return self.passes_head + list(self.passes_tail)

    @property
    def passes_elided(self) -> int:
        return self.pass_count - len(self.passes_head) - len(self.passes_tail)

    # ---- events ------------------------------------------------------------------------
    def emit(self, kind: str, line: int | None, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {"seq": 0, "kind": kind, "line": line}
        for k, v in fields.items():
            if v is not None:
                event[k] = v
        return self.push(event)

    def push(self, event: dict[str, Any]) -> dict[str, Any]:
        """Number `event` (a dict with seq, kind, line first; no None values) and keep it."""
        event["seq"] = self.event_count
        self.event_count += 1
        if len(self.events_head) < self.limits.max_events_head:
            self.events_head.append(event)
            if self.on_event is not None:
                self.on_event(event)
        else:
            if len(self.events_tail) == self.events_tail.maxlen:
                dropped = self.events_tail[0]
                self.elided_kinds[dropped["kind"]] = self.elided_kinds.get(dropped["kind"], 0) + 1
                self.event_storages.pop(dropped["seq"], None)
            self.events_tail.append(event)
            if self.on_event is not None and self.event_count % 1000 == 0:
                self.on_event({"seq": event["seq"], "kind": "elided", "line": None, "count": self.events_elided})
        return event

    @property
    def events_elided(self) -> int:
        return sum(self.elided_kinds.values())

    def emit_nodes(self, records: list[NodeRecord], ctx: CallContext | None, pass_index: int | None = None) -> None:
        for rec in records:
            # Built directly (hot: one per node); key order and "no None values" as in `emit`.
            event: dict[str, Any] = {"seq": 0, "kind": "node", "line": rec.line if ctx is None else ctx.line}
            event["node"] = f"n{rec.num}"
            if rec.op is not None:
                event["op"] = rec.op
            if rec.module is not None:
                event["module"] = rec.module
            tensor = rec.output or rec.variable
            if tensor is not None:
                event["tensor"] = tensor
            if pass_index is not None:
                event["backward_pass"] = pass_index
            rec.created_event = self.push(event)["seq"]
            if rec.stale:
                self.emit_stale(rec, ctx.line if ctx else None)

    def emit_stale(self, rec: NodeRecord, line: int | None) -> None:
        for entry in rec.saved:
            key = (rec.num, entry["name"])
            if entry["stale"] and key not in self.stale_reported:
                self.stale_reported.add(key)
                self.emit(
                    "stale",
                    line,
                    node=rec.id,
                    saved=entry["name"],
                    tensor=entry["tensor"],
                    version_before=entry["version_at_save"],
                    version_after=entry["version_now"],
                )

    def all_events(self) -> list[dict[str, Any]]:
        events = list(self.events_head)
        if self.events_tail:
            first_tail = self.events_tail[0]["seq"]
            skipped = first_tail - len(self.events_head)
            if skipped > 0:
                events.append(
                    {
                        "seq": first_tail - 1,
                        "kind": "elided",
                        "line": None,
                        "count": skipped,
                        "elided_kinds": dict(sorted(self.elided_kinds.items())),
                    }
                )
            events.extend(self.events_tail)
        return events
