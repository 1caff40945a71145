"""The widget on devices we do not usually test on: a touch phone (a narrow widget hides its inspector), forced colours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.helpers import phone_context, tap_node
from tests.embed.conftest import Service
from tests.embed.helpers import READY, root_data


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


def test_forced_colours_mark_the_widgets_current_line(page: Page, service: Service) -> None:
    """Windows High Contrast drops the line's background and bar: an outline marks it."""
    page.emulate_media(forced_colors="active")
    page.goto(f"{service.url}/embed?example=chain_rule&step=3")
    page.wait_for_function(READY, timeout=90_000)
    current = page.locator(".gt-current")
    expect(current).to_have_count(1)
    assert current.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    assert page.locator(".gt-line:not(.gt-current)").first.evaluate("el => getComputedStyle(el).outlineStyle") == "none"
