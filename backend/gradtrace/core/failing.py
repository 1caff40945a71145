"""Where the snippet failed: its innermost frame and the expression that raised there.

Read from the traceback (or, while a backward pass runs, from the calling snippet frame on
the stack) and the instruction's source position; names are looked up in the frame, never
evaluated (reading an attribute could run the snippet's code).
"""

from __future__ import annotations

import ast
import linecache
import sys
from types import FrameType, TracebackType
from typing import Any

import torch

from gradtrace.core.recorder import SNIPPET_FILENAME


def innermost(tb: TracebackType | None) -> TracebackType | None:
    """The traceback entry of the innermost frame of the snippet's own code."""
    found = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SNIPPET_FILENAME:
            found = tb
        tb = tb.tb_next
    return found


def snippet_line(tb: TracebackType | None) -> int | None:
    """The innermost snippet line in a traceback."""
    entry = innermost(tb)
    return entry.tb_lineno if entry is not None else None


def innermost_frame(tb: TracebackType | None) -> FrameType | None:
    """The innermost frame of the snippet's own code in a traceback."""
    entry = innermost(tb)
    return entry.tb_frame if entry is not None else None


def failing_expression(tb: TracebackType | None) -> tuple[FrameType, ast.expr] | None:
    """The snippet's innermost frame in the traceback and the expression that failed there,
    parsed from the instruction's source position (Python 3.11 keeps one per instruction).
    An error described while a backward pass runs has not reached the snippet's frames yet:
    the snippet frame that called the pass is then on the stack, at that call."""
    entry = innermost(tb)
    if entry is not None:
        frame, lasti = entry.tb_frame, entry.tb_lasti
    else:
        caller: FrameType | None = sys._getframe(1)
        while caller is not None and caller.f_code.co_filename != SNIPPET_FILENAME:
            caller = caller.f_back
        if caller is None:
            return None
        frame, lasti = caller, caller.f_lasti
    if lasti < 0:
        return None
    positions = list(frame.f_code.co_positions())
    if lasti // 2 >= len(positions):
        return None
    line, end_line, col, end_col = positions[lasti // 2]
    if line is None or line != end_line or col is None or end_col is None:
        return None
    text = linecache.getline(SNIPPET_FILENAME, line)[col:end_col]
    try:
        return frame, ast.parse(text, mode="eval").body
    except SyntaxError:
        pass
    try:
        statement = ast.parse(text).body
    except SyntaxError:
        return None
    if len(statement) == 1 and isinstance(statement[0], ast.AugAssign):
        # `w.grad += 1` fails as a whole statement: read it as the operation it performs.
        aug = statement[0]
        return frame, ast.BinOp(left=aug.target, op=aug.op, right=aug.value)  # type: ignore[arg-type]
    return None


def snippet_tree() -> ast.Module | None:
    """The snippet's whole source, parsed (None if it cannot be: it ran, but the parser's
    limits differ from compile()'s)."""
    try:
        return ast.parse("".join(linecache.getlines(SNIPPET_FILENAME)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def looked_up(frame: FrameType, name: str) -> Any:
    """What a name holds in `frame` (its locals, then its globals): a dict lookup."""
    return frame.f_locals.get(name, frame.f_globals.get(name))


def named_tensor(frame: FrameType, name: str) -> torch.Tensor | None:
    """The tensor a name holds in `frame`, if it holds one."""
    value = looked_up(frame, name)
    return value if isinstance(value, torch.Tensor) else None


_MISSING = object()


def resolved(frame: FrameType, expr: ast.expr, depth: int = 0) -> Any:
    """What a name path (`model.fc.weight`, `net[0].weight`, `params["w"]`) holds in `frame`,
    read from dicts only: a module's parameters, buffers and submodules, an instance's
    `__dict__`, lists, tuples and dicts by constant index. Nothing is evaluated, so no
    property, `__getattr__` or `__getitem__` of the snippet's runs. `_MISSING` if it cannot
    be read that way."""
    if depth > 16:
        return _MISSING
    if isinstance(expr, ast.Name):
        return frame.f_locals.get(expr.id, frame.f_globals.get(expr.id, _MISSING))
    if isinstance(expr, ast.Attribute):
        owner = resolved(frame, expr.value, depth + 1)
        if owner is _MISSING:
            return _MISSING
        try:
            attrs = object.__getattribute__(owner, "__dict__")
        except (AttributeError, TypeError):
            return _MISSING
        if not isinstance(attrs, dict):
            return _MISSING
        if isinstance(owner, torch.nn.Module):
            for table in ("_parameters", "_buffers", "_modules"):
                entries = attrs.get(table)
                if isinstance(entries, dict) and expr.attr in entries:
                    return entries[expr.attr]
        return attrs.get(expr.attr, _MISSING)
    key_node = expr.slice if isinstance(expr, ast.Subscript) else None
    if (
        isinstance(key_node, ast.UnaryOp)
        and isinstance(key_node.op, ast.USub)
        and isinstance(key_node.operand, ast.Constant)
        and type(key_node.operand.value) is int
    ):
        key_node = ast.Constant(-key_node.operand.value)  # net[-1]: the parser keeps the minus apart
    if isinstance(expr, ast.Subscript) and isinstance(key_node, ast.Constant):
        owner = resolved(frame, expr.value, depth + 1)
        key = key_node.value
        if isinstance(owner, torch.nn.Sequential | torch.nn.ModuleList) and isinstance(key, int):
            modules = list(object.__getattribute__(owner, "__dict__")["_modules"].values())
            return modules[key] if -len(modules) <= key < len(modules) else _MISSING
        if type(owner) in (list, tuple) and isinstance(key, int):
            return owner[key] if -len(owner) <= key < len(owner) else _MISSING
        if type(owner) is dict:
            return owner.get(key, _MISSING)
    return _MISSING
