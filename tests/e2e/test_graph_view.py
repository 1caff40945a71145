"""What the graph and inspector show: a selected node that is not created yet, the first view
of small graphs."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .helpers import DEFAULT, click_node, open_app, run_code, run_example
from .test_playground import _LOOP

pytestmark = pytest.mark.e2e


# Every drawn (created, not retired) node's box, in canvas pixels, and the canvas size.
DRAWN_BOXES = """() => { const cy = window.__gradtrace.cy;
  const boxes = cy.nodes().filter(n => !n.hasClass('future') && !n.hasClass('retired') && !n.hasClass('group'))
    .map(n => { const b = n.renderedBoundingBox({ includeLabels: false, includeOverlays: false });
                return { id: n.id(), x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2 }; });
  return { w: cy.width(), h: cy.height(), boxes }; }"""


def _outside(view: dict[str, Any]) -> list[str]:
    return [
        b["id"]
        for b in view["boxes"]
        if b["x1"] < -1 or b["y1"] < -1 or b["x2"] > view["w"] + 1 or b["y2"] > view["h"] + 1
    ]


def test_a_selected_node_not_created_yet_is_not_drawn_and_is_said_to_come_later(
    page: Page, server: str
) -> None:
    open_app(page, server)
    run_code(page, DEFAULT)
    node = page.evaluate("() => window.__gradtrace.trace.nodes.find(n => n.name === 'SumBackward0').id")
    click_node(page, node)
    assert page.evaluate("() => window.__gradtrace.selected") == node
    expect(page.locator("#inspector")).not_to_contain_text("not created yet")
    page.get_by_role("button", name="Go to start").click()
    el = f"window.__gradtrace.cy.getElementById('{node}')"
    assert page.evaluate(f"() => {el}.hasClass('future') && {el}.selected()")
    # Nothing drawn where it will be: no selection underlay, no box, no label.
    assert float(page.evaluate(f"() => {el}.style('underlay-opacity')")) == 0
    assert float(page.evaluate(f"() => {el}.style('background-opacity')")) == 0
    inspector = page.locator("#inspector")
    expect(inspector.locator("[data-field=not-yet]")).to_contain_text("not created yet")
    made = page.evaluate(f"() => window.__gradtrace.model.items.get('{node}').appearAt")
    expect(inspector.locator("[data-field=not-yet]")).to_contain_text(f"step {made}")
    # Its end-of-run facts are not presented as the state now.
    expect(inspector).not_to_contain_text("executed in backward")
    page.get_by_role("button", name="Go to end").click()
    expect(inspector.locator("[data-field=not-yet]")).to_have_count(0)
    expect(inspector).to_contain_text("executed in backward")


def test_small_graphs_open_and_pin_their_culprit_entirely_in_view(page: Page, server: str) -> None:
    open_app(page, server)
    run_example(page, "inplace_version_error")
    page.wait_for_timeout(400)  # the culprit's focus animation
    view = page.evaluate(DRAWN_BOXES)
    assert view["boxes"] and _outside(view) == [], view
    page.set_viewport_size({"width": 600, "height": 430})
    page.goto(f"{server}/embed?example=chain_rule")
    page.wait_for_function(
        "() => document.querySelector('.gt-embed')?.dataset.ready === 'true'", timeout=90_000
    )
    page.wait_for_timeout(300)
    view = page.evaluate(DRAWN_BOXES)
    assert view["boxes"] and _outside(view) == [], view


def test_a_caption_wrapping_while_stepping_does_not_reframe_the_graph(page: Page, server: str) -> None:
    # The step where the loop's second PowBackward0 is built has a caption long enough to wrap
    # onto a second line: the canvas loses a line of height, and the view must not pulse.
    open_app(page, server)
    run_code(page, _LOOP)
    trace = page.evaluate("() => window.__gradtrace.trace")
    pows = [n["id"] for n in trace["nodes"] if n["name"] == "PowBackward0"]
    step = (
        next(i for i, e in enumerate(trace["events"]) if e["kind"] == "node" and e.get("node") == pows[1]) + 1
    )
    frames = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    view = "() => { const cy = window.__gradtrace.cy; return { zoom: cy.zoom(), pan: cy.pan(), h: cy.height() }; }"
    before = page.evaluate(view)
    page.evaluate("n => window.__gradtrace.seek(n)", step)
    page.evaluate(frames)
    page.evaluate(frames)
    after = page.evaluate(view)
    assert after["h"] < before["h"], (before, after)  # the caption did wrap
    assert (after["zoom"], after["pan"]) == (before["zoom"], before["pan"])
    # Still whole: every drawn node inside the canvas.
    assert _outside(page.evaluate(DRAWN_BOXES)) == []


def test_two_quick_clicks_on_different_nodes_are_not_a_double_click(page: Page, server: str) -> None:
    open_app(page, server)
    st = run_code(page, DEFAULT)
    nodes = page.evaluate("() => window.__gradtrace.trace.nodes.map(n => n.id)")
    pos = page.evaluate(
        "ids => { const cy = window.__gradtrace.cy; const r = cy.container().getBoundingClientRect();"
        " return ids.map(id => { const p = cy.getElementById(id).renderedPosition(); return [r.left + p.x, r.top + p.y]; }); }",
        nodes[:2],
    )
    page.mouse.click(*pos[0])
    page.mouse.click(*pos[1])  # straight after: within the double-click interval
    page.wait_for_timeout(400)
    assert page.evaluate("() => window.__gradtrace.player.step") == st["total"]
    assert page.evaluate("() => window.__gradtrace.selected") == nodes[1]
    # A real double-click on one node still jumps to the step that created it.
    page.mouse.dblclick(*pos[1])
    made = page.evaluate(f"() => window.__gradtrace.model.items.get('{nodes[1]}').appearAt")
    page.wait_for_function(f"() => window.__gradtrace.player.step === {made}")


def test_the_node_a_backward_pass_failed_in_is_not_called_executed(page: Page, server: str) -> None:
    # The second backward() reaches the node whose buffers the first freed and raises there:
    # its pre-hook ran (it started), but no gradient came out of it.
    open_app(page, server)
    run_example(page, "backward_twice")
    failed = page.evaluate("() => window.__gradtrace.trace.backward_passes.find(p => p.error).error.node")
    page.get_by_role("button", name="Go to end").click()
    click_node(page, failed)
    executed = page.locator("#inspector [data-field=executed]")
    expect(executed).to_have_text("started; its backward raised")
    # A node that ran to the end in the first pass says yes.
    first = page.evaluate(
        f"() => window.__gradtrace.trace.backward_passes[0].order.find(id => id !== '{failed}')"
    )
    click_node(page, first)
    expect(executed).to_have_text("yes")



CHAIN = "import torch\nx = torch.ones(1, requires_grad=True)\ny = x\nfor i in range(2000):\n    y = y * 1.001\ny.backward()\n"

IN_VIEW = """id => { const cy = window.__gradtrace.cy; const b = cy.getElementById(id).renderedBoundingBox({ includeLabels: false });
  return b.x1 >= 0 && b.y1 >= 0 && b.x2 <= cy.width() && b.y2 <= cy.height(); }"""


def test_fit_on_a_2000_node_chain_shows_a_readable_neighbourhood(page: Page, server: str) -> None:
    """Fitting 2,000 nodes at once draws a faint line (zoom 0.02): Fit shows the selection's, or
    the step's, neighbourhood at a readable zoom instead, and says so. Small graphs fit whole."""
    open_app(page, server)
    run_code(page, CHAIN)
    page.evaluate("() => window.__gradtrace.expandAll()")
    fit = page.get_by_role("button", name="Fit graph to view")
    fit.click()
    zoom = "() => window.__gradtrace.cy.zoom()"
    assert page.evaluate(zoom) >= 0.75
    view = page.evaluate(DRAWN_BOXES)
    inside = [b for b in view["boxes"] if b["id"] not in _outside(view)]
    assert len(inside) >= 4, inside
    expect(page.locator("#status")).to_contain_text("Too big to read whole")
    # With a node selected, Fit shows the neighbourhood around it.
    mid = page.evaluate("() => window.__gradtrace.trace.nodes[1000].id")
    page.evaluate("id => window.__gradtrace.cy.getElementById(id).emit('tap')", mid)
    assert not page.evaluate(IN_VIEW, mid)
    fit.click()
    assert page.evaluate(zoom) >= 0.75
    assert page.evaluate(IN_VIEW, mid)
    expect(page.locator("#status")).to_contain_text("the selection")
    # A small graph still fits whole.
    run_code(page, DEFAULT)
    page.evaluate("() => window.__gradtrace.cy.zoom(3)")
    fit.click()
    assert _outside(page.evaluate(DRAWN_BOXES)) == []
    expect(page.locator("#status")).not_to_contain_text("Too big")
