"""Accessibility of the playground, the embed widget and the diff page, checked by axe-core
(the engine behind Lighthouse's audit) in the real browser against the real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from gradtrace.core.export_html import render_html
from gradtrace.core.tracer import trace_source
from tests.browser_support import ROOT
from tests.core.scenarios import SCENARIOS

from .helpers import open_app, run_example

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def _violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations of the page as it is now (id, help, elements)."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci)")
    # Evaluated through the debugging protocol: the pages' CSP (script-src 'self') forbids
    # injecting a script tag, and rightly so.
    page.evaluate(AXE.read_text() + "\n;0")
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
            .filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => ({ id: v.id, help: v.help, targets: v.nodes.map(n => n.target.join(" ")) }))"""
    )
    return found


def test_the_playground_passes_axe_with_an_error_a_selection_and_notes(page: Page, server: str) -> None:
    open_app(page, server)
    run_example(page, "inplace_version_error")  # error panel, culprit selected in the inspector
    assert _violations(page) == []
    run_example(page, "running_total_keeps_graphs")  # warnings with lessons and buttons
    page.get_by_role("button", name="Show in the graph (warning at line 20)").click()
    page.get_by_role("button", name="Dark theme").click()
    assert _violations(page) == []


def test_the_playground_passes_axe_with_a_shared_trace_and_its_notes(page: Page, server: str) -> None:
    """A share link over the visitor's own code (the "Restore my code" offer), the tensor
    inspector's step facts, the note over a graph whose code was edited, the phone's button
    to the inspector; light and dark."""
    src = "import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 1\nw = y.exp()\ny.add_(100)\n"
    open_app(page, server)
    page.evaluate("code => window.__gradtrace.setEditorText(code)", "import torch\n# mine\n")
    tid = page.evaluate(
        "async src => (await (await fetch('/api/v1/traces', { method: 'POST', headers: { 'Content-Type': 'application/json' },"
        " body: JSON.stringify({ source: src }) })).json()).id",
        src,
    )
    page.set_viewport_size({"width": 375, "height": 700})
    page.goto(f"{server}/t/{tid}?step=4")
    page.wait_for_function(
        "id => window.__gradtrace.traceId === id && document.getElementById('app').dataset.ready === 'true'"
        " && window.__gradtrace.player.step === 4",
        arg=tid,
        timeout=60_000,
    )
    mul = page.evaluate("() => window.__gradtrace.trace.nodes.find(n => n.name === 'MulBackward0').id")
    page.evaluate("id => window.__gradtrace.cy.getElementById(id).emit('tap')", mul)
    page.evaluate("code => window.__gradtrace.setEditorText(code)", src + "# edited\n")
    assert page.get_by_role("button", name="Restore my code").is_visible()
    assert page.locator("#trace-note").is_visible()
    assert page.get_by_role("button", name="Show the inspector: MulBackward0 ↓").is_visible()
    assert _violations(page) == []
    page.get_by_role("button", name="Dark theme").click()
    assert _violations(page) == []


@pytest.mark.parametrize("query", ["example=backward_twice", "example=chain_rule&theme=dark", "example=inplace_version_error&height=600"])
def test_the_embed_widget_passes_axe(page: Page, server: str, query: str) -> None:
    page.goto(f"{server}/embed?{query}")
    page.wait_for_selector(".gt-embed[data-ready='true']", timeout=120_000)
    assert _violations(page) == []


def test_the_diff_page_passes_axe(page: Page, server: str) -> None:
    page.goto(f"{server}/diff?a=import%20torch%0Ax%20%3D%20torch.ones(2%2C%20requires_grad%3DTrue)%0Ay%20%3D%20x%20*%202&b=import%20torch")
    page.wait_for_function("() => document.getElementById('diff').dataset.ready === 'true'", timeout=120_000)
    assert _violations(page) == []


def test_a_self_contained_export_passes_axe(page: Page, server: str, tmp_path: Path) -> None:
    source = SCENARIOS["inplace_version_error"]
    path = tmp_path / "lesson.html"
    path.write_text(render_html(trace_source(source), source, title="An in-place error"))
    page.goto(path.as_uri())
    page.wait_for_selector(".gt-embed[data-ready='true']", timeout=60_000)
    assert _violations(page) == []
