"""Forward instrumentation: see every torch call the snippet makes, without changing it.

A TorchFunctionMode observes each call (ops, Tensor methods, `.data`, `requires_grad_`,
backward APIs); `Function.apply` and `torch.autograd.graph.increment_version` are wrapped
because they bypass the mode; global module hooks keep the `nn.Module` stack for grouping. Each hook calls the real
function with the real arguments and returns its result untouched. Two things are switched off while
tracing, each with a note: torch.compile (runs eagerly) and DataLoader worker processes (loads in process);
starting a thread or forking gets a note too (their ops are not observed). Notes are trace events,
never Python warnings: the snippet must see the warnings it sees under `python`.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import os
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim import optimizer as optim
from torch.overrides import TorchFunctionMode
from torch.utils.data import dataloader

from gradtrace.core import backward, explain, graph
from gradtrace.core.recorder import SNIPPET_FILENAME, CallContext, Recorder
from gradtrace.core.summary import dtype_name, shape_of

_BACKWARD_APIS = {
    torch.Tensor.backward: "Tensor.backward",
    torch.autograd.backward: "torch.autograd.backward",
    torch.autograd.grad: "torch.autograd.grad",
}


# Profiler bookkeeping that optimizers and zero_grad() call: never graph construction.
_IGNORED_NAMES = frozenset({"_record_function_enter_new", "_record_function_exit", "_record_function_exit._RecordFunction"})

# Attribute reads: they build nothing and are not "ops run without grad".
_GETTERS = frozenset({"grad", "data", "grad_fn", "requires_grad", "is_leaf", "shape", "dtype", "device", "T", "mT", "H"})


def _op_name(func: Any) -> str:
    name = getattr(func, "__name__", None) or repr(func)
    if name in ("__get__", "__set__"):
        owner = getattr(func, "__self__", None)
        attr = getattr(owner, "__name__", "?")
        return attr if name == "__get__" else f"{attr}="
    return str(name)


def _tensors_in(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """Tensor arguments, looking one level into lists/tuples (optimizers pass lists)."""
    found: list[torch.Tensor] = []
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, list | tuple):
            found.extend(v for v in value if isinstance(v, torch.Tensor))
    return found


def _tensors_out(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, list | tuple):
        return [v for v in out if isinstance(v, torch.Tensor)]
    return []


# Tensor types whose reads run no snippet code (Parameter's __torch_function__ is torch's own).
_PLAIN_TYPES = frozenset({torch.Tensor, torch.nn.Parameter})


def _all_plain(tensors: list[torch.Tensor]) -> bool:
    for t in tensors:  # (a loop: twice as fast as all() over a generator, and hot)
        if type(t) not in _PLAIN_TYPES:
            return False
    return True


def _plain_out(out: Any) -> bool:
    if isinstance(out, torch.Tensor):
        return type(out) in _PLAIN_TYPES
    if isinstance(out, list | tuple):
        return all(type(v) in _PLAIN_TYPES for v in out if isinstance(v, torch.Tensor))
    return True


def _version(t: torch.Tensor) -> int | None:
    try:
        return int(t._version)
    except Exception:  # inference tensors
        return None


# torch.nn.init's in-place initializers write under torch.no_grad() inside; with our mode on
# they reach us as one call made with grad enabled, and their write is not an autograd write.
_NO_GRAD_WRITERS = frozenset(
    f for name, f in vars(torch.nn.init).items() if name.endswith("_") and not name.startswith("_") and callable(f)
)


class _Mode(TorchFunctionMode):
    def __init__(self, rec: Recorder) -> None:
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        rec = self.rec
        api = _BACKWARD_APIS.get(func)
        if api is not None:
            rec.in_optimizer = None  # a step that raised never ran its post hook
        if rec.suspended or rec.in_optimizer is not None:
            return func(*args, **kwargs)
        if api is not None:
            return backward.run(rec, api, func, args, kwargs)
        op = _op_name(func)
        if op in _IGNORED_NAMES:
            return func(*args, **kwargs)
        return observe_call(rec, func, op, args, kwargs, lambda: func(*args, **kwargs))


def observe_call(rec: Recorder, func: Any, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], call: Any) -> Any:
    """Run `call()` and record what it did to the autograd graph."""
    inputs = _tensors_in(args, kwargs)
    # Our reads, here and after the call, must not run a Tensor subclass's __torch_function__
    # (the snippet's code: it could print, or count calls), nor a TorchFunctionMode it entered
    # (ours is off the stack while it handles a call). Turning torch functions off costs ~2 µs
    # a call, so it is done only when such a tensor or mode is involved.
    plain = not torch._C._len_torch_function_stack() and _all_plain(inputs)
    if plain:
        versions = [_version(t) for t in inputs]
    else:
        with torch._C.DisableTorchFunction():
            versions = [_version(t) for t in inputs]
    # State only the time before the call shows, for the event: `t.grad = g`, the gradient it
    # replaces (read with torch functions off: `.grad` is itself a torch function);
    # `t.detach_()`, whether t was part of a graph (afterwards it never is); `requires_grad_`,
    # whether the flag changes (torch's own zero_grad sets it to False on every .grad).
    before: Any = None
    if op == "grad=" and inputs:
        before = _grad_of(rec, inputs[0])
    elif op in ("detach_", "requires_grad_", "requires_grad=") and inputs:
        with torch._C.DisableTorchFunction():
            before = inputs[0].requires_grad
    rec.current_call = (op, inputs)
    try:
        out = call()
    except BaseException as exc:
        # The exception by id and type, not itself: holding it would keep its frames (and
        # their tensors) alive after a snippet that caught it moved on.
        rec.last_failed_call = {"op": op, "tensors": inputs, "exc": (id(exc), type(exc))}
        raise
    finally:
        rec.current_call = None
    try:
        no_grad_write = func in _NO_GRAD_WRITERS
    except TypeError:  # an unhashable callable a snippet dispatched itself
        no_grad_write = False
    rec.suspended += 1
    try:
        if torch._C._len_torch_dispatch_stack():  # a TorchDispatchMode the snippet entered
            with graph.quiet():
                _after_call(rec, op, inputs, versions, out, before, no_grad_write)
        elif plain and not torch._C._len_torch_function_stack() and _plain_out(out):
            _after_call(rec, op, inputs, versions, out, before, no_grad_write)
        else:
            with torch._C.DisableTorchFunction():
                _after_call(rec, op, inputs, versions, out, before, no_grad_write)
    finally:
        rec.suspended -= 1
    return out


def _graph_source(rec: Recorder, t: torch.Tensor) -> str | None:
    """The id of `t`'s node, or of `t` itself when it is a leaf: where its history starts."""
    gf = t.grad_fn
    return rec.node_id(gf) if gf is not None else rec.tensor_id(t)


def _called_from_snippet() -> bool:
    """Whether the torch call being recorded (a C method or getter: it has no frame of its
    own) was made by the snippet's own code: the first frame outside this module."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back  # type: ignore[assignment]
    return frame is not None and frame.f_code.co_filename == SNIPPET_FILENAME


def _snippet_called_tensor_method(method: str) -> bool:
    """Whether the snippet itself called the Tensor method `method`, one defined in Python
    (torch/_tensor.py: its frame, then torch's dispatch, sit between the caller and us), not
    torch's own code (a module's full backward hook registers tensor hooks on every forward
    call)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == method and frame.f_code.co_filename.endswith("_tensor.py"):
            caller = frame.f_back
            return caller is not None and caller.f_code.co_filename == SNIPPET_FILENAME
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _grad_of(rec: Recorder, t: torch.Tensor) -> dict[str, Any] | None:
    """Summary of `t.grad`, read without running torch functions, and not for a non-leaf that
    does not retain its grad (reading that warns, which the plain run would not)."""
    with torch._C.DisableTorchFunction():
        if not (t.is_leaf or t.retains_grad):
            return None
        return backward._small(t.grad, rec.grad_shapes)


# Calls that return nothing, yet change what autograd does with a tensor: each is an event.
_SETTERS = frozenset({"requires_grad=", "grad=", "data=", "retain_grad", "register_hook", "register_post_accumulate_grad_hook"})


def _after_call(
    rec: Recorder,
    op: str,
    inputs: list[torch.Tensor],
    versions: list[int | None],
    out: Any,
    state_before: Any = None,
    no_grad_write: bool = False,
) -> None:
    # Inside a backward pass (a custom Function's backward, a hook, checkpoint's recompute)
    # grad mode is the engine's business, not the snippet's: no grad_mode / no_grad_op
    # events; nodes built there belong to the pass.
    in_pass = rec.current_pass
    pass_index = in_pass["index"] if in_pass is not None else None
    grad_state = (torch.is_grad_enabled(), torch.is_inference_mode_enabled())
    if in_pass is None and grad_state != rec.grad_state:
        rec.grad_state = grad_state
        rec.emit("grad_mode", rec.context(op).line, grad_enabled=grad_state[0], inference_mode=grad_state[1])
    outs = _tensors_out(out)
    if not outs and op not in _SETTERS and all(_version(t) == v for t, v in zip(inputs, versions, strict=True)):
        return  # the common "nothing happened to autograd" case (item(), size(), ...)
    ctx: CallContext | None = None

    def context() -> CallContext:
        nonlocal ctx
        if ctx is None:
            ctx = rec.context(op)
        return ctx

    # In-place ops: any input whose version counter moved (optimizer internals never get
    # here: the mode is off the stack during a step).
    inplace = False
    written_views: list[torch.Tensor] = []
    # Version counters this call already reported: `y[:, 1] += 1` ends in a __setitem__
    # whose inputs are y and a view of it, one counter bumped once; that is one write.
    counters: set[tuple[int | None, int, int]] = set()
    for t, before in zip(inputs, versions, strict=True):
        after = _version(t)
        if before is not None and after is not None and after != before:
            counter = (rec.counter_owner(t), before, after)
            if counter[0] is not None and counter in counters:
                if t._is_view():
                    written_views.append(t)
                continue
            counters.add(counter)
            trec = rec.tensor_record(t)
            assert trec is not None
            storage = graph.storage_of(t)
            if storage is not None:
                rec.inplace_storages[storage] = rec.event_count
            inplace = True
            owner: torch.Tensor | None = t
            if t._is_view():
                # Reading a written view's grad_fn makes autograd rebuild it now, numbered
                # now: the engine would then order it differently from the plain run, where
                # the next op that uses the view rebuilds it. The write itself is the base's
                # new CopySlices node.
                written_views.append(t)
                owner = t._base
            gf = owner.grad_fn if owner is not None else None
            if gf is not None and owner is not None:
                new = rec.discover([gf], context(), {id(gf): owner}, pass_index)
                rec.emit_nodes(new, context(), pass_index)
                if in_pass is not None:
                    in_pass["created_nodes"].extend(n.id for n in new)
            event = rec.emit(
                "inplace",
                context().line,
                tensor=trec.id,
                op=op,
                version_before=before,
                version_after=after,
                node=rec.node_id(gf) if gf is not None else None,
                grad_enabled=grad_state[0] and not no_grad_write,
            )
            if storage is not None:
                rec.event_storages[event["seq"]] = storage
                rec.storage_versions[storage] = after
            rec.note_write(t, trec, event["seq"])

    new_nodes = []
    made_graph = False
    for o in outs:
        if written_views and any(o is v for v in written_views):
            continue  # its grad_fn is rebuilt where it is next used (see above)
        gf = o.grad_fn
        if gf is not None:
            made_graph = True
            new = rec.discover([gf], context(), {id(gf): o}, pass_index)
            if new:
                new_nodes.extend(new)
            elif rec.node_id(gf) is not None:
                rec.tensor_record(o)
        elif graph.is_functorch_wrapped(o):
            # Inside vmap / torch.func.grad the op's output is a wrapper without a grad_fn;
            # the node it built is on the tensor it wraps (and is the node the transform's
            # result leads to later): found here, it gets this op and line, not the line
            # where the result is first used.
            inner = graph.functorch_layers(o)[-1]
            gf = inner.grad_fn if not graph.is_functorch_wrapped(inner) else None
            if gf is not None:
                made_graph = True
                new_nodes.extend(rec.discover([gf], context(), None, pass_index))
        elif o.requires_grad and o.is_leaf and rec.tensor_record(o, create=False) is None:
            rec.emit("leaf", context().line, tensor=rec.tensor_id(o), op=op)
    if new_nodes:
        rec.emit_nodes(new_nodes, context(), pass_index)
        if in_pass is not None:
            in_pass["created_nodes"].extend(n.id for n in new_nodes)

    if op == "detach" and inputs and outs:
        # Not a view, yet it shares the version counter of the tensor it came from.
        source = rec.counter_owner(inputs[0])
        alias = rec.tensor_record(outs[0])
        if source is not None and alias is not None and alias.num != source:
            rec.aliases[alias.num] = source
    if op == "detach_" and inputs and state_before:
        rec.emit("detach", context().line, op=op, tensor=rec.tensor_id(inputs[0]), tensors=[rec.tensor_id(inputs[0])])
    elif op in ("detach", "data") and inputs and inputs[0].requires_grad and (not inputs[0].is_leaf or _called_from_snippet()):
        # A leaf's `.data` read by torch's own code (deepcopy of every parameter of a
        # TransformerEncoder: 144 of them) cuts no graph and is not the snippet's doing.
        res = outs[0] if outs else None
        rec.emit(
            "detach",
            context().line,
            op=op,
            tensor=rec.tensor_id(inputs[0]),
            tensors=[rec.tensor_id(res)] if res is not None else None,
        )
        cut = rec.tensor_record(res) if res is not None else None
        if cut is not None:
            cut.detached_from = _graph_source(rec, inputs[0])
    elif (
        op in ("requires_grad_", "requires_grad=")
        and inputs
        and (inputs[0].requires_grad != state_before or _called_from_snippet())
    ):
        rec.emit("requires_grad", context().line, op=op, tensor=rec.tensor_id(inputs[0]), value=inputs[0].requires_grad)
    elif op == "retain_grad" and inputs:
        rec.emit("retain_grad", context().line, op=op, tensor=rec.tensor_id(inputs[0]))
    elif op in ("register_hook", "register_post_accumulate_grad_hook") and inputs and _snippet_called_tensor_method(op):
        # The hook runs inside a later backward pass (its effect is in that pass's grads).
        rec.emit("hook", context().line, op=op, tensor=rec.tensor_id(inputs[0]))
    elif op == "grad=" and inputs:
        # `after` absent: .grad is None now (w.grad = None, the usual way to clear it)
        rec.emit("set_grad", context().line, op=op, tensor=rec.tensor_id(inputs[0]), before=state_before,
                 after=_grad_of(rec, inputs[0]))
    elif op == "data=" and inputs:
        # New values, same version counter: what autograd's checks cannot see. Shape only: the
        # new data may be uninitialized memory (LazyLinear materializes its weight as
        # torch.empty and fills it next), which would make the trace differ run to run.
        t = inputs[0]
        shape_only = {"shape": shape_of(t), "dtype": dtype_name(t.dtype), "numel": t.numel()}
        # Values taken from a graph (`p.data = theta[:n].view_as(p).data`, what
        # vector_to_parameters does) arrive without their history: say where they came from.
        origin: str | None = None
        if len(inputs) > 1:
            value = inputs[1]
            if value.requires_grad:
                origin = _graph_source(rec, value)
            else:
                vrec = rec.tensor_record(value, create=False)
                origin = vrec.detached_from if vrec is not None else None
        rec.emit("set_data", context().line, op=op, tensor=rec.tensor_id(t), version_before=versions[0],
                 version_after=_version(t), after=shape_only,
                 node=origin if origin is not None and origin[0] == "n" else None,
                 tensors=[origin] if origin is not None and origin[0] == "t" else None)
    elif (
        in_pass is None
        and not made_graph
        and not inplace
        and outs
        and (not grad_state[0] or grad_state[1])
        and op not in _GETTERS
        and any(t.requires_grad for t in inputs)
    ):
        rec.emit(
            "no_grad_op",
            context().line,
            op=op,
            tensors=[rec.tensor_id(t) or "" for t in inputs if t.requires_grad][:8],
            grad_enabled=grad_state[0],
            inference_mode=grad_state[1],
        )


def _on_stack(mode: TorchFunctionMode) -> bool:
    """Is `mode` anywhere on this thread's torch-function mode stack?"""
    return any(torch._C._get_function_stack_at(i) is mode for i in range(torch._C._len_torch_function_stack()))


def _pop_mode(mode: TorchFunctionMode) -> bool:
    """Take our mode off the torch-function stack if it is on top (it is, unless the snippet pushed its own)."""
    if torch._C._len_torch_function_stack() and torch._C._get_function_stack_at(
        torch._C._len_torch_function_stack() - 1
    ) is mode:
        torch._C._pop_torch_function_stack()
        return True
    return False


@dataclass(frozen=True)
class _Lesson:
    """A note the tracer itself gives (what it changed or does not show), with its lesson."""

    kind: str
    text: str
    title: str
    what: str
    fix: str


def _say(live: _Live, lesson: _Lesson, text: str | None = None) -> None:
    """Note `lesson` at the snippet line running now, as gradtrace notes are: an event with its
    hint, never a Python warning (a snippet that turns warnings into errors, or records
    them, must see what it sees under `python`) and never on the snippet's stderr."""
    rec = live.rec
    if rec is None:
        return
    line = rec.context(None).line
    rec.emit("warning", line, text=text or lesson.text, category="gradtrace", hint=explain.hint(lesson))


_COMPILE_NOTE = _Lesson(
    "compile_eager",
    "gradtrace runs torch.compile'd code eagerly, op by op, so that every autograd node can be "
    "shown (a compiled region would be one opaque node, and compiling under a tracer is not "
    "supported by PyTorch); values and gradients are the same.",
    "torch.compile ran eagerly here",
    "The compiled function ran op by op, as without torch.compile, so each autograd node it "
    "builds is in the graph. Values and gradients are the ones the compiled code gives (up to "
    "rounding); its speed is not.",
    "Nothing to change: outside gradtrace the same code compiles as usual.",
)


@contextlib.contextmanager
def _eager_compile(live: _Live) -> Iterator[None]:
    """torch.compile off while tracing: Dynamo would trace our TorchFunctionMode itself."""
    config = sys.modules.get("torch._dynamo.config")
    before_env = os.environ.get("TORCH_COMPILE_DISABLE")
    before = getattr(config, "disable", False)
    if config is not None:
        config.disable = True  # type: ignore[attr-defined]
    else:  # not imported yet (the usual case): importing it costs ~1 s, so only the env is set
        os.environ["TORCH_COMPILE_DISABLE"] = "1"
    original = torch.compile
    warned = False

    @functools.wraps(original)
    def compile(*args: Any, **kwargs: Any) -> Any:
        nonlocal warned
        if not warned:  # `@torch.compile(...)` calls it twice; one note is enough
            warned = True
            _say(live, _COMPILE_NOTE)
        # fullgraph=True raises when Dynamo compiled nothing, and here it compiles nothing by
        # design: the code runs eagerly, which is all fullgraph could ask for.
        return original(*args, **{**kwargs, "fullgraph": False})

    torch.compile = compile  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.compile = original
        if before_env is None:
            os.environ.pop("TORCH_COMPILE_DISABLE", None)
        else:
            os.environ["TORCH_COMPILE_DISABLE"] = before_env
        config = sys.modules.get("torch._dynamo.config")
        if config is not None:
            config.disable = before  # type: ignore[attr-defined]


_DATA_NOTE = _Lesson(
    "dataloader_in_process",
    "gradtrace loads this DataLoader's batches in the snippet's own process (num_workers={n} "
    "ran as 0): worker processes would build no autograd graph, and the sandbox runs one "
    "process. A map-style dataset gives the same batches in the same order; worker_init_fn "
    "is not called, and an IterableDataset yields its stream once instead of once per worker.",
    "DataLoader workers ran in process",
    "Worker processes only load data, they build no autograd graph; here the batches were "
    "loaded by the snippet's own process instead, in the same order for a map-style dataset.",
    "Nothing to change: outside gradtrace the loader starts its workers as usual.",
)


@contextlib.contextmanager
def _replaced(owner: type | types.ModuleType, name: str, replacement: Any) -> Iterator[None]:
    """`owner.name` is `replacement` while the trace runs, and the original again after."""
    original = owner.__dict__[name]
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _in_process_data_loading(live: _Live) -> contextlib.AbstractContextManager[None]:
    """DataLoader workers off while tracing: batches are loaded in this process.

    Worker processes only load data (no autograd graph is built there), the sandbox has no
    shared memory for their queues (they would fail with a bare FileNotFoundError), and a
    fork of a traced process would carry the tracer along. The loader keeps its settings
    (`num_workers` still reads as given); only its iterator is the single-process one.
    """
    original = dataloader.DataLoader.__dict__["__iter__"]
    warned = False

    def __iter__(self: Any) -> Any:
        nonlocal warned
        workers = self.num_workers
        if not workers:
            return original(self)
        if not warned:
            warned = True
            # at the snippet line that iterates (a for loop, iter(), next(iter(...)))
            _say(live, _DATA_NOTE, _DATA_NOTE.text.format(n=workers))
        if self.persistent_workers and self._iterator is not None:
            # As DataLoader does with persistent workers: the same iterator, reset. Making a
            # new one would draw one more number from the global RNG than the plain run does.
            it = self._iterator
            it._reset(self)
            # (Persistent workers re-iterate their dataset on reset; our fetcher must too.)
            it._dataset_fetcher = dataloader._DatasetKind.create_fetcher(
                it._dataset_kind, it._dataset, it._auto_collation, it._collate_fn, it._drop_last
            )
            return it
        timeout = self.timeout
        # The single-process iterator reads these two from the loader once, when it is made
        # (and insists on zero); neither is a setting DataLoader guards after __init__.
        self.num_workers, self.timeout = 0, 0
        try:
            it = dataloader._SingleProcessDataLoaderIter(self)
        finally:
            self.num_workers, self.timeout = workers, timeout
        if self.persistent_workers:
            self._iterator = it
        return it

    return _replaced(dataloader.DataLoader, "__iter__", __iter__)


_THREAD_NOTE = _Lesson(
    "thread_not_traced",
    "gradtrace records the snippet's main thread only: what this thread runs (its torch ops, "
    "graphs and backward passes) is not shown in the trace, though it runs as usual.",
    "A thread's work is not traced",
    "PyTorch's Python modes, which gradtrace observes torch calls with, are per thread: the "
    "thread runs as usual, but its ops, graphs and backward passes are not in the trace.",
    "To see them, run that work on the main thread (call the function instead of starting a "
    "thread with it).",
)

_FORK_NOTE = _Lesson(
    "fork_not_traced",
    "gradtrace records the snippet's own process only: a child it forks runs the rest of the "
    "snippet as usual, but its output, graphs and backward passes are not in the trace.",
    "A forked process is not traced",
    "After os.fork() (or a multiprocessing 'fork' start) the child runs on its own copy of "
    "everything; the trace shows the parent, the process the snippet started in.",
    "To see the child's work, run it in the snippet's own process.",
)


@contextlib.contextmanager
def _thread_note(live: _Live) -> Iterator[None]:
    """Say so when the snippet starts a thread: torch-function modes are per thread, so a
    thread's ops are not observed (recording them would also interleave two timelines).
    Both ways in: threading.Thread.start, and the low-level _thread.start_new_thread (and
    its old alias start_new), which threading itself holds its own reference to."""
    original = threading.Thread.__dict__["start"]
    low_level = _thread.start_new_thread
    warned = False

    def note() -> None:
        nonlocal warned
        if not warned:
            warned = True
            _say(live, _THREAD_NOTE)

    def start(self: Any) -> None:
        note()
        original(self)

    def start_new_thread(function: Any, args: Any, kwargs: Any = None) -> int:
        note()
        return low_level(function, args, kwargs) if kwargs is not None else low_level(function, args)

    with contextlib.ExitStack() as stack:
        stack.enter_context(_replaced(threading.Thread, "start", start))
        for name in ("start_new_thread", "start_new"):
            if name in _thread.__dict__:
                stack.enter_context(_replaced(_thread, name, start_new_thread))
        yield


# The traces in progress in this process (one, or a few nested Python-API calls): what a
# snippet's fork copies. `os.register_at_fork` cannot be undone, so it is registered once.
_tracing: list[_Live] = []


def _forked_parent() -> None:
    for live in _tracing:
        if not live.forked:
            live.forked = True
            _say(live, _FORK_NOTE)


def _forked_child() -> None:
    # The child runs the rest of the snippet on its copy of the recorder; the tracer ends it
    # when the snippet ends (see tracer._trace_compiled). The live event stream belongs to
    # the parent: the child's events must not reach it.
    for live in _tracing:
        if live.rec is not None:
            live.rec.on_event = None


os.register_at_fork(after_in_parent=_forked_parent, after_in_child=_forked_child)


@contextlib.contextmanager
def _fork_watch(live: _Live) -> Iterator[None]:
    """While the snippet runs, a fork it makes is noted and its child kept off the stream."""
    _tracing.append(live)
    try:
        yield
    finally:
        _tracing.remove(live)


class _Packed:
    """What a wrapped pack hook stores: the snippet's packed object, and the shape and dtype
    of the tensor it packed (all the trace shows of it, see `graph._Probe`)."""

    __slots__ = ("inner", "shape", "dtype")

    def __init__(self, inner: Any, shape: list[int], dtype: torch.dtype) -> None:
        self.inner = inner
        self.shape = shape
        self.dtype = dtype


def wrapped_saved_hooks(pack_hook: Any, unpack_hook: Any) -> tuple[Any, Any]:
    """A `saved_tensors_hooks` pair that behaves as the given one, except that the tracer's
    own reads of saved values get a stand-in instead of running the unpack hook."""

    graph.PROBE.armed = True

    def pack(t: torch.Tensor) -> _Packed:
        with torch._C.DisableTorchFunction():  # (as in observe_call)
            shape, dtype = shape_of(t), t.dtype  # (a nested tensor's ragged sizes: -1)
        return _Packed(pack_hook(t), shape, dtype)

    def unpack(packed: _Packed) -> Any:
        if graph.PROBE.probing:
            graph.PROBE.standins += 1
            return torch.empty([max(s, 0) for s in packed.shape], dtype=packed.dtype, device="meta")
        return unpack_hook(packed.inner)

    return pack, unpack


class _Live:
    """The recorder of the trace in progress, or None once it is over."""

    __slots__ = ("rec", "mode", "forked")

    def __init__(self, rec: Recorder) -> None:
        self.rec: Recorder | None = rec
        self.mode: _Mode | None = None
        self.forked = False  # noted once: a multiprocessing pool forks a process per worker


@contextlib.contextmanager
def instrumented(rec: Recorder) -> Iterator[None]:
    """Install every hook for the duration of the snippet, and remove them all after."""
    # The wrappers put in torch's namespaces reach the trace only through `live`, emptied on
    # the way out: one that outlives the trace (torch.overrides caches every function it
    # finds in torch's namespaces, the snippet may keep a reference) then calls the original
    # and keeps nothing of the trace alive.
    live = _Live(rec)
    function_cls = torch.autograd.function.Function
    original_apply = function_cls.__dict__["apply"]

    def apply(cls: Any, *args: Any, **kwargs: Any) -> Any:
        rec = live.rec
        if rec is None or rec.suspended:
            return original_apply.__func__(cls, *args, **kwargs)

        def call() -> Any:
            # The custom forward's own ops run with grad disabled: they are the Function's
            # internals, not graph construction, so they are not recorded one by one.
            rec.suspended += 1
            try:
                return original_apply.__func__(cls, *args, **kwargs)
            finally:
                rec.suspended -= 1

        return observe_call(rec, None, f"{cls.__name__}.apply", args, kwargs, call)

    graph_module = torch.autograd.graph
    original_increment = graph_module.increment_version

    @functools.wraps(original_increment)
    def increment_version(tensor: Any) -> None:
        # Bumps versions without any torch op our mode could see: observed as an in-place
        # event, so saved values it makes stale are flagged like any other.
        rec = live.rec
        if rec is None or rec.suspended or rec.in_optimizer is not None:
            return original_increment(tensor)
        args = (tensor,) if isinstance(tensor, torch.Tensor) else (list(tensor),)
        return observe_call(rec, None, "increment_version", args, {}, lambda: original_increment(*args))  # type: ignore[no-any-return]

    def pre_hook(module: torch.nn.Module, _inputs: Any) -> None:
        rec.module_stack.append(module)

    def post_hook(module: torch.nn.Module, _inputs: Any, _output: Any) -> None:
        # always_call=True: runs even when forward raised, so the stack stays balanced.
        if rec.module_stack and rec.module_stack[-1] is module:
            rec.module_stack.pop()

    mode = live.mode = _Mode(rec)
    autograd_module = torch.autograd
    original_engine_run = autograd_module._engine_run_backward

    @functools.wraps(original_engine_run)
    def engine_run(*args: Any, **kwargs: Any) -> Any:
        # The engine gives every node it runs the thread-local state it found when called,
        # torch-function modes included. Called from our mode's handling of a backward API,
        # our mode is off the stack then (torch pops it while it handles a call): put it
        # back for the engine, so what runs inside the pass (a custom Function's backward,
        # hooks, checkpoint's recompute, a nested autograd.grad) is observed too.
        rec, mode = live.rec, live.mode
        if rec is None or mode is None or rec.current_pass is None or rec.suspended or _on_stack(mode):
            return original_engine_run(*args, **kwargs)
        torch._C._push_on_torch_function_stack(mode)
        try:
            return original_engine_run(*args, **kwargs)
        finally:
            _pop_mode(mode)

    def opt_pre(optimizer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # An optimizer step is one event per parameter it updated, not dozens of internal
        # ops; and its internals run without our mode on the stack, at plain speed.
        popped = _pop_mode(mode)  # first, so our own reads below are not observed
        params = [p for g in optimizer.param_groups for p in g["params"] if isinstance(p, torch.Tensor)]
        with torch._C.DisableTorchFunction():
            rec.in_optimizer = (optimizer, params, [_version(p) for p in params])
        rec.mode_popped = popped
        closure = kwargs.get("closure", args[1] if len(args) > 1 else None)
        if callable(closure):
            state = rec.in_optimizer

            def traced_closure() -> Any:
                # The closure is the learner's own forward/backward: record it.
                rec.in_optimizer = None
                if popped:
                    torch._C._push_on_torch_function_stack(mode)
                try:
                    return closure()
                finally:
                    if popped:
                        _pop_mode(mode)
                    rec.in_optimizer = state

            rest = {k: v for k, v in kwargs.items() if k != "closure"}
            return (args[0],), {**rest, "closure": traced_closure}
        return None

    def opt_post(optimizer: Any, _args: Any, _kwargs: Any) -> None:
        state = rec.in_optimizer
        rec.in_optimizer = None
        if rec.mode_popped:
            torch._C._push_on_torch_function_stack(mode)
            rec.mode_popped = False
        if state is None or state[0] is not optimizer:
            return
        op = f"{type(optimizer).__name__}.step"
        line = rec.context(op).line
        rec.suspended += 1
        try:
            with graph.quiet():
                for p, before in zip(state[1], state[2], strict=True):
                    after = _version(p)
                    if before is None or after is None or after == before:
                        continue
                    trec = rec.tensor_record(p)
                    assert trec is not None
                    storage = graph.storage_of(p)
                    if storage is not None:
                        rec.inplace_storages[storage] = rec.event_count
                    event = rec.emit(
                        "inplace", line, tensor=trec.id, op=op, version_before=before, version_after=after,
                        grad_enabled=False,
                    )
                    if storage is not None:
                        rec.event_storages[event["seq"]] = storage
                        rec.storage_versions[storage] = after
                    rec.note_write(p, trec, event["seq"])
        finally:
            rec.suspended -= 1

    opt_pre_handle = optim.register_optimizer_step_pre_hook(opt_pre)
    opt_post_handle = optim.register_optimizer_step_post_hook(opt_post)
    c_autograd = torch._C._autograd
    original_push_saved_hooks = c_autograd._push_saved_tensors_default_hooks

    def push_saved_hooks(pack_hook: Any, unpack_hook: Any) -> None:
        # Every saved_tensors_hooks (the snippet's, checkpointing's, save_on_cpu's) enters here.
        if callable(pack_hook) and callable(unpack_hook):
            pack_hook, unpack_hook = wrapped_saved_hooks(pack_hook, unpack_hook)
        original_push_saved_hooks(pack_hook, unpack_hook)

    mod = torch.nn.modules.module
    pre_handle = mod.register_module_forward_pre_hook(pre_hook)
    post_handle = mod.register_module_forward_hook(post_hook, always_call=True)
    ours = {pre_handle.id, post_handle.id}
    original_has_hook = mod._has_any_global_hook

    def has_any_global_hook() -> bool:
        # Our two module hooks are not the snippet's: torch.compile(module) warns about global
        # hooks, which plain PyTorch would not.
        return bool(
            mod._global_backward_pre_hooks
            or mod._global_backward_hooks
            or any(k not in ours for k in mod._global_forward_pre_hooks)
            or any(k not in ours for k in mod._global_forward_hooks)
            or any(k not in ours for k in mod._global_forward_hooks_always_called)
            or any(k not in ours for k in mod._global_forward_hooks_with_kwargs)
        )

    original_swap = torch.utils.swap_tensors

    def swap_tensors(t1: Any, t2: Any) -> None:
        # It refuses tensors with weak references, and our records hold one to each tensor
        # they describe (module.to() / .double() swap parameters when
        # torch.__future__.set_swap_module_params_on_conversion(True) is set).
        with rec.unwatched(t1, t2):
            original_swap(t1, t2)

    mod._has_any_global_hook = has_any_global_hook
    torch.utils.swap_tensors = swap_tensors
    function_cls.apply = classmethod(apply)  # type: ignore[method-assign,assignment]
    graph_module.increment_version = increment_version
    autograd_module._engine_run_backward = engine_run
    c_autograd._push_saved_tensors_default_hooks = push_saved_hooks
    try:
        with _eager_compile(live), _in_process_data_loading(live), _thread_note(live), _fork_watch(live):
            # Pushed and popped by hand, not `with mode`: the snippet may have popped our mode
            # (or left its own modes on top); the stack is put back as it was, either way.
            depth = torch._C._len_torch_function_stack()
            torch._C._push_on_torch_function_stack(mode)
            try:
                yield
            finally:
                rec.mode_popped = False
                while torch._C._len_torch_function_stack() > depth:
                    torch._C._pop_torch_function_stack()
    finally:
        live.rec = live.mode = None
        torch.utils.swap_tensors = original_swap
        c_autograd._push_saved_tensors_default_hooks = original_push_saved_hooks
        function_cls.apply = original_apply  # type: ignore[method-assign]
        graph_module.increment_version = original_increment
        autograd_module._engine_run_backward = original_engine_run
        pre_handle.remove()
        post_handle.remove()
        mod._has_any_global_hook = original_has_hook
        opt_pre_handle.remove()
        opt_post_handle.remove()
