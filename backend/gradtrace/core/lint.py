"""Static checks of a snippet's source for autograd mistakes that raise nothing.

`opt.zero_grad` without parentheses is a valid statement that does nothing: gradients then
pile up across iterations, and nothing in the run says why. Such lines are found in the
source (no code runs) and reported as notes with their lesson.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    line: int
    kind: str
    text: str
    title: str
    what: str
    fix: str


# Methods whose call is the whole point of the statement: named without (), they do nothing.
_EFFECTS = {
    "zero_grad": "the old gradients stay, and the next backward() adds to them",
    "zero_": "the tensor (often a .grad) is not zeroed, so the next backward() adds to it",
    "backward": "no gradients are computed, so every .grad stays as it was (None at first)",
    "step": "the optimizer does not update the parameters",
    "retain_grad": "the tensor's gradient will not be kept",
    "requires_grad_": "requires_grad does not change",
    "train": "the module does not switch to training mode (dropout, batch norm)",
    "eval": "the module does not switch to evaluation mode (dropout and batch norm keep training behaviour)",
}
# Grad-mode context managers: called on their own line, they are made and thrown away.
_MODES = {"no_grad", "enable_grad", "inference_mode"}


def _text(node: ast.AST, fallback: str) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # (deeply nested source)
        return fallback


def _method_call(stmt: ast.stmt, names: set[str] | str) -> str | None:
    """The receiver's text if `stmt` is `<receiver>.<name>(...)` for one of `names`."""
    wanted = {names} if isinstance(names, str) else names
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Attribute) and func.attr in wanted:
            return _text(func.value, "?")
    return None


def _not_called(stmt: ast.stmt) -> Finding | None:
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Attribute) and stmt.value.attr in _EFFECTS):
        return None
    method, expr = stmt.value.attr, _text(stmt.value, stmt.value.attr)
    return Finding(
        stmt.lineno,
        "method_not_called",
        f"{expr} is named but not called: {_EFFECTS[method]}.",
        f"{method} without parentheses does nothing",
        f"{expr} only looks the method up; without () it never runs, so {_EFFECTS[method]}. "
        "Python raises no error for this.",
        f"Call it: {expr}().",
    )


def _mode_discarded(stmt: ast.stmt) -> Finding | None:
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return None
    func = stmt.value.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name not in _MODES:
        return None
    call = _text(stmt.value, f"{name}()")
    return Finding(
        stmt.lineno,
        "grad_mode_discarded",
        f"{call} on its own line changes nothing: grad mode stays as it was.",
        f"{name}() needs a with statement",
        f"{call} makes a context manager and throws it away: the lines after it still run "
        "with the same grad mode (and still build the graph, for no_grad).",
        f"Indent the code under it: with {call}: ... (or switch globally with "
        "torch.set_grad_enabled(False)).",
    )


def _detach_discarded(stmt: ast.stmt) -> Finding | None:
    receiver = _method_call(stmt, "detach")
    if receiver is None:
        return None
    return Finding(
        stmt.lineno,
        "detach_discarded",
        f"{receiver}.detach() returns a new tensor, which this line throws away: {receiver} is unchanged.",
        "detach() does not change the tensor",
        f"detach() returns a new tensor cut from the graph and leaves {receiver} as it was: "
        f"{receiver} still requires grad and stays in the graph.",
        f"Keep the result: {receiver} = {receiver}.detach() (or {receiver}.detach_() to cut it in place).",
    )


def _zero_grad_between(body: list[ast.stmt]) -> list[Finding]:
    """In one block: backward(), then zero_grad(), then step() of the same optimizer: the step
    runs on the gradients just cleared."""
    found = []
    backward_seen = False
    cleared: dict[str, int] = {}  # optimizer text -> line of its zero_grad() after a backward()
    for stmt in body:
        if _method_call(stmt, "backward") is not None:
            backward_seen, cleared = True, {}
        elif (opt := _method_call(stmt, "zero_grad")) is not None and backward_seen:
            cleared[opt] = stmt.lineno
        elif (opt := _method_call(stmt, "step")) is not None and opt in cleared:
            found.append(
                Finding(
                    cleared.pop(opt),
                    "zero_grad_before_step",
                    f"{opt}.zero_grad() runs between backward() and {opt}.step(): the step sees no gradients.",
                    "zero_grad() between backward() and step()",
                    f"backward() fills .grad, {opt}.zero_grad() clears it, and {opt}.step() then "
                    "updates with what is left: nothing (with set_to_none, the parameters are "
                    "skipped altogether).",
                    f"Clear before the forward pass or right after the step: {opt}.zero_grad(), "
                    f"forward, loss.backward(), {opt}.step().",
                )
            )
    return found


_CLIPS = {"clip_grad_norm_", "clip_grad_value_"}


def _clip_call(stmt: ast.stmt) -> str | None:
    """`clip_grad_norm_` / `clip_grad_value_` if `stmt` calls one (also as `norm = ...`)."""
    value = stmt.value if isinstance(stmt, ast.Expr | ast.Assign) else None
    if isinstance(value, ast.Call):
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in _CLIPS:
            return name
    return None


def _clip_before_backward(body: list[ast.stmt]) -> list[Finding]:
    """In one block: gradient clipping, then backward(), with no backward() before the clip:
    it clips the gradients that were there before (None, zeros or the last step's), and the
    new ones go to step() unclipped."""
    clip: tuple[str, int] | None = None
    for stmt in body:
        if _method_call(stmt, "backward") is not None:
            if clip is not None:
                name, line = clip
                return [Finding(
                    line,
                    "clip_before_backward",
                    f"{name}() runs before the backward() at line {stmt.lineno}: it clips the old gradients, not this step's.",
                    "Gradients clipped before backward()",
                    f"{name}() rescales the .grad tensors as they are when it runs. Here the backward() "
                    "that computes this step's gradients comes after it, so the clipping acts on what was "
                    "there before (nothing, zeros, or the previous step's) and step() gets this step's "
                    "gradients unclipped.",
                    f"Clip between backward() and step(): loss.backward(), {name}(model.parameters(), ...), "
                    "optimizer.step().",
                )]
            return []
        if clip is None and (called := _clip_call(stmt)) is not None:
            clip = (called, stmt.lineno)
    return []


# Attributes whose mention in a loop means the learner clears gradients there (a call named
# without () is noted by `_not_called` instead).
_CLEARS = {"zero_grad", "zero_"}


def _grads_never_cleared(loop: ast.For | ast.While) -> Finding | None:
    """A loop that calls backward() and updates parameters (an optimizer's step(), or an
    in-place update from .grad) but never clears .grad: each backward() adds to the last.
    Only a candidate: the tracer keeps it if the run really accumulated (runchecks)."""
    backward_line, updates = None, False
    for node in ast.walk(loop):
        if isinstance(node, ast.Attribute):
            if node.attr in _CLEARS or (node.attr == "grad" and isinstance(node.ctx, ast.Store | ast.Del)):
                return None
            if node.attr == "optim":  # an optimizer made inside the loop: fresh state each time
                return None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "backward" and backward_line is None:
                backward_line = node.lineno
            elif node.func.attr == "step":
                updates = True
        if isinstance(node, ast.AugAssign) and any(
            isinstance(n, ast.Attribute) and n.attr == "grad" for n in ast.walk(node.value)
        ):
            updates = True
    if backward_line is None or not updates:
        return None
    return Finding(
        backward_line,
        "grad_never_cleared",
        "This loop never clears .grad: each backward() adds its gradients to the previous ones.",
        "Gradients pile up across iterations",
        "backward() adds into .grad rather than overwriting it. Nothing in this loop resets "
        "the gradients (no zero_grad()), so from the second iteration on each update uses "
        "the sum of all gradients so far, and the steps grow.",
        "Clear them once per iteration, before backward(): optimizer.zero_grad() (or "
        "model.zero_grad(), or w.grad = None for a tensor updated by hand).",
    )


def findings(source: str) -> list[Finding]:
    """Every such mistake in the source, in line order."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # (what compile() took, ast may not)
        return []
    found: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.For | ast.While) and (finding := _grads_never_cleared(node)) is not None:
            if all(f.line != finding.line for f in found):  # nested loops: one note per backward()
                found.append(finding)
        if isinstance(node, ast.stmt):
            for check in (_not_called, _mode_discarded, _detach_discarded):
                finding = check(node)
                if finding is not None:
                    found.append(finding)
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                found += _zero_grad_between(block) + _clip_before_backward(block)
    return sorted(found, key=lambda f: f.line)
