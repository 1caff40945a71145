"""Suggestions for a mistyped name, attribute or keyword: the close names that do exist.

Found as Python's own traceback finds them: by listing what the snippet's frame, object or
function has (dict lookups, `inspect.getattr_static`, signatures), never by running the
snippet's code.
"""

from __future__ import annotations

import ast
import inspect
import sys
import types
from types import TracebackType
from typing import Any

import torch

from gradtrace.core import explain, failing

# Where a function named in a message ("Linear.__init__", "Tensor.backward", "Net.__init__")
# is looked for: the snippet's own globals first, then the namespaces courses call into.
_NAMESPACES = (torch.nn, torch.optim, torch.utils.data, torch.nn.functional, torch, torch.autograd)


def with_suggestion(rule: explain.Rule, message: str, tb: TracebackType | None) -> explain.Rule:
    """The kind's lesson with its fix made specific: the names close to a mistyped one."""
    if rule.kind == "no_such_attribute":
        owner = explain.member_owner(message)
        if owner is not None and hasattr(torch.Tensor, owner[1]):  # not a torch tensor: a class of the snippet's named Tensor
            return explain.member_rule(message, _members(message, tb)) or explain.by_kind("no_such_member")
        return explain.attribute_rule(message, dir(torch.Tensor)) or rule
    if rule.kind == "unexpected_keyword":
        return explain.keyword_rule(message, _parameters_of(explain.keyword_function(message), tb)) or rule
    if rule.kind == "no_such_member":
        return explain.member_rule(message, _members(message, tb)) or rule
    if rule.kind == "name_not_defined":
        return explain.name_rule(message, _names_in_scope(tb)) or rule
    return rule


def _names_in_scope(tb: TracebackType | None) -> list[str]:
    """The names the failing snippet line could see (locals, globals, builtins): the
    candidates Python's own traceback picks "Did you mean" from."""
    frame = failing.innermost_frame(tb)
    if frame is None:
        return []
    builtins = frame.f_globals.get("__builtins__", {})
    builtin_names = list(builtins) if isinstance(builtins, dict) else dir(builtins)
    return [*frame.f_locals, *frame.f_globals, *builtin_names]


def _parameters_of(where: str | None, tb: TracebackType | None) -> list[str] | None:
    """The parameter names of the function `where` names, found by name (dict lookups and
    library attributes only: nothing of the snippet's is called), or None."""
    if not where:
        return None
    owner, _, attr = where.rpartition(".")
    head = owner or attr
    found: Any = None
    frame = failing.innermost_frame(tb)
    candidate = frame.f_globals.get(head) if frame is not None else None
    if isinstance(candidate, type) or inspect.isfunction(candidate):
        found = candidate
    elif head == "Tensor":
        found = torch.Tensor
    else:
        found = next((vars(ns)[head] for ns in _NAMESPACES if head in vars(ns)), None)
    if found is None:
        return None
    if owner:
        found = inspect.getattr_static(found, attr, None)
        found = getattr(found, "__func__", found)  # staticmethod / classmethod
    try:
        return [p for p in inspect.signature(found).parameters if p not in ("self", "cls", "ctx")]
    except (TypeError, ValueError):  # a builtin without a signature
        return None


def _registered(obj: Any) -> dict[str, Any]:
    """A module's registered layers, parameters and buffers (what nn.Module.__getattr__ serves)."""
    if not isinstance(obj, torch.nn.Module):
        return {}
    own = vars(obj)
    return {**own.get("_modules", {}), **own.get("_parameters", {}), **own.get("_buffers", {})}


def _static_attribute(obj: Any, name: str) -> Any:
    """obj.name without running any code of the snippet's: a module's registered layers,
    parameters and buffers, the instance dict, then the class (descriptors unevaluated)."""
    registered = _registered(obj)
    if name in registered:
        return registered[name]
    try:
        return inspect.getattr_static(obj, name)
    except AttributeError:
        return None


def _receiver(tb: TracebackType | None) -> Any:
    """The object whose attribute lookup failed, for `a.b.c` in the snippet's failing expression."""
    found = failing.failing_expression(tb)
    if found is None:
        return None
    frame, expr = found
    if not isinstance(expr, ast.Attribute):
        return None
    chain: list[str] = []
    value: ast.expr = expr.value
    while isinstance(value, ast.Attribute):
        chain.append(value.attr)
        value = value.value
    if not isinstance(value, ast.Name):
        return None
    obj = failing.looked_up(frame, value.id)
    for name in reversed(chain):
        obj = _static_attribute(obj, name)
    return obj


def _members(message: str, tb: TracebackType | None) -> list[str]:
    """The attribute names of the object a "has no attribute" message is about: found as the
    receiver of the snippet's failing expression (its layers and parameters too, for a module),
    else by the class or module name the message gives."""
    owner = explain.member_owner(message)
    if owner is None:
        return []
    cls_name = owner[0]
    obj = _receiver(tb)
    if obj is None or (type(obj).__name__ != cls_name and getattr(obj, "__name__", None) != cls_name):
        module = sys.modules.get(cls_name)
        if module is not None:
            obj = module
        else:
            obj = next((vars(ns)[cls_name] for ns in _NAMESPACES if isinstance(vars(ns).get(cls_name), type)), None)
            if obj is None:
                return []
    names = list(_registered(obj))
    names += list(getattr(obj, "__dict__", {}))
    names += dir(obj if isinstance(obj, type | types.ModuleType) else type(obj))
    return names
