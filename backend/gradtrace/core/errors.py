"""Turn a raised exception into the trace's error record, with its culprit pinned.

`explain.classify` names the kind from the message; here we use what the recorder saw
(the failing call, the backward pass in progress, stale saved tensors, in-place events)
to point at the node and/or tensor the learner should look at.
"""

from __future__ import annotations

import ast
import itertools
import linecache
import re
import sys
import traceback
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

import torch

from gradtrace.core import capture, explain, failing, graph, suggest
from gradtrace.core.recorder import SNIPPET_FILENAME, Recorder, mapping_items, scope_items, submodules
from gradtrace.core.summary import dtype_name, shape_of


def snippet_traceback(exc: BaseException) -> str:
    """A traceback showing only the snippet's frames, as Python would print them."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SNIPPET_FILENAME]
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def message_of(exc: BaseException) -> str:
    """`str(exc)`, or what Python's own traceback prints when the exception's __str__ fails."""
    try:
        return str(exc)
    except capture.SoftTimeout:  # one that did not return in the snippet's time (see tracer)
        return "<exception str() did not return before the time limit>"
    except Exception:
        return "<exception str() failed>"


MAX_MESSAGE = 16_384  # characters: PyTorch's longest real messages are a few hundred


def clip_message(message: str) -> str:
    """An exception message as the trace keeps it: a snippet can raise one of any size (and the
    document has a byte cap that must hold)."""
    if len(message) <= MAX_MESSAGE:
        return message
    return f"{message[:MAX_MESSAGE]}… ({len(message) - MAX_MESSAGE} more characters)"


def describe(rec: Recorder, exc: BaseException, pass_record: dict[str, Any] | None) -> dict[str, Any]:
    """The error dict (model: TraceError) for `exc`; cached so a pass and the snippet share it."""
    cached = rec.errors.get(id(exc))
    if cached is not None and cached[0] is exc:
        return cached[1]
    exc_type = type(exc).__name__
    message = message_of(exc)
    rule = explain.classify(exc_type, message)
    try:
        rule = suggest.with_suggestion(rule, message, exc.__traceback__)
    except Exception:  # the snippet's objects can refuse to be listed (a raising __dir__): keep the lesson
        pass
    if rule is explain.GENERIC and isinstance(exc, OSError) and _raised_in(exc.__traceback__, "/multiprocessing/"):
        rule = explain.by_kind("multiprocessing_unavailable")
    if rule.kind == "backward_twice" and pass_record is None:
        # The freed-buffer message outside any backward pass: the snippet read saved values.
        rule = explain.by_kind("saved_freed_read")
    if rule.kind == "retain_grad_no_grad" and pass_record is not None and any(pass_record["inputs"]):
        # backward(inputs=[...]) calls retain_grad() on its inputs: the learner never did,
        # they passed an input that needs no grad (the same lesson as autograd.grad's).
        rule = explain.by_kind("input_no_grad")
    err: dict[str, Any] = {
        "type": exc_type,
        "message": clip_message(message),
        # Inside a backward pass the traceback does not reach the snippet yet: use the pass's line.
        "line": failing.snippet_line(exc.__traceback__) or (pass_record["line"] if pass_record else None),
        "column": None,
        "kind": rule.kind,
        "node": None,
        "tensor": None,
        "explanation": {"title": rule.title, "what": rule.what, "fix": rule.fix},
        "related_event": None,
        "related_line": None,
        "version_at_save": None,
        "version_now": None,
        "backward_pass": pass_record["index"] if pass_record is not None else None,
    }
    # A failed call is evidence only for the exception it raised: one the snippet caught
    # earlier says nothing about this one.
    rec.last_failed_call = _matching_call(rec, exc)
    _pin(rec, rule.kind, err, pass_record, message, exc.__traceback__)
    err["call"] = _failed_call(rec)
    rec.errors[id(exc)] = (exc, err)
    return err


def _frames_in(tb: TracebackType | None, where: str) -> Iterator[FrameType]:
    """The traceback's frames, outermost first, whose file path contains `where`."""
    while tb is not None:
        if where in tb.tb_frame.f_code.co_filename:
            yield tb.tb_frame
        tb = tb.tb_next


def _raised_in(tb: TracebackType | None, where: str) -> bool:
    """Whether the traceback passes through a file whose path contains `where`."""
    return any(True for _ in _frames_in(tb, where))


def _refused_tensor(rec: Recorder, tb: TracebackType | None, where: str, names: tuple[str, ...]) -> str | None:
    """The tensor a library function refused, read from the locals `names` of its frame (a
    file path containing `where`) in the traceback: no torch call failed, so there is no
    failed call to read it from."""
    found = None
    for frame in _frames_in(tb, where):
        for local in names:
            value = frame.f_locals.get(local)
            if isinstance(value, torch.Tensor):
                found = value
    return rec.tensor_id(found) if found is not None else None


_MAX_CALL_INPUTS = 8


def _matching_call(rec: Recorder, exc: BaseException) -> dict[str, Any] | None:
    """The recorded failed torch call if it raised `exc` (or the exception `exc` was raised
    while handling: a library may translate errors), else None."""
    call = rec.last_failed_call
    seen: BaseException | None = exc
    for _ in range(5):
        if call is None or seen is None:
            return None
        if (id(seen), type(seen)) == call["exc"]:
            return call
        seen = seen.__cause__ or seen.__context__
    return None


def _failed_call(rec: Recorder) -> dict[str, Any] | None:
    """The failed torch call with the shape and dtype of each tensor it was given: what a
    learner needs to see for most shape and dtype errors."""
    call = rec.last_failed_call
    if call is None:
        return None
    inputs = []
    for t in call["tensors"][:_MAX_CALL_INPUTS]:
        try:
            inputs.append({"tensor": rec.tensor_id(t), "shape": shape_of(t), "dtype": dtype_name(t.dtype)})
        except Exception:  # a tensor broken by the failure itself: leave it out
            continue
    return {"op": call["op"], "inputs": inputs, "inputs_elided": max(0, len(call["tensors"]) - _MAX_CALL_INPUTS)}


def _called_tensor(rec: Recorder, tb: TracebackType | None) -> str | None:
    """The tensor the snippet called like a function: the callee of the expression that
    failed, when it is a plain name (`model(x)`) or a name's attribute (`x.grad()`: pins x)."""
    found = failing.failing_expression(tb)
    if found is None:
        return None
    frame, expr = found
    func = expr.func if isinstance(expr, ast.Call) else None
    while isinstance(func, ast.Attribute):
        func = func.value
    t = failing.named_tensor(frame, func.id) if isinstance(func, ast.Name) else None
    return rec.tensor_id(t) if t is not None else None


def _pin_none_grad(rec: Recorder, err: dict[str, Any], tb: TracebackType | None) -> None:
    """`x.grad.zero_()`, `x.grad + 1`: pin x and say which of the reasons for a None .grad
    is this one."""
    found = failing.failing_expression(tb)
    if found is None:
        return
    frame, expr = found
    for node in ast.walk(expr):
        if not (isinstance(node, ast.Attribute) and node.attr == "grad"):
            continue
        # x.grad, and name paths: model.fc.weight.grad, net[0].weight.grad
        t = failing.resolved(frame, node.value)
        if not isinstance(t, torch.Tensor):
            continue
        name = ast.unparse(node.value)
        with graph.quiet():  # our reads must not run a subclass's or mode's code
            # (.grad is read only where it does not warn: on leaves and retain_grad() tensors)
            keeps = t.is_leaf or t.retains_grad
            if t.requires_grad and keeps and t.grad is not None:
                continue
            if not t.requires_grad:
                why = f"{name} does not require grad, so autograd never computes a gradient for it."
            elif not keeps:
                why = (f"{name} is not a leaf (it is the result of an operation): backward passes "
                       f"its gradient on without storing it, unless {name}.retain_grad() was called first.")
                rebound = _rebinding_update(rec, t, name)
                if rebound is not None:
                    err["explanation"] = {**err["explanation"], "fix": rebound[1]}
                    why = rebound[0]
            elif not t.is_leaf and (late := _retain_after_passes(rec, rec.tensor_id(t))) is not None:
                why = (f"{name}.retain_grad() at line {late[0]} came after the backward pass at line {late[1]}: it "
                       "keeps the gradients of passes that run after it, so that pass stored none for it.")
                err["explanation"] = {**err["explanation"], "fix": (
                    f"Call {name}.retain_grad() right after computing {name} (before backward()), "
                    "then run backward() and read .grad.")}
            elif rec.pass_count == 0:
                why = (f"{name} requires grad, but no backward pass has run yet: .grad is filled by "
                       f"loss.backward(), after the forward computation.")
            elif (line := _last_accumulation_line(rec, rec.tensor_id(t))) is not None:
                why = (f"the backward pass at line {line} did fill {name}.grad, and it was set back to None "
                       f"after that: optimizer.zero_grad() / model.zero_grad() do that (set_to_none=True is "
                       f"their default), as does {name}.grad = None.")
                err["explanation"] = {**err["explanation"], "fix": (
                    f"Use {name}.grad between backward() and zero_grad() (the usual order in a step: "
                    "zero_grad(), forward, backward(), read or clip the gradients, step()), or call "
                    "zero_grad(set_to_none=False) to keep zero tensors instead of None.")}
            else:
                why = (f"{name} requires grad, but the backward passes that ran did not reach it: the "
                       f"losses they started from do not depend on {name}.")
        err["tensor"] = rec.tensor_id(t)
        err["explanation"] = {**err["explanation"], "what": f"{name}.grad is None here: {why} " + err["explanation"]["what"]}
        return


def _retain_after_passes(rec: Recorder, tensor: str | None) -> tuple[int, int] | None:
    """(line of retain_grad(), line of the last pass before it) when `tensor`'s first
    retain_grad() came after every backward pass that ran, else None."""
    retained, last_pass = None, None
    for event in itertools.chain(rec.events_head, rec.events_tail):
        if event["kind"] == "retain_grad" and event.get("tensor") == tensor and retained is None:
            retained = event
        elif event["kind"] == "backward_begin":
            if retained is not None:
                return None  # a pass ran after it
            last_pass = event
    if retained is None or last_pass is None:
        return None
    return retained["line"], last_pass["line"]


def _last_accumulation_line(rec: Recorder, tensor: str | None) -> int | None:
    """The line of the last backward pass that accumulated into `tensor`'s .grad, if the
    kept timeline has one."""
    line = None
    for event in itertools.chain(rec.events_head, rec.events_tail):
        if event["kind"] == "accumulate" and event.get("tensor") == tensor:
            line = event["line"]
    return line


def _rebinding_update(rec: Recorder, t: torch.Tensor, name: str) -> tuple[str, str] | None:
    """Two classic ways a name meant for a leaf ends up on a non-leaf, read from the line that
    made its node: `w = w - lr * w.grad` (a hand-written update rebinding w to a new tensor)
    and `w = torch.randn(3, requires_grad=True) * 0.01` (the leaf is the unnamed tensor
    before the scaling). (why, fix), or None."""
    num = rec.node_num(t.grad_fn) if t.grad_fn is not None else None
    nrec = rec.nodes.get(num) if num is not None else None
    if nrec is None or nrec.line is None:
        return None
    text = linecache.getline(SNIPPET_FILENAME, nrec.line).strip()
    if not re.match(rf"{re.escape(name)}\s*=[^=]", text):
        return None
    if f"{name}.grad" in text:
        why = (f"{name} is not a leaf any more: line {nrec.line} ({text}) rebinds the name {name} to a "
               f"new tensor computed from the old one, so the next backward() stores no .grad on it.")
        fix = (f"Update the leaf in place instead: with torch.no_grad(): {name} -= lr * {name}.grad, then "
               f"{name}.grad.zero_() (or use torch.optim.SGD([{name}], lr=lr)).")
        return why, fix
    if "requires_grad=True" in text:
        why = (f"{name} is not a leaf: on line {nrec.line} ({text}) the tensor created with "
               f"requires_grad=True is the leaf, and {name} is the result of the operation applied "
               f"to it on the same line ({nrec.name}); that unnamed leaf gets the .grad.")
        fix = (f"Make the finished tensor the leaf: build it without requires_grad, then call "
               f"requires_grad_() on the result, e.g. {name} = (torch.randn(3) * 0.01).requires_grad_().")
        return why, fix
    return None


def _view_base(rec: Recorder, tensor: str | None) -> str | None:
    """The tensor a view was taken from (its `_base`), by id, or None."""
    trec = rec.tensor_by_num.get(int(tensor[1:])) if tensor else None
    t = trec.ref() if trec is not None else None
    base = t._base if t is not None else None
    return rec.tensor_id(base) if base is not None else None


def _failed_call_tensor(rec: Recorder, pred: Any = None) -> str | None:
    call = rec.last_failed_call
    if not call:
        return None
    for t in call["tensors"]:
        if pred is None or pred(t):
            return rec.tensor_id(t)
    return None


# The calls whose weights argument is not backward()'s `gradient`: how the call reads, and
# the argument's name.
_WEIGHTS_ARGUMENT = {
    "torch.autograd.grad": ("torch.autograd.grad({}, x)", "grad_outputs"),
    "torch.autograd.backward": ("torch.autograd.backward({})", "grad_tensors"),
}


def _rebuilt_since(rec: Recorder, old: Any, seq: int | None) -> bool:
    """Whether `old`'s line has built another node of its kind after event `seq` (None: at
    any time): the code that made it ran again, as in a loop."""
    return any(
        n.line == old.line and n.name == old.name and n.num != old.num
        and (seq is None or (n.created_event or -1) > seq)
        for n in rec.nodes.values()
    )


def _carried_explanation(
    rec: Recorder, node: str | None, freed_by_line: int | None, start: str | None = None
) -> dict[str, str] | None:
    """The lesson for a backward into an earlier iteration's graph, or None.

    When the freed node's own line built the same kind of node again after the free, the
    code ran again (a loop) and the new graph still leads into the old one: a tensor from the
    earlier iteration (an RNN's hidden state, a running total) was carried over. Recomputing
    it in the loop, the general advice, is then already done; detaching it is the fix.
    """
    num = int(node[1:]) if node else None
    old = rec.nodes.get(num) if num is not None else None
    freed = rec.freed_at.get(num) if num is not None else None
    if old is None or old.line is None or freed is None:
        return None
    later = [n for n in rec.nodes.values() if n.created_event is not None and n.created_event > freed]
    if not _rebuilt_since(rec, old, freed):
        return _total_explanation(rec, old, start, by_line=freed_by_line)
    # The line where a new node takes an input from a node built before the free.
    bridge = None
    for n in later:
        for _, target, _ in n.edges:
            t = rec.nodes.get(target)
            if t is not None and t.created_event is not None and t.created_event < freed and t.kind != "accumulate_grad":
                bridge = n.line
                break
        if bridge is not None:
            break
    by = f"the backward() at line {freed_by_line}" if freed_by_line is not None else "an earlier backward()"
    uses = f" (line {bridge} takes it as an input)" if bridge is not None else ""
    return {
        "title": "Backward into an earlier iteration's graph",
        "what": (
            f"This pass reached {old.name} from line {old.line}, built in an earlier iteration: "
            f"{by} already ran it and freed the tensors it saved. Line {old.line} has built a "
            f"fresh {old.name} since, but a tensor from the earlier iteration still feeds the "
            f"new graph{uses}, so backward follows its history into the old, freed graph. "
            "Typical causes: an RNN's hidden state, or a running total, carried from one "
            "iteration to the next."
        ),
        "fix": (
            "Cut the carried tensor off its history once an iteration's backward() is done: "
            "h = h.detach() (truncated backpropagation through time), or keep numbers instead "
            "of graphs for totals (total += loss.item()). retain_graph=True would silence the "
            "error, but every step would then backpropagate through all the earlier ones."
        ),
    }


def _total_explanation(rec: Recorder, old: Any, start: str | None, by_line: int | None) -> dict[str, str] | None:
    """The lesson for a tensor that collected every iteration's graph (`total += loss` in the
    loop, `total.backward()` after it): the failing pass's graph holds several nodes built by
    the failing node's line, one per iteration, each freed by its own iteration's backward."""
    if start is None or old.line is None:
        return None
    seen, todo, same = {int(start[1:])}, [int(start[1:])], 0
    frees: set[int] = set()  # the free events of those nodes: one per iteration's backward
    while todo:
        num = todo.pop()
        n = rec.nodes.get(num)
        if n is None:
            continue
        if n.line == old.line and n.name == old.name:
            same += 1
            if num in rec.freed_at:
                frees.add(rec.freed_at[num])
        for _, target, _ in n.edges:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    # Several such nodes freed by one pass are one forward (two Linear layers of a Sequential
    # built on one line), not several iterations: two losses sharing a graph, the general lesson.
    if same < 2 or len(frees) < 2:
        return None
    by = f"The backward() at line {by_line}" if by_line is not None else "A backward() in the loop"
    return {
        "title": "Backward through a graph collected over several iterations",
        "what": (
            f"This pass's graph holds {same} {old.name} nodes that line {old.line} built over "
            "several iterations: a tensor carried from one iteration to the next (a running total "
            f"such as total += loss, an RNN's hidden state) links every iteration's graph. {by} "
            "already ran through them, iteration by iteration, and freed the tensors they saved."
        ),
        "fix": (
            "Keep numbers, not graphs, across iterations: total += loss.item() (or "
            "loss.detach()), and call backward() once per iteration on that iteration's loss. "
            "To backpropagate through several iterations on purpose, call backward() once, "
            "after the loop, on the accumulated tensor, without the per-iteration calls."
        ),
    }


def _repeated_explanation(first: dict[str, Any]) -> dict[str, str]:
    """The lesson for backward called again from the very tensor an earlier pass started from
    (loss.backward() twice): nothing was carried over or built in the wrong place, the same
    graph was simply asked for twice."""
    at = f"line {first['line']}" if first["line"] is not None else "an earlier line"
    return {
        "title": "Backward called twice on the same graph",
        "what": (
            f"The backward() at {at} started from the same tensor, ran through its graph and, "
            "without retain_graph=True, freed the tensors the nodes saved for computing "
            "gradients. This second backward needs them again. (The first pass's gradients are "
            "already in .grad: a second pass through the same graph would add the same amounts again.)"
        ),
        "fix": (
            "Call backward() once per forward pass: to compute new gradients, run the forward "
            "computation again first (call the model's forward() / recompute the loss), then "
            "call backward(). If you really want two passes through this graph, call the first "
            "one with retain_graph=True."
        ),
    }


def _odd_dtype_tensor(rec: Recorder) -> str | None:
    """Of the failed call's tensors, the one whose dtype the others do not share: the input
    (a float64 array, an int target), not the model's parameters. Ties go to data, that is
    to a tensor that does not require grad."""
    call = rec.last_failed_call
    tensors = list(call["tensors"]) if call else []
    counts: dict[Any, int] = {}
    for t in tensors:
        counts[t.dtype] = counts.get(t.dtype, 0) + 1
    if len(counts) < 2:
        return None
    fewest = min(counts.values())
    odd = [t for t in tensors if counts[t.dtype] == fewest]
    odd.sort(key=lambda t: t.requires_grad)  # stable: data first, then call order
    return rec.tensor_id(odd[0])


def _pin(
    rec: Recorder, kind: str, err: dict[str, Any], p: dict[str, Any] | None, message: str, tb: TracebackType | None
) -> None:
    if kind == "backward_twice" and p is not None:
        node = p["order"][-1] if p["order"] else None
        err["node"] = node
        freed_by = None
        for earlier in rec.passes:
            if earlier["index"] < p["index"] and node in earlier["freed"]:
                err["related_line"] = earlier["line"]
                freed_by = earlier
                break
        carried = _carried_explanation(rec, node, err["related_line"], p["order"][0] if p["order"] else None)
        if carried is not None:
            err["explanation"] = carried
        elif freed_by is not None and p["roots"] and p["roots"] == freed_by["roots"] and None not in p["roots"]:
            err["explanation"] = _repeated_explanation(freed_by)
    elif kind == "inplace_version" or (kind in ("saved_view_inplace", "view_no_grad_inplace") and p is not None):
        # In backward, a stale saved view fails with its own message; the node that saved it
        # was flagged stale before the pass, like any other.
        _pin_inplace(rec, err, p)
        if err.get("related_line") is None and kind == "inplace_version":
            _pin_inplace_by_message(rec, err, message)
    elif kind == "saved_view_inplace":  # a stale view used in the forward pass
        _pin_stale_view(rec, err)
    elif kind in (
        "inplace_leaf", "inplace_leaf_view", "requires_grad_nonleaf", "requires_grad_dtype", "inference_inplace",
        "numpy_requires_grad", "retain_grad_no_grad", "view_no_grad_inplace",
        "detach_view_inplace", "view_noncontiguous", "inplace_overlap",
        # the tensor used as a condition / as a number, the input given to BCE, the one reduced
        "tensor_bool", "not_a_scalar", "probabilities_expected", "dim_out_of_range", "grad_assign_mismatch",
        "inference_requires_grad", "index_scalar", "inplace_broadcast",
    ):
        err["tensor"] = _failed_call_tensor(rec)
        if kind == "inplace_leaf_view":
            # The call was given the view (r = w[0]; r.mul_(2)); the lesson is about its leaf.
            err["tensor"] = _failed_call_tensor(rec, lambda t: t.is_leaf and t.requires_grad) or (
                _view_base(rec, err["tensor"]) or err["tensor"])
    elif kind == "hook_no_grad":
        _pin_hook_no_grad(rec, err, tb)
    elif kind == "out_requires_grad":  # the argument that requires grad, the reason out= is refused
        err["tensor"] = _failed_call_tensor(rec, lambda t: t.requires_grad)
    elif kind == "view_inplace" and "created inside a custom Function" in message:
        err["tensor"] = _failed_call_tensor(rec)  # the Function's output, written in place
    elif kind == "dtype_mismatch":
        err["tensor"] = _odd_dtype_tensor(rec)
    elif kind == "integer_expected":  # the float tensor given as indices: data, not a parameter
        err["tensor"] = _failed_call_tensor(rec, lambda t: t.is_floating_point() and not t.requires_grad)
    elif kind == "index_out_of_range":  # the indices (token ids, class targets), else the indexed tensor
        err["tensor"] = _failed_call_tensor(rec, lambda t: not t.is_floating_point()) or _failed_call_tensor(rec)
    elif kind in ("optimizer_nonleaf", "optimizer_params_type"):
        # `param`: a non-leaf in the list; `params`: a lone tensor given instead of a list
        err["tensor"] = _refused_tensor(rec, tb, "optim", ("param", "params"))
    elif kind == "parameter_expected":  # the value nn.Module.__setattr__ refused
        err["tensor"] = _refused_tensor(rec, tb, "nn/modules/module", ("value",))
    elif kind == "tensor_not_callable":
        err["tensor"] = _called_tensor(rec, tb)
    elif kind == "format_tensor":
        err["tensor"] = _formatted_tensor(rec, tb)
    elif kind == "float_expected":  # the integer tensor
        err["tensor"] = _failed_call_tensor(rec, lambda t: not (t.is_floating_point() or t.is_complex()))
    elif kind == "input_no_grad" and p is not None:
        for tid in p["inputs"]:
            trec = rec.tensor_by_num.get(int(tid[1:])) if tid else None
            t = trec.ref() if trec is not None else None
            if t is not None and not t.requires_grad:
                err["tensor"] = tid
                break
    elif kind == "inference_tensor_saved":
        err["tensor"] = _failed_call_tensor(rec, lambda t: t.is_inference())
    elif kind == "unused_input" and p is not None:
        index = explain.unused_index(message)
        if index is not None and index < len(p["inputs"]):
            err["tensor"] = p["inputs"][index]
    elif kind in ("nonscalar_backward", "no_grad_fn", "complex_backward") and p is not None:
        err["tensor"] = p["roots"][0] if p["roots"] else None
        if kind == "no_grad_fn":
            if (not _in_backward_hint(rec, err) and not _second_derivative_hint(rec, err, p, tb)
                    and not _nondifferentiable_hint(err, tb) and not _frozen_hint(rec, err)):
                _grad_off_hint(rec, err) or _late_requires_grad_hint(rec, err)
        elif p["api"] in _WEIGHTS_ARGUMENT:
            # The general fix names backward()'s argument; these calls name it differently.
            call, argument = _WEIGHTS_ARGUMENT[p["api"]]
            err["explanation"] = {
                "title": f"{p['api']}() of a non-scalar output needs {argument}",
                "what": f"Without {argument}, {p['api']}() assumes the output is a single number "
                "(d out/d out = 1). This output has several elements, so autograd does not know how "
                "to weight them.",
                "fix": f"Reduce it first ({call.format('out.sum()')}) or pass the vector of weights: "
                f"{call.format('out')[:-1]}, {argument}=torch.ones_like(out)).",
            }
    elif kind == "gradient_shape" and p is not None:  # "grad_output[i] ... output[i]": the i-th root
        index = explain.output_index(message)
        if index is not None and index < len(p["roots"]):
            err["tensor"] = p["roots"][index]
    elif kind == "grad_is_none":
        _pin_nonleaf_grad(rec, err)
        _pin_none_grad(rec, err, tb)
    elif kind in ("hook_changed_grad", "hook_return_type") and p is not None and p["order"]:
        _pin_hooked(rec, err, p["order"][-1])
    elif kind in ("custom_function_grads", "custom_function_shape") and p is not None:
        err["node"] = p["order"][-1] if p["order"] else None
    elif p is not None and p["order"]:
        err["node"] = p["order"][-1]


def _formatted_tensor(rec: Recorder, tb: TracebackType | None) -> str | None:
    """The tensor an f-string formatted with a spec (`f"{loss:.4f}"`): the first named one that
    is not 0-d (those format fine)."""
    found = failing.failing_expression(tb)
    if found is None:
        return None
    frame, expr = found
    for node in ast.walk(expr):
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None and isinstance(node.value, ast.Name):
            t = failing.named_tensor(frame, node.value.id)
            if t is not None and t.dim() > 0:
                return rec.tensor_id(t)
    return None


def _pin_hook_no_grad(rec: Recorder, err: dict[str, Any], tb: TracebackType | None) -> None:
    """`u.register_hook(...)` on a tensor that needs no grad: pin u (the failed call, if any,
    can be an enclosing one: checkpoint's), and when grad mode was off where u was computed
    (reentrant checkpoint, a custom Function's forward, a no_grad block), say so: u would
    have required grad, and requires_grad=True on the inputs changes nothing."""
    found = failing.failing_expression(tb)
    receiver = found[1].func.value if found is not None and isinstance(found[1], ast.Call) and isinstance(
        found[1].func, ast.Attribute) else None
    hooked = failing.resolved(found[0], receiver) if found is not None and receiver is not None else None
    if receiver is not None and isinstance(hooked, torch.Tensor):
        err["tensor"], name = rec.tensor_id(hooked), ast.unparse(receiver)
    else:
        err["tensor"], name = _failed_call_tensor(rec), "the tensor"
    explanation = err["explanation"]
    qualnames = {getattr(f.f_code, "co_qualname", f.f_code.co_name) for f in _frames_in(tb, "/torch/")}
    if "CheckpointFunction.forward" in qualnames:
        err["explanation"] = {
            "title": "A gradient hook inside checkpoint(..., use_reentrant=True)",
            "what": "checkpoint with use_reentrant=True runs the block's forward under torch.no_grad() (it "
            f"runs it again, with gradients on, during backward), so {name}, computed inside the block, does "
            "not require grad at this point, whatever the inputs' requires_grad. Registering a hook on it fails.",
            "fix": "Use the non-reentrant checkpoint, which runs the block with gradients on: "
            "checkpoint(block, x, use_reentrant=False). Or register the hook outside the block, on the "
            "checkpoint's output.",
        }
    elif "Function.apply" in qualnames:
        err["explanation"] = {
            **explanation,
            "what": f"A custom autograd.Function's forward() runs with gradient tracking off, so {name}, "
            "computed inside it, does not require grad there: autograd records the Function as one node, "
            "and its backward() gives the gradient.",
            "fix": "Register the hook on the Function's output, outside forward(), or handle the gradient "
            "in the Function's backward().",
        }
    elif (at := _computed_without_grad(rec, receiver, err["line"])) is not None or not rec.grad_state[0]:
        where = f" at line {at}" if at is not None else ""
        err["explanation"] = {
            **explanation,
            "what": f"Gradient tracking was off (a torch.no_grad() block, torch.set_grad_enabled(False) or "
            f"inference_mode) when {name} was computed{where}, so it does not require grad even if what it "
            "was computed from does. " + explanation["what"],
            "fix": f"Compute {name} with gradient tracking on (outside the no_grad block), then register the hook.",
        }


def _computed_without_grad(rec: Recorder, expr: ast.expr | None, line: Any) -> int | None:
    """The line of the last assignment to the name `expr` (before `line`) if an op there ran
    with grad off on tensors that require grad (a `no_grad_op` event), else None."""
    module = failing.snippet_tree()
    if not isinstance(expr, ast.Name) or not isinstance(line, int) or module is None:
        return None
    lines = [
        node.lineno for node in ast.walk(module) if isinstance(node, ast.Assign) and node.lineno <= line
        and any(isinstance(t, ast.Name) and t.id == expr.id for t in node.targets)
    ]
    if not lines:
        return None
    at = max(lines)
    off = any(e["kind"] == "no_grad_op" and e["line"] == at for e in rec.all_events())
    return at if off else None


def _in_backward_hint(rec: Recorder, err: dict[str, Any]) -> bool:
    """A backward() called inside another backward pass (from a tensor hook, a module's
    backward hook or a custom Function's backward()) on a tensor computed there: the engine
    runs that code with gradient tracking off (unless the outer pass has create_graph=True), so
    the tensor has no grad_fn although its inputs may require grad. Whether it applied: read
    while the pass fails, still inside the outer pass."""
    if torch.is_grad_enabled() or not rec.grad_state[0] or not _outer_pass_running():
        return False
    err["explanation"] = {
        "title": "backward() inside a hook or custom backward(), where gradients are off",
        "what": "This backward() runs inside another backward pass: in a tensor hook, a module's backward "
        "hook or a custom Function's backward(). Autograd runs those with gradient tracking off (unless "
        "that pass has create_graph=True), so what they compute records no graph and has no grad_fn, "
        "even from tensors that require grad.",
        "fix": "Turn tracking on for that computation: with torch.enable_grad(): (w * g).sum().backward() "
        "inside the hook. Often simpler: compute that term before the first backward() and add it to the loss.",
    }
    return True


def _outer_pass_running() -> bool:
    """Whether a backward pass is running around the one that failed (its `backward.run` is
    further up the Python stack: the engine calls hooks and custom backward()s in this thread)."""
    from gradtrace.core import backward  # (backward imports this module)

    code, depth = backward.run.__code__, 0
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        depth += frame.f_code is code
        frame = frame.f_back
    return depth >= 2


def _grad_off_hint(rec: Recorder, err: dict[str, Any]) -> bool:
    """An output with no grad_fn while gradient tracking is still off (a global
    torch.set_grad_enabled(False), or backward inside the no_grad block): name the line that
    turned it off. Whether it applied."""
    if rec.grad_state[0]:
        return False
    off = None
    for event in itertools.chain(rec.events_head, rec.events_tail):
        if event["kind"] == "grad_mode" and not event.get("grad_enabled") and event["line"] is not None:
            off = event["line"]
    if off is None:
        return False
    explanation = err["explanation"]
    err["explanation"] = {
        **explanation,
        "what": f"Gradient tracking has been off since line {off} (torch.set_grad_enabled(False), or a "
        "torch.no_grad() block still open here): nothing computed since then was recorded. "
        + explanation["what"],
        "fix": "Turn tracking back on before computing what you differentiate (torch.set_grad_enabled(True), "
        "or compute it outside the no_grad block).",
    }
    return True


def _late_requires_grad_hint(rec: Recorder, err: dict[str, Any]) -> bool:
    """The snippet switched requires_grad on, yet the output has no grad_fn: most often the
    switch came after the output was computed (autograd records only later operations)."""
    turned_on = [
        e for e in itertools.chain(rec.events_head, rec.events_tail)
        if e["kind"] == "requires_grad" and e.get("value") is True and e["line"] is not None
    ]
    if not turned_on:
        return False
    lines = ", ".join(str(line) for line in sorted({e["line"] for e in turned_on}))
    explanation = err["explanation"]
    err["explanation"] = {
        **explanation,
        "what": f"{explanation['what']} requires_grad was switched on at line{'s' if ',' in lines else ''} "
        f"{lines}: autograd records only operations that run after that, so an output computed "
        "earlier stays untracked.",
        "fix": "Switch requires_grad on before computing the output from the tensor (or create it with "
        "requires_grad=True), then compute the output again.",
    }
    return True


def _frozen_hint(rec: Recorder, err: dict[str, Any]) -> bool:
    """An output with no grad_fn in a snippet that switched requires_grad off (froze layers):
    when everything it depends on is frozen, nothing is tracked. Names the lines that did."""
    lines: dict[int, set[str]] = {}
    for event in itertools.chain(rec.events_head, rec.events_tail):
        if event["kind"] == "requires_grad" and event.get("value") is False and event["line"] is not None:
            lines.setdefault(event["line"], set()).add(event["tensor"])
    if not lines:
        return False
    count = len(set().union(*lines.values()))
    where = ", ".join(str(line) for line in sorted(lines))
    explanation = err["explanation"]
    err["explanation"] = {
        **explanation,
        "what": f"{explanation['what']} The snippet switched requires_grad off (froze) {count} "
        f"tensor{'s' if count != 1 else ''} (line{'s' if len(lines) > 1 else ''} {where}): if those are all "
        "the output is computed from, autograd tracked none of it.",
        "fix": "Freeze only the layers you do not train and keep requires_grad=True on the ones you "
        f"do (those given to the optimizer): a model with every parameter frozen has nothing to backpropagate to. {explanation['fix']}",
    }
    return True


def _second_derivative_hint(rec: Recorder, err: dict[str, Any], p: dict[str, Any], tb: TracebackType | None) -> bool:
    """A pass from an output with no grad_fn that is a gradient being differentiated again
    (`x.grad.sum().backward()`, `grad(g.sum(), x)`): the first pass needed create_graph=True,
    or had it but went through a `@once_differentiable` backward. Whether it applied."""
    found = failing.failing_expression(tb)
    root = _differentiated_expression(found[1]) if found is not None else None
    if root is None or found is None:
        return False
    explanation = err["explanation"]
    # Evidence, not a guess: a .grad in the expression (after a pass without create_graph), or
    # a name holding a plain tensor an earlier autograd.grad returned. An unrelated earlier
    # pass (a first training step) says nothing about this output.
    from_grad = any(isinstance(n, ast.Attribute) and n.attr == "grad" for n in ast.walk(root)) and any(
        q["index"] < p["index"] and not q["create_graph"] for q in rec.passes)
    returned = {id(t): gradient for gradient in rec.plain_gradients if (t := gradient.tensor()) is not None}
    named = (failing.looked_up(found[0], n.id) for n in ast.walk(root) if isinstance(n, ast.Name))
    source = next((returned[id(value)] for value in named if id(value) in returned), None)
    if source is not None and source.create_graph:
        if not source.once_differentiable:
            return False
        names = ", ".join(source.once_differentiable)
        err["explanation"] = {
            **explanation,
            "what": f"{explanation['what']} It is computed from the gradient autograd.grad(..., create_graph=True) "
            f"returned at line {source.line}, which has no graph all the same: the backward of {names} is "
            "decorated with @once_differentiable, so it runs without recording and what it returns cannot be "
            "differentiated again.",
            "fix": "Write that backward with differentiable torch operations and remove @once_differentiable "
            "(torch.autograd.gradgradcheck checks the result), or do not differentiate through it twice.",
        }
        return True
    if not from_grad and source is None:
        return False
    subject = "It is computed from a .grad, which" if from_grad else (
        f"It is computed from a gradient autograd.grad() returned at line {source.line if source else '?'}, which")
    err["explanation"] = {
        **explanation,
        "what": f"{explanation['what']} {subject} was made without create_graph=True: a plain tensor "
        "outside any graph, which cannot be differentiated again.",
        "fix": "For a second derivative, let the first pass build a graph: g, = torch.autograd.grad(y, x, "
        f"create_graph=True) (or y.backward(create_graph=True)). {explanation['fix']}",
    }
    return True


# Calls whose result carries no gradient at all (integer or boolean results), as opposed to
# ones with zero gradients (round, sign), which still keep the graph.
_NOT_DIFFERENTIABLE = frozenset({
    "argmax", "argmin", "argsort", "eq", "ne", "lt", "le", "gt", "ge", "isclose", "nonzero",
    "long", "int", "bool", "byte", "short", "bucketize", "searchsorted", "count_nonzero",
})
_COMPARE_SYMBOLS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def _trains(module: torch.nn.Module) -> bool:
    """Whether a module has a parameter that requires grad (read from its dicts: no code of
    the snippet's runs)."""
    return any(
        isinstance(p, torch.Tensor) and p.requires_grad
        for _, mod in submodules("", module)
        for _, p in mapping_items(object.__getattribute__(mod, "__dict__").get("_parameters"))
    )


def _nondifferentiable_hint(err: dict[str, Any], tb: TracebackType | None) -> bool:
    """An output with no grad_fn computed, on this line or the assignments it reads, through
    an op with integer or boolean results (argmax, ==, .long()) from a tensor that requires
    grad: the classic "backward through accuracy". Whether it applied."""
    found = failing.failing_expression(tb)
    root = _differentiated_expression(found[1]) if found is not None else None
    if root is None or found is None:
        return False
    frame, line = found[0], err.get("line")
    if not isinstance(line, int):
        return False
    module = failing.snippet_tree()
    if module is None:
        return False
    assigned: dict[str, list[ast.Assign]] = {}
    for node in ast.walk(module):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node)
    todo: list[tuple[ast.expr, int]] = [(root, line)]
    seen: set[str] = set()
    markers: dict[str, int] = {}  # what cut the graph -> the line of the statement it is in
    tracked = False
    while todo and len(seen) < 8:
        expr, at = todo.pop()
        for node in ast.walk(expr):
            if isinstance(node, ast.Compare) and type(node.ops[0]) in _COMPARE_SYMBOLS:
                markers.setdefault(f"a comparison ({_COMPARE_SYMBOLS[type(node.ops[0])]})", at)
            elif isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                if name in _NOT_DIFFERENTIABLE:
                    markers.setdefault(f"{name}()", at)
            elif isinstance(node, ast.Name):
                value = failing.looked_up(frame, node.id)
                tracked = tracked or isinstance(value, torch.Tensor) and value.requires_grad or (
                    isinstance(value, torch.nn.Module) and _trains(value))
                earlier = [a for a in assigned.get(node.id, ()) if a.lineno < at]
                if earlier and node.id not in seen:
                    seen.add(node.id)
                    todo.append((earlier[-1].value, earlier[-1].lineno))
    if not markers or not tracked:
        return False
    # The innermost op came first in the code: ast.walk meets it last.
    cuts = list(markers.items())[::-1][:2]
    what = " and ".join(name for name, _ in cuts)
    lines = sorted({at for _, at in cuts})
    where = "line" + ("s " if len(lines) > 1 else " ") + " and ".join(map(str, lines))
    explanation = err["explanation"]
    err["explanation"] = {
        **explanation,
        "title": "The graph was cut by an operation without gradients",
        "what": f"The tensor you called backward on has no grad_fn: the graph was cut by {what} on {where}. "
        "Their results are integers or booleans, which carry no gradient, so nothing computed from them is "
        "tracked, although a tensor they were computed from requires grad. Accuracy-like values (argmax, ==) "
        "cannot be trained directly.",
        "fix": "Call backward() on a differentiable loss of the raw outputs (e.g. F.cross_entropy(logits, y)) "
        "and compute accuracy only to report it (under torch.no_grad(), or with .item()).",
    }
    return True


def _differentiated_expression(expr: ast.expr) -> ast.expr | None:
    """What a backward call differentiates: `out` in `out.backward()`, the first argument of
    `torch.autograd.grad(out, ...)` / `torch.autograd.backward(out)`."""
    if not isinstance(expr, ast.Call):
        return None
    func = expr.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name == "backward" and isinstance(func, ast.Attribute) and not _is_module_path(func.value):
        return func.value
    if name in ("grad", "backward"):
        return expr.args[0] if expr.args else None
    return None


def _is_module_path(expr: ast.expr) -> bool:
    """`torch.autograd` and the like: where `backward` is a function, not a tensor method."""
    return isinstance(expr, ast.Attribute) and expr.attr == "autograd" or isinstance(expr, ast.Name) and expr.id == "autograd"


def _pin_hooked(rec: Recorder, err: dict[str, Any], last: str) -> None:
    """A tensor hook's wrong gradient fails after the node that sent it (the last one run):
    pin the tensor with hooks among that node's inputs, and the node that made it."""
    sender = rec.nodes.get(int(last[1:]))
    err["node"] = last
    for _, num, _ in sender.edges if sender is not None else []:
        target = rec.nodes.get(num)
        tid = (target.output or target.variable) if target is not None else None  # a leaf: its AccumulateGrad's
        if target is None or tid is None:
            continue
        trec = rec.tensor_by_num.get(int(tid[1:]))
        t = trec.ref() if trec is not None else None
        if trec is not None and t is not None and getattr(t, "_backward_hooks", None):
            err["node"], err["tensor"] = target.id, trec.id
            return


def _pin_nonleaf_grad(rec: Recorder, err: dict[str, Any]) -> None:
    """A `.grad` that is None because its tensor is not a leaf warned on this very line."""
    recent = rec.events_tail if rec.events_tail else rec.events_head
    for event in itertools.islice(reversed(recent), 50):
        if (event["kind"] == "warning" and event["line"] == err["line"] and event.get("tensor")
                and ".grad attribute of a Tensor that is not a leaf" in event["text"]):
            err["tensor"] = event["tensor"]
            err["related_event"] = event["seq"]
            return


def _pin_inplace(rec: Recorder, err: dict[str, Any], p: dict[str, Any] | None) -> None:
    """Pin the node whose saved tensor is stale, and the in-place op that made it so."""
    candidates: list[str] = []
    if p is not None:
        candidates += p["stale_nodes"]
        if p["order"]:
            candidates.append(p["order"][-1])
    for nid in candidates:
        rec_node = rec.nodes.get(int(nid[1:]))
        if rec_node is None:
            continue
        stale = [e for e in rec_node.saved if e["stale"]]
        if not stale and nid != candidates[-1]:
            continue
        err["node"] = nid
        if stale:
            entry = stale[0]
            err["tensor"] = entry["tensor"]
            err["version_at_save"] = entry["version_at_save"]
            err["version_now"] = entry["version_now"]
            storage = rec_node.storages[rec_node.saved.index(entry)]
            event = _culprit_inplace(rec, entry["tensor"], storage, rec_node.created_event, entry["version_at_save"])
            if event is not None:
                err["related_event"] = event["seq"]
                err["related_line"] = event["line"]
                err["tensor"] = err["tensor"] or event.get("tensor")
                if str(event.get("op", "")).endswith(".step"):
                    # The step wrote the parameter; autograd saved a view of it (weight.t()):
                    # the parameter, by its name, is what the learner knows.
                    err["tensor"] = event.get("tensor") or err["tensor"]
                    lesson = explain.INPLACE_BY_STEP
                    err["explanation"] = _carried_past_step(rec, rec_node, event) or _built_once_before_step(
                        rec, rec_node, event, p) or {"title": lesson.title, "what": lesson.what, "fix": lesson.fix}
                elif event.get("node") is not None:
                    _inplace_layer_fix(rec, err, event)
                elif event.get("grad_enabled") is False:
                    _changed_after_use_fix(rec, err, event)
        return


def _built_once_before_step(rec: Recorder, old: Any, step: dict[str, Any], p: dict[str, Any] | None) -> dict[str, str] | None:
    """The lesson when the stale node was built once and reused by every iteration (a value
    derived from a parameter in __init__): an earlier pass already ran it, and its line has
    built no node of its kind since. Re-running forward() does not rebuild it. None otherwise."""
    if old.line is None or not any(old.id in q["order"] for q in rec.passes if q is not p):
        return None
    if _rebuilt_since(rec, old, None):
        return None
    place = "in __init__" if _enclosing_function(old.line) == "__init__" else "once"
    return {
        "title": "A value computed once from a parameter, reused after optimizer.step()",
        "what": (
            f"{old.name} was built {place}, at line {old.line}, from a parameter, and every iteration's graph "
            f"reuses it. optimizer.step() at line {step['line']} then changed that parameter in place, so "
            "the value it saved is out of date, and running forward() again does not rebuild it: forward() "
            "does not compute it. (retain_graph=True, the usual answer to the error before this one, only "
            "keeps the old graph alive.)"
        ),
        "fix": (
            "Compute the derived value inside forward() (or inside the loop), from the parameter, so each "
            "iteration builds it anew: e.g. return F.softplus(self.raw) in forward() instead of "
            "self.var = F.softplus(self.raw) in __init__; then drop retain_graph=True."
        ),
    }


def _enclosing_function(line: int) -> str | None:
    """The name of the innermost function of the snippet that contains `line`."""
    module = failing.snippet_tree()
    found = None
    for node in ast.walk(module) if module is not None else ():
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.lineno <= line <= (node.end_lineno or 0):
            if found is None or node.lineno > found.lineno:
                found = node
    return found.name if found is not None else None


# Functional forms a layer built with inplace=True calls (nn.ReLU(inplace=True) -> F.relu(x,
# inplace=True) reaches us as `relu`): the write has no trailing underscore of the snippet's.
_INPLACE_LAYER_OPS = frozenset({"relu", "relu6", "leaky_relu", "elu", "selu", "celu", "hardtanh", "threshold",
                                "dropout", "alpha_dropout", "hardsigmoid", "hardswish", "silu", "mish", "rrelu"})


def _changed_after_use_fix(rec: Recorder, err: dict[str, Any], event: dict[str, Any]) -> None:
    """A leaf written under no_grad (allowed) after a node had saved it: the out-of-place
    form is not the point, the order is."""
    trec = rec.tensor_by_num.get(int(str(event.get("tensor"))[1:])) if event.get("tensor") else None
    t = trec.ref() if trec is not None else None
    if t is None or not (t.is_leaf and t.requires_grad):
        return
    name = next((k for k, v in scope_items(rec.snippet_globals) if v is t), "the leaf")
    err["explanation"] = {
        **err["explanation"],
        "fix": f"Change {name} before the computation that uses it, or compute the loss again after the "
        f"change (what a training loop does: forward, backward(), the update under no_grad, then a new "
        f"forward). Through {name + '.data' if name != 'the leaf' else '.data'} the write would not raise, and "
        "the gradient would silently use the new values.",
    }


def _inplace_layer_fix(rec: Recorder, err: dict[str, Any], event: dict[str, Any]) -> None:
    """When the write was a layer's own (built with inplace=True), say to drop that flag:
    "use the out-of-place form" cannot be followed, no x.relu_() is written anywhere."""
    writer = rec.nodes.get(int(str(event["node"])[1:]))
    if writer is None or writer.module is None or event.get("op") not in _INPLACE_LAYER_OPS:
        return
    err["explanation"] = {
        **err["explanation"],
        "fix": f"The write is made by {writer.module}, a layer built with inplace=True (e.g. "
        "nn.ReLU(inplace=True)): build it without inplace=True, so it returns a new tensor and leaves "
        "the one an earlier node saved untouched.",
    }
def _carried_past_step(rec: Recorder, old: Any, step: dict[str, Any]) -> dict[str, str] | None:
    """The lesson when the stale node's own line has built a fresh node of its kind since the
    step: the forward did run again, yet backward still reached the old graph, through a
    tensor carried from iteration to iteration (an RNN's hidden state). Re-running the forward
    pass, the step lesson's advice, is then already done. None otherwise."""
    if old.line is None or not _rebuilt_since(rec, old, step["seq"]):
        return None
    kept = any(q["retain_graph"] for q in rec.passes)
    return {
        "title": "Backward into an earlier iteration's graph, past an optimizer step",
        "what": (
            f"This pass reached {old.name} from line {old.line}, built in an earlier iteration, before "
            f"optimizer.step() at line {step['line']} changed the parameters it saved. Line {old.line} has built a "
            f"fresh {old.name} since, but a tensor from the earlier iteration (an RNN's hidden state, a running "
            "total) still feeds the new graph, so backward follows its history into the old one."
            + (" retain_graph=True kept that old graph's buffers, which is why the error is about the step "
               "and not about freed buffers." if kept else "")
        ),
        "fix": (
            "Cut the carried tensor off its history once an iteration's backward() is done: h = h.detach() "
            "(for an LSTM's pair, hc = tuple(t.detach() for t in hc)), or keep numbers for totals (loss.item())"
            + (", and drop retain_graph=True." if kept else ".")
        ),
    }


_VERSIONS = re.compile(r"is at version (\d+); expected version (\d+)")


def _pin_inplace_by_message(rec: Recorder, err: dict[str, Any], message: str) -> None:
    """No saved entry of ours is stale (the value was saved through saved-tensor hooks, as
    non-reentrant checkpointing does, so we never saw it): the message still gives the
    versions, and the in-place write that moved a tensor from the expected version is the
    culprit (the latest such write)."""
    found = _VERSIONS.search(message)
    if found is None:
        return
    now, expected = int(found.group(1)), int(found.group(2))
    err["version_at_save"], err["version_now"] = expected, now
    best = None
    for event in rec.all_events():
        if event["kind"] == "inplace" and event.get("version_before") == expected:
            best = event
    if best is not None:
        err["related_event"] = best["seq"]
        err["related_line"] = best["line"]
        err["tensor"] = best.get("tensor")


def _pin_stale_view(rec: Recorder, err: dict[str, Any]) -> None:
    """The view the failing call used, and the in-place write into its storage that broke it."""
    call = rec.last_failed_call
    for t in call["tensors"] if call else []:
        if not t._is_view():
            continue
        tid = rec.tensor_id(t)
        err["tensor"] = tid
        event = _culprit_inplace(rec, None, graph.storage_of(t), None)
        if event is not None:
            err["related_event"] = event["seq"]
            err["related_line"] = event["line"]
        return


def _culprit_inplace(
    rec: Recorder, tensor: str | None, storage: int | None, after_seq: int | None, saved_version: int | None = None
) -> dict[str, Any] | None:
    """The in-place event (after `after_seq`) on `storage` or on the tensor `tensor` that broke
    a saved value: the write that moved the version away from `saved_version` (later writes
    only move it further; undoing them would not help), else the latest such event."""
    best = None
    for event in rec.all_events():
        if event["kind"] != "inplace":
            continue
        if after_seq is not None and event["seq"] < after_seq:
            continue
        same = (storage is not None and rec.event_storages.get(event["seq"]) == storage) or (
            tensor is not None and event.get("tensor") == tensor
        )
        if same:
            if saved_version is not None and event.get("version_before") == saved_version:
                return event
            best = event
    return best
