"""The widget on devices we do not usually test on: a touch phone (a narrow widget hides its inspector,
its graph keeps a usable height), reduced motion, forced colours."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Frame, Locator, Page, expect

from gradtrace.core.tracer import trace_source
from tests.browser_support import ROOT
from tests.e2e.helpers import phone_context, tap_node
from tests.embed.conftest import CoursePages, Service
from tests.embed.helpers import READY, player, root_data, widget

# The least height the graph keeps on a phone: 40 % of the phone's 844 px viewport (the widget
# used to leave it 299 px, 254 px under the error panel's line and 120 px with the panel open).
USABLE = 0.4 * 844


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    with phone_context(browser) as ctx:
        yield ctx


def test_a_tap_on_a_node_opens_the_inspector_in_a_narrow_widget(phone: BrowserContext, service: Service) -> None:
    page = phone.new_page()
    page.goto(f"{service.url}/embed?example=chain_rule")
    page.wait_for_function(READY, timeout=90_000)
    inspector = page.get_by_role("complementary", name="Inspector")
    expect(inspector).to_be_hidden()  # no room beside the graph at this width
    node = page.evaluate("() => window.__gradtrace.trace.nodes.find(n => n.kind === 'op').id")
    tap_node(page, node)
    page.wait_for_function("() => document.querySelector('.gt-embed').dataset.inspecting === 'true'")
    expect(inspector).to_be_visible()
    name = page.evaluate("id => window.__gradtrace.trace.nodes.find(n => n.id === id).name", node)
    expect(inspector.locator("h3")).to_contain_text(name.split("::")[-1])
    # In the code pane's place, inside the widget; the way back is in reach and works.
    box, root = inspector.bounding_box(), page.locator(".gt-embed").bounding_box()
    assert box and root and box["x"] >= root["x"] and box["x"] + box["width"] <= root["x"] + root["width"] + 1
    expect(page.get_by_role("region", name="Code")).to_be_hidden()
    page.get_by_role("button", name="Back to the code").tap()
    expect(page.get_by_role("region", name="Code")).to_be_visible()
    assert "inspecting" not in root_data(page)


def test_the_way_back_stays_in_reach_when_the_culprit_is_shown(phone: BrowserContext, service: Service) -> None:
    page = phone.new_page()
    page.goto(f"{service.url}/embed?example=inplace_version_error")
    page.wait_for_function(READY, timeout=90_000)
    page.locator(".gt-error-summary").tap()
    page.get_by_role("button", name="Show the culprit in the graph").tap()
    page.wait_for_function("() => document.querySelector('.gt-embed').dataset.inspecting === 'true'")
    # The inspector scrolled to the evidence (the stale saved tensors) ...
    assert page.evaluate("() => document.querySelector('.gt-inspector').scrollTop") > 0
    # ... and "Back to the code" is still on screen inside it.
    back = page.get_by_role("button", name="Back to the code")
    pane = page.locator(".gt-inspector").bounding_box()
    b = back.bounding_box()
    assert pane and b and pane["y"] - 1 <= b["y"] and b["y"] + b["height"] <= pane["y"] + pane["height"] + 1
    back.tap()
    expect(page.get_by_role("region", name="Code")).to_be_visible()


def _height(frame: Page | Frame, selector: str) -> float:
    h: float = frame.evaluate("s => document.querySelector(s).getBoundingClientRect().height", selector)
    return h


def test_a_phone_widget_grows_rather_than_squeeze_its_graph(phone: BrowserContext, service: Service) -> None:
    page = phone.new_page()
    page.goto(f"{service.url}/embed?example=inplace_version_error")
    page.wait_for_function(READY, timeout=90_000)
    graph = page.get_by_role("img", name="Autograd graph")
    error = page.locator(".gt-error")
    expect(error).to_be_visible()  # at the last step the failure is explained under the graph
    box = graph.bounding_box()
    assert box and box["height"] >= USABLE, box
    # Opened, the explanation takes its room below the graph (scrolling past a bound), not the graph's.
    page.locator(".gt-error-summary").tap()
    expect(error).to_have_attribute("open", "")
    box = graph.bounding_box()
    assert box and box["height"] >= USABLE, box
    assert _height(page, ".gt-error") <= 280.5
    assert page.evaluate(
        "() => { const e = document.querySelector('.gt-error'); return e.scrollHeight > e.clientHeight; }"
    )
    # ... and nothing is cut off at the widget's bottom: the timeline and the footer are in it.
    root = page.locator(".gt-embed").bounding_box()
    assert root
    for control in (
        page.get_by_role("button", name="Play"),
        page.get_by_role("link", name="Open in playground ↗"),
    ):
        b = control.bounding_box()
        assert b and b["y"] + b["height"] <= root["y"] + root["height"], (b, root)
    # The graph is still a tap target: a tap on a node selects it.
    node = page.evaluate("() => window.__gradtrace.trace.nodes.find(n => n.kind === 'op').id")
    tap_node(page, node)
    page.wait_for_function("() => document.querySelector('.gt-embed').dataset.inspecting === 'true'")


def test_a_course_pages_iframe_follows_the_taller_phone_widget(
    phone: BrowserContext, service: Service, course: CoursePages
) -> None:
    """embed.js sizes the iframe to the widget's document, also as the widget grows (the error
    panel opened) and shrinks back (closed again), and the height settles: no height in vh
    that would grow with the iframe."""
    page = phone.new_page()
    page.goto(course.url("phone.html", service.url))
    frame = widget(page, lambda u: "wid=gt0" in u)
    page.wait_for_function("() => document.querySelector('iframe[data-wid=gt0]')?.dataset.ready === 'true'")
    iframe = "() => document.querySelector('iframe[data-wid=gt0]').getBoundingClientRect().height"
    fits = f"h => Math.abs(({iframe})() - h) < 1"
    for step, opened in enumerate((False, True, False)):
        if step:
            frame.locator(".gt-error-summary").tap()
            if opened:
                expect(frame.locator(".gt-error")).to_have_attribute("open", "")
            else:
                expect(frame.locator(".gt-error")).not_to_have_attribute("open", "")
        assert _height(frame, ".gt-canvas") >= USABLE
        doc = frame.evaluate("() => document.querySelector('.gt-embed').getBoundingClientRect().bottom")
        page.wait_for_function(fits, arg=doc)
        page.wait_for_timeout(500)
        assert page.evaluate(iframe) == pytest.approx(doc, abs=1)


# Held sideways (844x390) the widget has the wide layout; its graph keeps 240 px, most of what the
# screen has under the page's own chrome (it was squeezed to 120 px by the opened error panel).
SIDEWAYS_USABLE = 240


def _inside(control: Locator, root: Locator) -> bool:
    b, r = control.bounding_box(), root.bounding_box()
    return bool(b and r and r["y"] <= b["y"] and b["y"] + b["height"] <= r["y"] + r["height"] + 0.5)


def test_a_phone_held_sideways_keeps_its_graph_when_the_error_opens(browser: Browser, service: Service) -> None:
    with phone_context(browser, sideways=True) as ctx:
        page = ctx.new_page()
        page.goto(f"{service.url}/embed?example=inplace_version_error")
        page.wait_for_function(READY, timeout=90_000)
        expect(page.get_by_role("complementary", name="Inspector")).to_be_visible()  # the wide layout
        # Closed, the author's height is kept: the graph has room enough.
        assert _height(page, ".gt-embed") == 400
        assert _height(page, ".gt-canvas") >= SIDEWAYS_USABLE
        page.locator(".gt-error-summary").tap()
        expect(page.locator(".gt-error")).to_have_attribute("open", "")
        # Opened, the widget grows instead (embed.js follows it) and the explanation scrolls past 280 px.
        assert _height(page, ".gt-canvas") >= SIDEWAYS_USABLE
        assert _height(page, ".gt-error") <= 280.5
        root = page.locator(".gt-embed")
        assert _inside(page.get_by_role("button", name="Play"), root)
        assert _inside(page.get_by_role("link", name="Open in playground ↗"), root)
        # The graph is still a tap target: a tap on a node shows it in the inspector beside it.
        node, name = page.evaluate(
            "() => { const n = window.__gradtrace.trace.nodes.find(n => n.kind === 'op'); return [n.id, n.name]; }"
        )
        tap_node(page, node)
        expect(page.get_by_role("complementary", name="Inspector").locator("h3")).to_contain_text(name)


def test_the_offline_export_on_a_phone_held_sideways(browser: Browser, built_frontend: Path, tmp_path: Path) -> None:
    """The export fills the window; held sideways, an opened error panel made it cut off its timeline."""
    source = (ROOT / "backend/gradtrace/core/examples/inplace_version_error.py").read_text()
    out = tmp_path / "lesson.html"
    out.write_text(trace_source(source).to_html(source))
    with phone_context(browser, sideways=True) as ctx:
        page = ctx.new_page()
        page.goto(out.as_uri())
        page.wait_for_function(READY, timeout=60_000)
        root = page.locator(".gt-embed")
        assert _height(page, ".gt-embed") <= 390  # closed, it fits the window
        page.locator(".gt-error-summary").tap()
        expect(page.locator(".gt-error")).to_have_attribute("open", "")
        assert _height(page, ".gt-canvas") >= SIDEWAYS_USABLE
        assert _inside(page.get_by_role("button", name="Play"), root)


@pytest.mark.parametrize("width", [600, 1100])
def test_a_wider_widget_keeps_the_authors_height(page: Page, service: Service, width: int) -> None:
    """Course columns on a desktop (the docs' 600 px iframe): the height asked for, error panel open or not."""
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{service.url}/embed?example=inplace_version_error&height=400")
    page.wait_for_function(READY, timeout=90_000)
    assert _height(page, ".gt-embed") == 400
    page.locator(".gt-error-summary").click()
    expect(page.locator(".gt-error")).to_have_attribute("open", "")
    assert _height(page, ".gt-embed") == 400


@pytest.mark.parametrize(("query", "shown"), [("", "end"), ("&step=2", 2)])
def test_autoplay_waits_for_play_when_less_motion_is_asked_for(
    page: Page, service: Service, query: str, shown: int | str
) -> None:
    """Under prefers-reduced-motion the widget opens still, at the step asked for (else the end),
    says why, and plays when Play is pressed."""
    page.emulate_media(reduced_motion="reduce")
    page.goto(f"{service.url}/embed?example=chain_rule&autoplay=1{query}")
    page.wait_for_function(READY, timeout=90_000)
    state = player(page)
    assert not state["playing"]
    assert state["step"] == (state["total"] if shown == "end" else shown), state
    assert root_data(page)["message"] == "reduced-motion"
    expect(page.get_by_role("status").filter(has_text="reduced motion")).to_be_visible()
    page.wait_for_timeout(700)  # still: nothing started it meanwhile
    assert player(page)["step"] == state["step"] and not player(page)["playing"]
    page.get_by_role("button", name="Play").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    page.wait_for_function("s => window.__gradtrace.player.step !== s", arg=state["step"])
    assert "message" not in root_data(page)


def test_autoplay_still_plays_by_itself_otherwise(page: Page, service: Service) -> None:
    page.emulate_media(reduced_motion="no-preference")
    page.goto(f"{service.url}/embed?example=chain_rule&autoplay=1")
    page.wait_for_function(READY, timeout=90_000)
    assert player(page)["playing"]
    assert "message" not in root_data(page)


def test_forced_colours_mark_the_widgets_current_line(page: Page, service: Service) -> None:
    """Windows High Contrast drops the line's background and bar: an outline marks it."""
    page.emulate_media(forced_colors="active")
    page.goto(f"{service.url}/embed?example=chain_rule&step=3")
    page.wait_for_function(READY, timeout=90_000)
    current = page.locator(".gt-current")
    expect(current).to_have_count(1)
    assert current.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    assert page.locator(".gt-line:not(.gt-current)").first.evaluate("el => getComputedStyle(el).outlineStyle") == "none"
