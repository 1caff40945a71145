"""Module group boxes as the playground draws them: a box holds its own module's nodes only, and
two boxes only overlap when one module is inside the other (read from the Cytoscape elements)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from .helpers import open_app, run_code, run_example

pytestmark = pytest.mark.e2e

MLP = """import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
x = torch.randn(5, 4)
target = torch.tensor([0, 2, 1, 0, 1])
loss = F.cross_entropy(model(x), target)
loss.backward()
"""

# Drawn boxes (position +- data w/h) of open groups and of the nodes; a node's module is its
# `group` data, a group's enclosing module its own `group` data.
DEFECTS_JS = """() => {
  const cy = window.__gradtrace.cy;
  const rect = (e) => { const p = e.position(), w = e.data('w'), h = e.data('h');
    return { x1: p.x - w / 2, y1: p.y - h / 2, x2: p.x + w / 2, y2: p.y + h / 2 }; };
  const meet = (a, b) => a.x1 < b.x2 - 0.5 && b.x1 < a.x2 - 0.5 && a.y1 < b.y2 - 0.5 && b.y1 < a.y2 - 0.5;
  const groups = cy.nodes('.group.expanded').map((g) => ({ id: g.id(), r: rect(g), parent: g.data('group') ?? null }));
  const parentOf = new Map(groups.map((g) => [g.id, g.parent]));
  const line = (g) => { const out = new Set(); while (g) { out.add(g); g = parentOf.get(g) ?? null; } return out; };
  const crossing = [], foreign = [];
  groups.forEach((a, i) => groups.slice(i + 1).forEach((b) => {
    if (meet(a.r, b.r) && !line(a.id).has(b.id) && !line(b.id).has(a.id)) crossing.push([a.id, b.id]);
  }));
  cy.nodes().not('.group.expanded').not('.stacked').forEach((n) => {
    const mine = line(n.data('group') ?? null);
    for (const g of groups) if (meet(rect(n), g.r) && !mine.has(g.id)) foreign.push([n.data('label'), g.id]);
  });
  return { groups: groups.map((g) => g.id).sort(), crossing, foreign };
}"""


def _defects(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(DEFECTS_JS)
    return result


def test_an_mlp_draws_each_layer_in_its_own_box(page: Page, server: str) -> None:
    open_app(page, server)
    run_code(page, MLP)
    d = _defects(page)
    assert d["groups"] == ["G:model", "G:model.0", "G:model.1", "G:model.2"]
    assert d["crossing"] == []
    assert d["foreign"] == []


def test_the_transformer_example_draws_no_box_over_another_module(page: Page, server: str) -> None:
    open_app(page, server)
    run_example(page, "transformer_encoder")
    d = _defects(page)
    assert len(d["groups"]) > 10
    assert d["crossing"] == []
    assert d["foreign"] == []
