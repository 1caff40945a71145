"""The widget between runs and under the mouse: an editable widget's error goes with the run that
raised it; arrow keys keep stepping after a click on the graph."""

from __future__ import annotations

from playwright.sync_api import Page, Route, expect

from tests.embed.conftest import Service
from tests.embed.helpers import READY, encode_code, player, root_data

TWICE = """import torch
a = torch.ones(2, requires_grad=True)
l = (a * a).sum()
l.backward()
l.backward()
"""


def test_an_editable_widget_drops_the_error_once_the_fixed_code_runs(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/embed?editable=1#code={encode_code(TWICE)}")
    page.wait_for_function(READY, timeout=90_000)
    assert root_data(page)["status"] == "error"
    strip = page.locator("details.gt-error")
    expect(strip).to_be_visible()
    fixed = TWICE.rsplit("l.backward()\n", 1)[0]
    page.locator("textarea.gt-textarea").fill(fixed)
    page.get_by_role("button", name="Run ▸").click()
    page.wait_for_function(
        "() => { const d = document.querySelector('.gt-embed').dataset; return d.ready === 'true' && d.status === 'ok'; }",
        timeout=90_000,
    )
    expect(strip).to_be_hidden()
    expect(strip).to_be_empty()
    # Broken again: the new run's error is shown (once the timeline is at it).
    page.locator("textarea.gt-textarea").fill(TWICE)
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "() => { const d = document.querySelector('.gt-embed').dataset; return d.ready === 'true' && d.status === 'error'; }",
        timeout=90_000,
    )
    expect(strip).to_be_visible()


def test_arrow_keys_step_after_clicking_the_graph(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/embed?example=chain_rule")
    page.wait_for_function(READY, timeout=90_000)
    total = player(page)["total"]
    assert player(page)["step"] == total > 2
    box = page.locator(".gt-canvas").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 5, box["y"] + 5)  # an empty corner of the graph
    page.keyboard.press("ArrowLeft")
    assert player(page)["step"] == total - 1
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowRight")
    assert player(page)["step"] == total - 1


def test_the_widget_caption_is_quiet_while_playing(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/embed?example=chain_rule&speed=1")
    page.wait_for_function(READY, timeout=90_000)
    caption = page.locator(".gt-caption")
    expect(caption).to_have_attribute("aria-live", "polite")
    page.get_by_role("button", name="Go to start").click()
    page.get_by_role("button", name="Play").click()
    expect(caption).to_have_attribute("aria-live", "off")
    page.get_by_role("button", name="Pause").click()
    expect(caption).to_have_attribute("aria-live", "polite")


def test_show_the_culprit_brings_the_inspector_into_view_in_a_narrow_widget(page: Page, service: Service) -> None:
    """Below 700 px the inspector has no room beside the code and the graph: "Show the culprit"
    puts it in the code pane's place, its evidence (the saved tensors) in view, until "Back to
    the code"."""
    page.set_viewport_size({"width": 560, "height": 700})
    page.goto(f"{service.url}/embed?example=inplace_version_error&height=600")
    page.wait_for_function(READY, timeout=90_000)
    err = page.evaluate("() => window.__gradtrace.trace.error")
    inspector = page.get_by_role("complementary", name="Inspector")
    expect(inspector).to_be_hidden()
    page.locator("details.gt-error").get_by_role("button", name="Show the culprit in the graph").click()
    culprit = page.evaluate("id => window.__gradtrace.trace.nodes.find(n => n.id === id).name", err["node"])
    expect(inspector).to_be_visible()
    expect(inspector.locator("h3")).to_have_text(culprit)
    expect(inspector.locator("table.saved")).to_be_in_viewport()
    box = inspector.bounding_box()
    assert box is not None and box["width"] >= 200 and box["x"] >= 0 and box["x"] + box["width"] <= 560
    # The culprit stays in view in the graph beside it.
    assert page.evaluate(
        "id => { const cy = window.__gradtrace.cy; const p = cy.getElementById(id).renderedPosition();"
        " return p.x >= 0 && p.y >= 0 && p.x <= cy.width() && p.y <= cy.height(); }",
        err["node"],
    )
    page.get_by_role("button", name="Back to the code").click()
    expect(inspector).to_be_hidden()
    expect(page.get_by_role("region", name="Code")).to_be_visible()


def test_a_widget_whose_service_failed_offers_a_retry(page: Page, service: Service) -> None:
    def unavailable(route: Route) -> None:
        route.fulfill(status=503, content_type="application/json", body='{"error": {"code": "unavailable", "message": "Restarting."}}')

    page.route("**/api/v1/examples/**", unavailable)
    page.goto(f"{service.url}/embed?example=chain_rule")
    page.wait_for_function("() => document.querySelector('.gt-embed')?.dataset.message === 'unreachable'", timeout=30_000)
    expect(page.get_by_role("status")).to_contain_text("Restarting.")
    page.unroute("**/api/v1/examples/**")
    page.get_by_role("button", name="Retry").click()
    page.wait_for_function(READY, timeout=90_000)
    assert root_data(page)["status"] == "ok"
    assert "message" not in root_data(page)


def test_an_editable_widget_numbers_its_lines(page: Page, service: Service) -> None:
    """Like the playground's editor: a number beside each line, following edits and scrolling."""
    page.goto(f"{service.url}/embed?editable=1&height=300#code={encode_code(TWICE)}")
    page.wait_for_function(READY, timeout=90_000)
    code = page.get_by_role("textbox", name="Code (editable)")
    gutter = page.locator(".gt-gutter")
    expect(gutter).to_be_visible()
    expect(gutter).to_have_attribute("aria-hidden", "true")  # numbers are not read out as code
    assert gutter.inner_text().split() == [str(n) for n in range(1, TWICE.count("\n") + 2)]
    code.fill("\n".join(f"x{n} = {n}" for n in range(1, 41)))
    assert gutter.inner_text().split() == [str(n) for n in range(1, 41)]
    # Each number sits beside its line, also once the code scrolled.
    code.evaluate("ta => { ta.scrollTop = ta.scrollHeight; ta.dispatchEvent(new Event('scroll')); }")
    assert page.evaluate(
        "() => { const ta = document.querySelector('.gt-textarea'); const g = document.querySelector('.gt-gutter');"
        " return ta.scrollTop > 0 && Math.abs(g.scrollTop - ta.scrollTop) < 1; }"
    )
    box, lines = gutter.bounding_box(), code.bounding_box()
    assert box is not None and lines is not None and box["x"] + box["width"] <= lines["x"] + 1 and box["width"] > 10
