"""Serializers over the trace model: JSON (the model's own) and Graphviz DOT.

DOT is a second view of the same document, not a second walk of the graph: colours follow
torchviz's habit (leaves light blue, outputs green, saved tensors orange).
"""

from __future__ import annotations

import json
from typing import Any

from gradtrace.core.model import Trace


def _q(text: str) -> str:
    """A DOT double-quoted string: every user-controlled character escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "") + '"'


def _shape(shape: list[int] | None) -> str:
    return "(" + ", ".join(str(s) for s in shape or []) + ")"


def to_dot(trace: Trace | dict[str, Any]) -> str:
    """The autograd graph as DOT, drawn in data-flow direction (leaves on top, outputs below)."""
    doc = trace if isinstance(trace, dict) else json.loads(trace.to_json())
    tensors = {t["id"]: t for t in doc.get("tensors", [])}
    outputs = {t["grad_fn"] for t in tensors.values() if t.get("grad_fn") and t.get("names")}
    error = doc.get("error") or {}
    culprit = error.get("node")
    lines = [
        "digraph gradtrace {",
        '  graph [rankdir=TB, fontname="Helvetica"];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, fillcolor="#eeeeee"];',
    ]
    for node in doc.get("nodes", []):
        label = node["name"]
        colour = "#eeeeee"
        if node.get("kind") == "accumulate_grad":
            var = tensors.get(node.get("variable") or "")
            names = ", ".join(var["names"]) if var and var.get("names") else (node.get("variable") or "leaf")
            label = f"{names}\n{_shape(var['shape']) if var else ''}"
            colour = "#a8d8ff"
        elif node.get("kind") == "custom":
            colour = "#e3c8ff"
        if node["id"] in outputs:
            colour = "#b8f0b0"
        if node.get("stale"):
            colour = "#ffb3b3"
        pin = ', color="#d62728", penwidth=3' if node["id"] == culprit else ""
        lines.append(f"  {_q(node['id'])} [label={_q(label)}, fillcolor={_q(colour)}{pin}];")
        for i, saved in enumerate(node.get("saved", [])):
            if saved.get("kind") != "tensor":
                continue
            sid = _q(f"{node['id']}_s{i}")
            text = f"{saved['name']}\n{_shape(saved.get('shape'))}"
            if saved.get("freed"):
                text += "\nfreed"
            lines.append(f"  {sid} [label={_q(text)}, fillcolor=\"#ffd8a8\", fontsize=8];")
            lines.append(f"  {sid} -> {_q(node['id'])} [style=dotted, arrowhead=none];")
    for edge in doc.get("edges", []):
        # Data flows from the next function (target) to the node that consumes it (source).
        # Ids are quoted too: a document can come from a sandbox the snippet wrote to.
        lines.append(f"  {_q(edge['target'])} -> {_q(edge['source'])};")
    if error:  # the failure, under the graph (its culprit node is outlined in red)
        title = (error.get("explanation") or {}).get("title") or error.get("message", "")
        at = f" at line {error['line']}" if error.get("line") else ""
        text = f"{error.get('type', 'Error')}{at}: {title}"
        lines.append(f'  graph [labelloc=b, fontcolor="#d62728", label={_q(text)}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_json(trace: Trace, indent: int | None = None) -> str:
    return trace.to_json(indent=indent)
