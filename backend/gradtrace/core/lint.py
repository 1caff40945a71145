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


def findings(source: str) -> list[Finding]:
    """Every statement that names one of those methods without calling it, in line order."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Attribute) and node.value.attr in _EFFECTS:
            method = node.value.attr
            try:
                expr = ast.unparse(node.value)
            except Exception:  # (deeply nested source)
                expr = method
            found.append(
                Finding(
                    line=node.lineno,
                    kind="method_not_called",
                    text=f"{expr} is named but not called: {_EFFECTS[method]}.",
                    title=f"{method} without parentheses does nothing",
                    what=f"{expr} only looks the method up; without () it never runs, so "
                    f"{_EFFECTS[method]}. Python raises no error for this.",
                    fix=f"Call it: {expr}().",
                )
            )
    return sorted(found, key=lambda f: f.line)
