"""Checks on the finished run's records, for mistakes that raise nothing.

`total_loss += loss` in a training loop raises nothing, yet every iteration's graph stays
attached to `total_loss`, and a backward() through it would fail: those graphs' saved
tensors were freed by the backward() calls that used them. A loop that never clears `.grad`
is only a mistake if its backward passes really added to old gradients. And a loss given an
already squashed input (softmax before cross_entropy) shows as a pair of nodes. All are read
from the recorder's records (node names and edges, freed buffers, passes run); nothing of
the snippet's runs.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from gradtrace.core.lint import Finding
from gradtrace.core.recorder import Recorder

MAX_NOTES = 3  # a list of such tensors would otherwise give one note per element


def notes(rec: Recorder, named: list[tuple[str, torch.Tensor]], grad_fn: Any) -> list[tuple[Finding, str | None, str | None]]:
    """Every check's findings, as (finding, node id, tensor id) of what each is about."""
    found: list[tuple[Finding, str | None, str | None]] = []
    found += [(f, None, rec.tensor_id(t)) for f, t in consumed_graphs(rec, named, grad_fn)]
    found += [(f, nid, None) for f, nid in squashed_twice(rec)]
    found += [(f, None, tid) for f, tid in backward_from_leaf(rec)]
    found += [(f, nid, tid) for f, nid, tid in data_copied_from_graph(rec, named)]
    return found


def consumed_graphs(rec: Recorder, named: list[tuple[str, torch.Tensor]], grad_fn: Any) -> list[tuple[Finding, torch.Tensor]]:
    """(finding, tensor) for each named tensor whose node was built after a backward pass
    freed the saved tensors of a node its graph reaches (and was not itself run by a pass):
    a new graph built on a used one. `grad_fn(t)` reads a tensor's node."""
    executed = {nid for p in rec.passes for nid in p["order"]}
    earliest: dict[int, float] = {}  # node num -> earliest free (event seq) its graph reaches
    reported: set[int] = set()
    found: list[tuple[Finding, torch.Tensor]] = []
    for name, t in named:
        node = grad_fn(t)
        num = rec.node_num(node) if node is not None else None
        nrec = rec.nodes.get(num) if num is not None else None
        if nrec is None or nrec.line is None or nrec.created_event is None:
            continue
        if nrec.num in reported or nrec.released or nrec.id in executed:
            continue
        reported.add(nrec.num)
        if _earliest_free(rec, nrec.num, earliest) < nrec.created_event:
            found.append((_finding(name, nrec.line), t))
            if len(found) == MAX_NOTES:
                break
    return found


def _earliest_free(rec: Recorder, start: int, memo: dict[int, float]) -> float:
    """The earliest event seq at which a pass freed a node reachable from `start` (inf: none),
    by an iterative post-order walk of the node records (graphs can be deep)."""
    todo: list[tuple[int, bool]] = [(start, False)]
    while todo:
        num, children_done = todo.pop()
        if num in memo:
            continue
        nrec = rec.nodes.get(num)
        targets = [target for _, target, _ in nrec.edges] if nrec is not None else []
        if not children_done:
            memo_pending = [c for c in targets if c not in memo]
            if memo_pending:
                todo.append((num, True))
                todo.extend((c, False) for c in memo_pending)  # (autograd graphs have no cycles)
                continue
        value = float(rec.freed_at.get(num, math.inf))
        for c in targets:
            value = min(value, memo.get(c, math.inf))
        memo[num] = value
    return memo[start]


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


# (a node, the node its first input comes from) that say a squashing function ran twice or a
# loss was given the wrong kind of input; what it means and the fix.
_PAIRS: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("LogSoftmaxBackward0", "SoftmaxBackward0"): (
        "softmax_twice",
        "softmax applied twice",
        "cross_entropy (and log_softmax) apply softmax themselves; given probabilities, they "
        "squash them a second time. The loss never gets near 0 and its gradients shrink, so "
        "the model learns slowly or not at all.",
        "Give cross_entropy the raw scores (logits): remove the softmax before it (keep it only "
        "to read probabilities, outside the loss).",
    ),
    ("NllLossBackward0", "SoftmaxBackward0"): (
        "nll_of_probabilities",
        "nll_loss given probabilities, not log-probabilities",
        "nll_loss expects log-probabilities (log_softmax's output); on probabilities its value "
        "is just minus the probability of the target, and its gradients are not those of the "
        "cross-entropy.",
        "Use log_softmax instead of softmax before nll_loss, or cross_entropy on the raw scores.",
    ),
    ("LogBackward0", "SoftmaxBackward0"): (
        "log_of_softmax",
        "log(softmax(x)) instead of log_softmax(x)",
        "softmax can round small probabilities to 0, and log(0) is -inf: the loss and its "
        "gradients become inf or nan. log_softmax computes the same thing without that step.",
        "Use torch.log_softmax(x, dim=...) (or cross_entropy on the raw scores).",
    ),
    ("BinaryCrossEntropyWithLogitsBackward0", "SigmoidBackward0"): (
        "sigmoid_twice",
        "sigmoid applied twice",
        "BCEWithLogitsLoss applies the sigmoid itself; given probabilities, it squashes them "
        "again, so predictions can never reach 0 or 1 inside the loss and its gradients shrink.",
        "Give BCEWithLogitsLoss the raw scores; or keep the sigmoid and use BCELoss.",
    ),
}


def squashed_twice(rec: Recorder) -> list[tuple[Finding, str]]:
    """(finding, node id) for each line where a loss or log_softmax takes its input straight
    from a softmax or sigmoid it should not get (once per line and kind)."""
    found: list[tuple[Finding, str]] = []
    seen: set[tuple[str, int]] = set()
    for nrec in list(rec.nodes.values()):
        for _, target, _ in nrec.edges[:1]:
            source = rec.nodes.get(target)
            if source is None:
                continue
            lesson = _PAIRS.get((nrec.name, source.name))
            if lesson is None or nrec.line is None or (lesson[0], nrec.line) in seen:
                continue
            seen.add((lesson[0], nrec.line))
            kind, title, what, fix = lesson
            found.append((Finding(nrec.line, kind, f"{title}: {nrec.name} takes the output of {source.name}.", title, what, fix), nrec.id))
    return found


def backward_from_leaf(rec: Recorder) -> list[tuple[Finding, str]]:
    """(finding, tensor id) for each line whose backward pass started from a leaf tensor: a
    loss rebuilt from numbers (`torch.tensor(loss.item(), requires_grad=True)`) has no
    history, so the pass reaches nothing but itself."""
    found: list[tuple[Finding, str]] = []
    lines: set[int] = set()
    for record in rec.passes:
        line = record["line"]
        if line is None or line in lines or record["error"] is not None:
            continue
        for tid in record["roots"]:
            trec = rec.tensor_by_num.get(int(tid[1:])) if tid else None
            t = trec.ref() if trec is not None else None
            if t is None or t.grad_fn is not None or not t.requires_grad:
                continue
            lines.add(line)
            found.append((Finding(
                line,
                "backward_from_leaf",
                "backward() starts from a leaf: it reaches no other tensor.",
                "backward() from a tensor with no history",
                "The tensor backward() starts from was created, not computed: it has no grad_fn "
                "(for example a loss rebuilt from numbers with torch.tensor(loss.item(), "
                "requires_grad=True)), so the pass only sets its own .grad and no parameter gets "
                "a gradient.",
                "Compute the loss with tensor operations from the parameters, and keep it a tensor: "
                "no .item(), float() or torch.tensor() on the way.",
            ), tid))
            break
    return found


def data_copied_from_graph(rec: Recorder, named: list[tuple[str, torch.Tensor]]) -> list[tuple[Finding, str | None, str]]:
    """(finding, node id, tensor id) for each line that assigned `.data` values taken from a
    graph (`vector_to_parameters(theta, model.parameters())` does `p.data = theta[...].data`):
    the numbers arrive, their history does not, so nothing flows back to where they came from.
    The node is where the copied values were computed; the tensor is the one assigned."""
    names: dict[str, str] = {}
    for name, t in named:
        trec = rec.tensor_record(t, create=False)
        if trec is not None:
            names.setdefault(trec.id, name)
    found: list[tuple[Finding, str | None, str]] = []
    lines: set[int] = set()
    for event in rec.all_events():
        if event["kind"] != "set_data" or event["line"] is None or event["line"] in lines:
            continue
        # Only values computed in a graph: a leaf's own values (`target.data = p.data`, a
        # target network sharing its source's weights) cut no history.
        source = event.get("node")
        if source is None:
            continue
        leaves = _leaves_of(rec, source)
        target = event["tensor"]
        if target in leaves:
            continue  # `w.data = w.detach() * 2`: w's own values, nothing cut from elsewhere
        lines.add(event["line"])
        to = names.get(target, "the tensor")
        shown = [names[t] for t in leaves if t in names][:3]
        origin = ", ".join(shown) if shown else "a tensor that requires grad"
        found.append((Finding(
            event["line"],
            "data_copied_from_graph",
            f"{to}.data takes values computed from {origin}: the link to {origin} is not kept.",
            "values taken through .data, without their history",
            f"Assigning .data makes a tensor use other values (the same memory, not a copy) but "
            f"not their history (vector_to_parameters does this for every parameter). {to} stays "
            "a leaf of its own: it is used in the next forward, it gets "
            f".grad, and autograd never learns that its values came from {origin}: no gradient "
            f"flows back to {origin} through this assignment (its .grad stays None if this was "
            "its only use).",
            f"To differentiate with respect to {origin}, make the forward use it: "
            "torch.func.functional_call(model, params, x), where params maps each parameter "
            "name to a view of it (for example built with split and view_as). If a copy of the "
            "values is what you want, do it under torch.no_grad() with p.copy_(...), which says so.",
        ), event.get("node"), target))
        if len(found) == MAX_NOTES:
            break
    return found


def _leaves_of(rec: Recorder, start: str, limit: int = 10_000) -> list[str]:
    """Ids of the leaf tensors (AccumulateGrad variables) whose node records are reachable
    from node `start`, in walk order; at most `limit` nodes visited (graphs can be huge)."""
    todo = [int(start[1:])]
    seen: set[int] = set()
    leaves: list[str] = []
    while todo and len(seen) < limit:
        num = todo.pop()
        if num in seen:
            continue
        seen.add(num)
        nrec = rec.nodes.get(num)
        if nrec is None:
            continue
        if nrec.variable is not None and nrec.variable not in leaves:
            leaves.append(nrec.variable)
        todo.extend(target for _, target, _ in reversed(nrec.edges))
    return leaves
