"""Forward instrumentation: see every torch call the snippet makes, without changing it.

A TorchFunctionMode observes each call (ops, Tensor methods, `.data`, `requires_grad_`,
backward APIs); `Function.apply` is wrapped because custom autograd Functions bypass the
mode; global module hooks keep the `nn.Module` stack for grouping. Each hook calls the real
function with the real arguments and returns its result untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from gradtrace.core import backward
from gradtrace.core.recorder import CallContext, Recorder

_BACKWARD_APIS = {
    torch.Tensor.backward: "Tensor.backward",
    torch.autograd.backward: "torch.autograd.backward",
    torch.autograd.grad: "torch.autograd.grad",
}


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


def _version(t: torch.Tensor) -> int | None:
    try:
        return int(t._version)
    except Exception:  # inference tensors
        return None


class _Mode(TorchFunctionMode):
    def __init__(self, rec: Recorder) -> None:
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        rec = self.rec
        if rec.suspended:
            return func(*args, **kwargs)
        api = _BACKWARD_APIS.get(func)
        if api is not None:
            return backward.run(rec, api, func, args, kwargs)
        return observe_call(rec, func, _op_name(func), args, kwargs, lambda: func(*args, **kwargs))


def observe_call(rec: Recorder, func: Any, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], call: Any) -> Any:
    """Run `call()` and record what it did to the autograd graph."""
    inputs = _tensors_in(args, kwargs)
    versions = [_version(t) for t in inputs]
    rec.current_call = (op, inputs)
    try:
        out = call()
    except BaseException:
        rec.last_failed_call = {"op": op, "tensors": inputs}
        raise
    finally:
        rec.current_call = None
    rec.suspended += 1
    try:
        _after_call(rec, op, inputs, versions, out)
    finally:
        rec.suspended -= 1
    return out


def _after_call(
    rec: Recorder, op: str, inputs: list[torch.Tensor], versions: list[int | None], out: Any
) -> None:
    ctx: CallContext | None = None

    def context() -> CallContext:
        nonlocal ctx
        if ctx is None:
            ctx = rec.context(op)
        return ctx

    grad_state = (torch.is_grad_enabled(), torch.is_inference_mode_enabled())
    if grad_state != rec.grad_state:
        rec.grad_state = grad_state
        rec.emit("grad_mode", context().line, grad_enabled=grad_state[0], inference_mode=grad_state[1])

    # In-place ops: any input whose version counter moved.
    for t, before in zip(inputs, versions, strict=True):
        after = _version(t)
        if before is not None and after is not None and after != before:
            trec = rec.tensor_record(t)
            assert trec is not None
            gf = t.grad_fn
            if gf is not None:
                new = rec.discover([gf], context(), {id(gf): t})
                rec.emit_nodes(new, context())
            event = rec.emit(
                "inplace",
                context().line,
                tensor=trec.id,
                op=op,
                version_before=before,
                version_after=after,
                node=rec.node_id(gf) if gf is not None else None,
                grad_enabled=grad_state[0],
            )
            event["_storage"] = _storage(t)
            trec.versions.append(event["seq"])

    outs = _tensors_out(out)
    new_nodes = []
    made_graph = False
    for o in outs:
        gf = o.grad_fn
        if gf is not None:
            made_graph = True
            new = rec.discover([gf], context(), {id(gf): o})
            if new:
                new_nodes.extend(new)
            elif rec.node_id(gf) is not None:
                rec.tensor_record(o)
        elif o.requires_grad and o.is_leaf and rec.tensor_record(o, create=False) is None:
            rec.emit("leaf", context().line, tensor=rec.tensor_id(o), op=op)
    if new_nodes:
        rec.emit_nodes(new_nodes, context())

    if op in ("detach", "data") and inputs and inputs[0].requires_grad:
        res = outs[0] if outs else None
        rec.emit(
            "detach",
            context().line,
            op=op,
            tensor=rec.tensor_id(inputs[0]),
            tensors=[rec.tensor_id(res)] if res is not None else None,
        )
    elif op in ("requires_grad_", "requires_grad=") and inputs:
        rec.emit("requires_grad", context().line, op=op, tensor=rec.tensor_id(inputs[0]), value=inputs[0].requires_grad)
    elif not made_graph and outs and any(t.requires_grad for t in inputs) and (not grad_state[0] or grad_state[1]):
        rec.emit(
            "no_grad_op",
            context().line,
            op=op,
            tensors=[rec.tensor_id(t) or "" for t in inputs if t.requires_grad][:8],
            grad_enabled=grad_state[0],
            inference_mode=grad_state[1],
        )


def _storage(t: torch.Tensor) -> int | None:
    try:
        return int(t.untyped_storage().data_ptr())
    except Exception:
        return None


@contextlib.contextmanager
def instrumented(rec: Recorder) -> Iterator[None]:
    """Install every hook for the duration of the snippet, and remove them all after."""
    function_cls = torch.autograd.function.Function
    original_apply = function_cls.__dict__["apply"]

    def apply(cls: Any, *args: Any, **kwargs: Any) -> Any:
        if rec.suspended:
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

    def pre_hook(module: torch.nn.Module, _inputs: Any) -> None:
        rec.module_stack.append(module)

    def post_hook(module: torch.nn.Module, _inputs: Any, _output: Any) -> None:
        # always_call=True: runs even when forward raised, so the stack stays balanced.
        if rec.module_stack and rec.module_stack[-1] is module:
            rec.module_stack.pop()

    mod = torch.nn.modules.module
    pre_handle = mod.register_module_forward_pre_hook(pre_hook)
    post_handle = mod.register_module_forward_hook(post_hook, always_call=True)
    function_cls.apply = classmethod(apply)  # type: ignore[method-assign,assignment]
    mode = _Mode(rec)
    try:
        with mode:
            yield
    finally:
        function_cls.apply = original_apply  # type: ignore[method-assign]
        pre_handle.remove()
        post_handle.remove()
