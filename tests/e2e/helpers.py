"""Shared browser-test helpers: open the playground, run code, read the app's exposed state."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

# A small snippet with two leaves and a loss: the playground's own default code
# (DEFAULT_CODE in frontend/src/main.ts).
DEFAULT = """import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
y = x * w
loss = y.sum()
loss.backward()
print(x.grad, w.grad)
"""


def open_app(page: Page, server: str, query: str = "?autorun=0") -> list[str]:
    """Loads the playground; returns a list that collects page errors and dialogs (XSS witnesses)."""
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(server + "/" + query)
    page.wait_for_function("window.__gradtrace !== undefined")
    return problems


def runs(page: Page) -> int:
    return int(page.evaluate("() => Number(document.getElementById('app').dataset.runs || 0)"))


def wait_ready(page: Page, previous_runs: int, timeout: float = 90_000) -> dict[str, Any]:
    """Waits until a run started after `previous_runs` completed runs has finished and rendered."""
    page.wait_for_function(
        "prev => Number(document.getElementById('app').dataset.runs || 0) > prev"
        " && document.getElementById('app').dataset.ready === 'true'",
        arg=previous_runs,
        timeout=timeout,
    )
    return state(page)


def state(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        "() => ({ ...window.__gradtrace.player, traceId: window.__gradtrace.traceId,"
        " status: document.getElementById('app').dataset.status })"
    )
    return result


def run_code(page: Page, code: str) -> dict[str, Any]:
    prev = runs(page)
    page.evaluate("code => window.__gradtrace.setEditorText(code)", code)
    page.get_by_role("button", name="Run (Ctrl+Enter)").click()
    return wait_ready(page, prev)


def run_example(page: Page, name: str) -> dict[str, Any]:
    prev = runs(page)
    page.get_by_label("Examples").select_option(name)
    return wait_ready(page, prev)


def seek(page: Page, step: int) -> None:
    page.evaluate("n => window.__gradtrace.seek(n)", step)


def expect_line(page: Page, line: int | None) -> None:
    cur = page.locator(".cm-current-line")
    if line is None:
        expect(cur).to_have_count(0)
    else:
        expect(cur).to_have_attribute("data-line", str(line))


def node_on_page(page: Page, element_id: str) -> dict[str, float]:
    """Where Cytoscape draws a graph element on the page ({x, y}).

    Measured after two frames: a step whose caption wraps onto a second line shrinks the graph,
    and until the visitor pans or zooms the canvas re-frames itself on resize (a ResizeObserver,
    delivered with the next frame), which moves the nodes a few pixels."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    pos: dict[str, float] = page.evaluate(
        "id => { const cy = window.__gradtrace.cy; const p = cy.getElementById(id).renderedPosition();"
        " const r = cy.container().getBoundingClientRect(); return { x: r.left + p.x, y: r.top + p.y }; }",
        element_id,
    )
    return pos


def click_node(page: Page, element_id: str) -> None:
    """A real mouse click on a graph element."""
    pos = node_on_page(page, element_id)
    page.mouse.click(pos["x"], pos["y"])


def tap_node(page: Page, element_id: str) -> None:
    """A real touch tap on a graph element (the context needs has_touch)."""
    pos = node_on_page(page, element_id)
    page.touchscreen.tap(pos["x"], pos["y"])


# A touch phone: its own browser context (touch, mobile, pixel ratio).
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "has_touch": True,
    "is_mobile": True,
    "device_scale_factor": 3,
}


@contextlib.contextmanager
def phone_context(browser: Browser, *, sideways: bool = False) -> Iterator[BrowserContext]:
    """The phone upright, or held sideways (landscape, 844x390)."""
    viewport = {"width": 844, "height": 390} if sideways else PHONE["viewport"]
    ctx = browser.new_context(**{**PHONE, "viewport": viewport})
    try:
        yield ctx
    finally:
        ctx.close()
