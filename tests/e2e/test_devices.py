"""Devices we do not usually test on: a touch phone, browser zoom, reduced motion, forced colours.

Each test opens its own browser context (touch, mobile, pixel ratio) and asserts on the app's
model, data attributes and bounding boxes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.helpers import open_app, phone_context, run_example


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    with phone_context(browser) as ctx:
        yield ctx


def _in_viewport(page: Page, selector: str) -> bool:
    ok: bool = page.evaluate(
        "s => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.bottom > 0 && r.top < innerHeight; }",
        selector,
    )
    return ok


def test_a_phone_tap_on_show_the_culprit_brings_the_graph_into_view(phone: BrowserContext, server: str) -> None:
    page = phone.new_page()
    problems = open_app(page, server)
    run_example(page, "inplace_version_error")
    button = page.get_by_role("button", name="Show the culprit in the graph")
    button.scroll_into_view_if_needed()
    assert not _in_viewport(page, "#graph")  # stacked under the graph, far below it
    button.tap()
    culprit = page.evaluate("() => document.getElementById('app').dataset.culprit")
    assert culprit and page.evaluate("() => window.__gradtrace.selected") == culprit
    # The culprit is where the visitor is looking: the graph is on screen, the node inside it.
    page.wait_for_function(
        "id => { const cy = window.__gradtrace.cy; const p = cy.getElementById(id).renderedPosition();"
        " const r = cy.container().getBoundingClientRect(); const y = r.top + p.y;"
        " return !cy.animated() && y > 0 && y < innerHeight && p.x > 0 && p.x < r.width; }",
        arg=culprit,
    )
    # ... and the inspector, with its evidence, is one tap away.
    show = page.get_by_role("button", name="Show the inspector: MulBackward0 ↓")
    expect(show).to_be_in_viewport()
    show.tap()
    expect(page.locator("#inspector table.saved").first).to_be_in_viewport()
    assert not problems


def test_the_playgrounds_graph_stays_tall_on_a_phone_when_the_error_is_explained(
    phone: BrowserContext, server: str
) -> None:
    """The stacked phone layout gives the graph most of the screen; the error panel goes below it
    (the widget's phone layout is checked in tests/embed/test_embed_devices.py)."""
    page = phone.new_page()
    open_app(page, server)
    run_example(page, "inplace_version_error")
    expect(page.locator("#error-panel")).to_be_visible()
    graph = page.get_by_role("application", name="Autograd graph").bounding_box()
    panel = page.locator("#error-panel").bounding_box()
    assert graph and panel
    assert graph["height"] >= 0.5 * 844, graph
    assert panel["y"] >= graph["y"] + graph["height"]


KEYS = re.compile(r"↑/↓ follow the edges")


def test_a_touch_phone_shows_the_keyboard_hints_only_once_a_key_is_used(phone: BrowserContext, server: str) -> None:
    """Tab / arrows / Enter / Escape mean nothing to a finger; a keyboard user (a phone with a
    keyboard attached) gets them on the first Tab, and a screen reader always has them."""
    page = phone.new_page()
    open_app(page, server)
    graph = page.get_by_role("application", name="Autograd graph")
    hints = page.locator("#graph-hint, #editor-hint")
    expect(hints).to_have_count(2)
    for i in range(2):
        expect(hints.nth(i)).to_be_hidden()
    expect(graph).to_have_accessible_description(KEYS)
    for _ in range(40):  # Tab through the page to the graph
        if page.evaluate("() => document.activeElement?.id") == "graph":
            break
        page.keyboard.press("Tab")
    expect(graph).to_be_focused()
    expect(page.locator("#app")).to_have_attribute("data-keyboard", "true")
    expect(page.locator("#graph-hint")).to_be_visible()
    expect(page.locator("#graph-hint")).to_contain_text("Enter opens the inspector")
    expect(graph).to_have_accessible_description(KEYS)


def test_the_keyboard_hints_are_shown_with_a_mouse(page: Page, server: str) -> None:
    open_app(page, server)
    expect(page.locator("#graph-hint")).to_be_visible()
    expect(page.locator("#editor-hint")).to_be_visible()
    expect(page.get_by_role("application", name="Autograd graph")).to_have_accessible_description(KEYS)


@pytest.mark.parametrize(("scale", "expected"), [(1, 1), (2, 2), (3, 2)])
def test_the_graph_is_drawn_at_the_screens_pixel_density(browser: Browser, server: str, scale: int, expected: int) -> None:
    """Browser zoom at 200 % (a 1280x720 window shows 640x360 CSS px at 2 device px each), a
    phone: drawn at 1x the node labels were blurred. Capped at 2x (fill cost)."""
    ctx = browser.new_context(viewport={"width": 1280 // scale, "height": 720 // scale}, device_scale_factor=scale)
    try:
        page = ctx.new_page()
        open_app(page, server)
        run_example(page, "chain_rule")
        canvas = page.evaluate(
            "() => { const c = window.__gradtrace.cy.container().querySelector('canvas');"
            " return { backing: c.width, css: c.getBoundingClientRect().width }; }"
        )
        assert canvas["css"] > 0
        assert canvas["backing"] == pytest.approx(canvas["css"] * expected, abs=2), canvas
    finally:
        ctx.close()


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_the_camera_moves_at_once_when_less_motion_is_asked_for(page: Page, server: str, motion: str) -> None:
    page.emulate_media(reduced_motion="reduce" if motion == "reduce" else "no-preference")
    open_app(page, server)
    run_example(page, "inplace_version_error")
    page.evaluate("() => window.__gradtrace.cy.pan({ x: -4000, y: -4000 })")  # the culprit far out of view
    # Clicked and measured in one task: an animation would not have moved the camera yet.
    after = page.evaluate(
        "() => { [...document.querySelectorAll('button')].find(b => b.textContent === 'Show the culprit in the graph').click();"
        " const cy = window.__gradtrace.cy, id = document.getElementById('app').dataset.culprit;"
        " const p = cy.getElementById(id).renderedPosition();"
        " return { animated: cy.animated(), dx: p.x - cy.width() / 2, dy: p.y - cy.height() / 2 }; }"
    )
    if motion == "reduce":
        assert not after["animated"] and abs(after["dx"]) < 2 and abs(after["dy"]) < 2, after
    else:
        assert after["animated"], after  # the glide is kept for everyone else


def test_forced_colours_still_mark_the_steps_line_and_the_errors_line(page: Page, server: str) -> None:
    page.emulate_media(forced_colors="active")
    open_app(page, server)
    run_example(page, "inplace_version_error")
    error_line = page.evaluate("() => window.__gradtrace.trace.error.line")
    page.evaluate("() => window.__gradtrace.seek(3)")
    outline = "el => { const s = getComputedStyle(el); return s.outlineStyle === 'none' ? null : s.outlineStyle; }"
    current = page.locator(".cm-current-line")
    expect(current).to_have_count(1)
    assert current.evaluate(outline) == "solid"
    assert page.locator(".cm-error-line").evaluate(outline) == "dashed"
    assert page.locator(".cm-error-line").evaluate("el => el.textContent").strip()
    assert page.locator(".cm-line").nth(error_line - 1).evaluate("el => el.classList.contains('cm-error-line')")
    plain = page.locator(".cm-line:not(.cm-current-line):not(.cm-error-line)").first
    assert plain.evaluate(outline) is None
    # The legend's swatches keep the graph's colours (not all forced to the page's background).
    page.get_by_text("Legend").click()
    colours = page.locator(".swatch").evaluate_all("els => new Set(els.map(e => getComputedStyle(e).backgroundColor)).size")
    assert colours > 3

