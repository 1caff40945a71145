"""Checks on the finished run's records, for mistakes that raise nothing.

`total_loss += loss` in a training loop raises nothing, yet every iteration's graph stays
attached to `total_loss`, and a backward() through it would fail: those graphs' saved
tensors were freed by the backward() calls that used them. And a loop that never clears
`.grad` is only a mistake if its backward passes really added to old gradients. Both are read
from the recorder's records (node edges, freed buffers, passes run); nothing of the
snippet's runs.
"""

from __future__ import annotations

from typing import Any

import torch

from gradtrace.core.lint import Finding
from gradtrace.core.recorder import Recorder

MAX_NOTES = 3  # a list of such tensors would otherwise give one note per element


def consumed_graphs(rec: Recorder, named: list[tuple[str, torch.Tensor]], grad_fn: Any) -> list[tuple[Finding, torch.Tensor]]:
    """(finding, tensor) for each named tensor whose graph (not itself run by a backward pass)
    reaches a node whose saved tensors a backward pass freed. `grad_fn(t)` reads a tensor's node."""
    executed = {nid for p in rec.passes for nid in p["order"]}
    clean: set[int] = set()  # nodes known to reach no freed node
    reported: set[int] = set()
    found: list[tuple[Finding, torch.Tensor]] = []
    for name, t in named:
        node = grad_fn(t)
        num = rec.node_num(node) if node is not None else None
        nrec = rec.nodes.get(num) if num is not None else None
        if nrec is None or nrec.line is None or num in reported or nrec.released or nrec.id in executed:
            continue
        reported.add(nrec.num)
        if _reaches_freed(rec, nrec.num, clean):
            found.append((_finding(name, nrec.line), t))
            if len(found) == MAX_NOTES:
                break
    return found


def _reaches_freed(rec: Recorder, start: int, clean: set[int]) -> bool:
    seen, todo = {start}, [start]
    while todo:
        nrec = rec.nodes.get(todo.pop())
        if nrec is None:
            continue
        if nrec.released:
            return True
        for _, target, _ in nrec.edges:
            if target not in seen and target not in clean:
                seen.add(target)
                todo.append(target)
    clean |= seen  # (only when nothing was found: a found path leaves `seen` mixed)
    return False


def _finding(name: str, line: int) -> Finding:
    return Finding(
        line,
        "consumed_graph_kept",
        f"{name}'s graph reaches nodes that a backward() already used and freed.",
        f"{name} holds graphs that backward() already used",
        f"Part of {name}'s graph was already run by a backward() call, which freed the tensors "
        f"those nodes saved: a backward() through {name} would fail there, and {name} keeps "
        "those used graphs in memory. Usual causes: a running total of losses (total_loss += "
        "loss in a training loop), or a second loss sharing part of the graph with one already "
        "backwarded.",
        "For a total to print, add numbers: total_loss += loss.item() (or loss.detach()). For "
        "several losses over one graph, add them and call backward() once, or pass "
        "retain_graph=True to the first backward().",
    )


def added_to_old_grads(rec: Recorder, line: int) -> bool:
    """Whether a backward pass called at `line` accumulated into a .grad that already held a
    gradient (not None, not all zeros): what a loop that never clears gradients does."""
    for record in rec.passes:
        if record["line"] != line:
            continue
        for acc in record["accumulated"]:
            before = acc["before"]
            if before is None:
                continue
            values = before.get("values")
            if values is not None and any(v != 0 for v in values):
                return True
            if values is None and (before.get("min") not in (0, None) or before.get("max") not in (0, None)):
                return True
    return False
