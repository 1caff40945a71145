"""The playground's interaction details: keyboard and focus, when a failure is explained, the
Share and Export panels, the legend."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, Route, expect

from .helpers import DEFAULT, open_app, run_code, run_example, runs, state, wait_ready

pytestmark = pytest.mark.e2e


def test_a_failure_is_explained_once_the_timeline_reaches_it(page: Page, server: str) -> None:
    open_app(page, server)
    run_example(page, "inplace_version_error")
    err = page.evaluate("() => window.__gradtrace.trace.error")
    app = page.locator("#app")
    panel = page.locator("#error-panel")
    # At the end (where a run opens) the explanation and the pinned culprit are shown.
    expect(panel.locator(".error-what")).to_be_visible()
    expect(app).to_have_attribute("data-culprit", err["node"])
    expect(app).to_have_attribute("data-explained", "true")
    page.get_by_role("button", name="Go to start").click()
    # Before the failure: nothing gives the answer away; that the run failed stays said.
    expect(panel.locator(".error-what")).to_have_count(0)
    expect(panel.get_by_role("button", name="Show the culprit in the graph")).to_have_count(0)
    expect(app).to_have_attribute("data-explained", "false")
    assert page.evaluate("() => window.__gradtrace.selected") is None
    assert page.evaluate("() => document.getElementById('app').dataset.culprit ?? null") is None
    expect(page.locator("#status")).to_contain_text(f"raised {err['type']}")
    expect(panel).to_contain_text("fails")
    # Stepping up to the failure explains it and pins the culprit again.
    err_step = page.evaluate("() => window.__gradtrace.trace.events.findIndex(e => e.kind === 'error') + 1")
    page.evaluate("n => window.__gradtrace.seek(n)", err_step - 1)
    expect(app).to_have_attribute("data-explained", "false")
    page.get_by_role("button", name="Step forward").click()
    expect(app).to_have_attribute("data-explained", "true")
    expect(panel.locator(".error-what")).to_be_visible()
    assert page.evaluate("() => window.__gradtrace.selected") == err["node"]
    # The note's button goes straight there.
    page.get_by_role("button", name="Go to start").click()
    page.get_by_role("button", name="Go to the error").click()
    assert state(page)["step"] == err_step
    expect(panel.locator(".error-what")).to_be_visible()


def test_space_and_arrows_on_focused_controls_do_what_the_control_does(page: Page, server: str) -> None:
    open_app(page, server)
    run_code(page, DEFAULT)
    page.get_by_role("button", name="Go to start").click()
    legend = page.locator("details.legend")
    legend.locator("summary").focus()
    page.keyboard.press("Space")
    expect(legend).to_have_attribute("open", "")
    assert state(page)["playing"] is False and state(page)["step"] == 0
    export = page.locator("details.export")
    export.locator("summary").focus()
    page.keyboard.press("Space")
    expect(export).to_have_attribute("open", "")
    assert state(page)["playing"] is False
    # Arrows in the scrollable Output region scroll it; they do not step the timeline.
    page.locator("#console").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert state(page)["step"] == 0
    # Elsewhere (nothing focused) the shortcuts still step and play.
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    assert state(page)["step"] == 1


def test_escape_closes_export_and_share_and_focus_returns_to_their_buttons(page: Page, server: str) -> None:
    open_app(page, server)
    run_code(page, DEFAULT)
    export = page.locator("details.export")
    export.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(export).to_have_attribute("open", "")
    page.get_by_role("button", name="Export PNG").focus()
    page.keyboard.press("Escape")
    expect(export).not_to_have_attribute("open", "")
    assert page.evaluate("() => document.activeElement.matches('details.export summary')")
    share = page.get_by_role("button", name="Share", exact=True)
    share.click()
    panel = page.locator("#share-panel")
    expect(panel).to_be_visible()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert page.evaluate("() => document.activeElement.id") == "share"
    share.click()
    expect(panel).to_be_visible()
    panel.get_by_role("button", name="Close").click()
    expect(panel).to_be_hidden()
    assert page.evaluate("() => document.activeElement.id") == "share"


def test_share_panel_fits_and_names_its_copy_buttons(page: Page, server: str) -> None:
    open_app(page, server)
    run_code(page, DEFAULT)
    page.get_by_role("button", name="Share", exact=True).click()
    panel = page.locator("#share-panel")
    expect(panel).to_be_visible()
    # The permanent link wraps inside the panel.
    over = page.evaluate(
        "() => { const p = document.getElementById('share-panel').getBoundingClientRect();"
        " const a = document.querySelector('[data-share=link]').getBoundingClientRect(); return a.right - p.right; }"
    )
    assert over <= 0, over
    for name in [
        "Copy the link",
        "Copy the iframe snippet",
        "Copy the script snippet",
        "Copy the link with the code",
    ]:
        expect(panel.get_by_role("button", name=name, exact=True)).to_have_count(1)
    # Copying that the browser refuses is not reported as done.
    page.evaluate("() => { navigator.clipboard.writeText = () => Promise.reject(new Error('denied')); }")
    panel.get_by_role("button", name="Copy the link", exact=True).click()
    button = panel.locator("[data-copy=link-text]")
    expect(button).to_have_attribute("data-copied", "false")
    expect(button).not_to_have_text("Copied")
    page.evaluate("() => { navigator.clipboard.writeText = () => Promise.resolve(); }")
    panel.get_by_role("button", name="Copy the iframe snippet").click()
    other = panel.locator("[data-copy=iframe]")
    expect(other).to_have_text("Copied")
    expect(other).to_have_attribute("data-copied", "true")


def test_export_menu_items_fit_on_one_line_and_dark_legend_matches_the_graph(page: Page, server: str) -> None:
    open_app(page, server)
    run_code(page, DEFAULT)
    page.locator("details.export summary").click()
    heights = page.evaluate(
        "() => [...document.querySelectorAll('details.export .menu button')].map(b => b.getBoundingClientRect().height)"
    )
    summary_h = page.evaluate(
        "() => document.querySelector('details.export summary').getBoundingClientRect().height"
    )
    assert all(hh <= summary_h + 2 for hh in heights), (heights, summary_h)
    page.get_by_role("button", name="Dark theme").click()
    # A leaf tensor that requires grad: the legend's swatch has the colour the graph draws it in.
    drawn = page.evaluate("() => window.__gradtrace.cy.nodes('.leaf-grad')[0].style('background-color')")
    swatch = page.evaluate("() => getComputedStyle(document.querySelector('.sw-leaf-grad')).backgroundColor")
    assert swatch.replace(" ", "") == drawn.replace(" ", "")


def test_tab_does_not_edit_the_code_and_the_editor_shows_focus(page: Page, server: str) -> None:
    open_app(page, server)
    page.evaluate("code => window.__gradtrace.setEditorText(code)", DEFAULT)
    page.get_by_role("button", name="Dark theme").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => !!document.activeElement.closest('.cm-editor')")
    ring = "() => { const s = getComputedStyle(document.querySelector('.cm-editor')); return s.outlineStyle + ' ' + s.outlineWidth; }"
    assert page.evaluate(ring) == "solid 2px"
    # The way out is said on screen, and tied to the editor for screen readers.
    hint = page.locator("#editor-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Tab")
    assert (
        page.evaluate("() => document.querySelector('.cm-content').getAttribute('aria-describedby')")
        == "editor-hint"
    )
    page.keyboard.press("Tab")
    assert page.evaluate("() => !document.activeElement.closest('.cm-editor')")
    assert page.evaluate("() => window.__gradtrace.editorText") == DEFAULT
    # Editing (a click into the code, then typing): Tab indents, as in any code editor; Escape
    # then Tab leaves.
    page.locator(".cm-line").nth(2).click()
    page.keyboard.press("Home")
    page.keyboard.press("Tab")
    line = page.evaluate("() => window.__gradtrace.editorText").split("\n")[2]
    assert line.startswith(" ") and line.lstrip().startswith("x = "), line
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("() => !document.activeElement.closest('.cm-editor')")


def test_a_long_status_keeps_the_toolbar_on_one_row(page: Page, server: str) -> None:
    page.set_viewport_size({"width": 1366, "height": 800})
    open_app(page, server)
    run_example(page, "inplace_version_error")
    page.get_by_role("button", name="Dark theme").click()
    height = "() => document.querySelector('.topbar').getBoundingClientRect().height"
    one_row = page.evaluate(height)
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Shared: trace")
    assert page.evaluate(height) == one_row
    # The whole text is still there: as the tooltip, and for screen readers.
    status = page.locator("#status")
    assert status.get_attribute("title") == status.text_content()


def test_the_caption_is_not_announced_step_by_step_while_playing(page: Page, server: str) -> None:
    open_app(page, server)
    run_code(page, DEFAULT)
    caption = page.locator("#caption")
    expect(caption).to_have_attribute("aria-live", "polite")
    page.get_by_role("combobox", name="Playback speed (steps per second)").select_option("1")
    page.get_by_role("button", name="Go to start").click()
    page.get_by_role("button", name="Play").click()
    expect(caption).to_have_attribute("aria-live", "off")
    page.get_by_role("button", name="Pause").click()
    expect(caption).to_have_attribute("aria-live", "polite")


def test_show_the_culprit_brings_its_evidence_into_view(page: Page, server: str) -> None:
    page.set_viewport_size({"width": 1366, "height": 800})
    open_app(page, server)
    run_example(page, "inplace_version_error")
    seen = """() => { const side = document.querySelector('.side').getBoundingClientRect();
        const r = document.querySelector('#inspector table.saved').getBoundingClientRect();
        return r.top >= side.top && r.top < side.bottom - 20 && r.top < innerHeight - 20; }"""
    page.get_by_role("button", name="Show the culprit in the graph").click()
    page.wait_for_function(seen, timeout=3000)
    expect(page.locator("#inspector table.saved")).to_contain_text("STALE")
    # The page itself did not scroll (only the side column).
    assert page.evaluate("() => window.scrollY") == 0


def test_the_graph_is_operable_from_the_keyboard(page: Page, server: str) -> None:
    """Tab to the graph: arrows move the selection (along edges, or in creation order), Enter
    opens it in the inspector, Escape clears it; the timeline does not move meanwhile, and only
    selection changes are announced."""
    open_app(page, server)
    total = run_code(page, DEFAULT)["total"]
    graph = page.get_by_role("application", name="Autograd graph")
    live = page.locator("#graph-live")
    expect(graph).to_have_attribute("aria-describedby", "graph-hint")
    expect(page.locator("#graph-hint")).to_contain_text("←/→ step the timeline")
    graph.focus()
    selected = "() => window.__gradtrace.selected"
    label = "id => window.__gradtrace.cy.getElementById(id).data('label').replace(/\\s*\\n\\s*/g, ' ')"
    page.keyboard.press("Home")
    first = page.evaluate(selected)
    assert first is not None
    expect(live).to_contain_text(page.evaluate(label, first))
    # Down follows an edge out of the selected node; Up comes back along it.
    page.keyboard.press("ArrowDown")
    second = page.evaluate(selected)
    assert second != first
    assert page.evaluate(
        "([a, b]) => window.__gradtrace.cy.edges().some(e => e.source().id() === a && e.target().id() === b)", [first, second]
    )
    expect(live).to_contain_text(page.evaluate(label, second))
    page.keyboard.press("ArrowUp")
    assert page.evaluate(selected) == first
    # Right: the next node in creation order.
    page.keyboard.press("ArrowRight")
    third = page.evaluate(selected)
    assert third not in (None, first)
    assert page.evaluate("id => window.__gradtrace.cy.getElementById(id).selected()", third)
    assert state(page)["step"] == total  # the timeline stayed put
    # Enter opens it in the inspector (focus moves there); Escape there comes back.
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "inspector"
    heading = page.locator("#inspector h3").inner_text().strip()
    assert heading and page.evaluate(label, third).startswith(heading)
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement.id") == "graph"
    page.keyboard.press("Escape")
    assert page.evaluate(selected) is None
    expect(live).to_have_text("Selection cleared.")
    # A timeline step is not announced by the graph's live region.
    page.get_by_role("button", name="Step back").click()
    assert state(page)["step"] == total - 1
    expect(live).to_have_text("Selection cleared.")


@pytest.mark.parametrize("outage", ["refused", "503"])
def test_a_run_the_service_could_not_answer_offers_a_retry_of_the_same_code(page: Page, server: str, outage: str) -> None:
    """The service down (connection refused) or failing (503): a clear message and a Retry
    button that sends the same code again, even if the editor's code changed since."""

    def down(route: Route) -> None:
        if outage == "refused":
            route.abort("connectionrefused")
        else:
            body = {"error": {"code": "unavailable", "message": "The sandbox is restarting."}}
            route.fulfill(status=503, content_type="application/json", body=json.dumps(body))

    open_app(page, server)
    page.route("**/api/v1/traces**", down)
    prev = runs(page)
    page.evaluate("code => window.__gradtrace.setEditorText(code)", DEFAULT)
    page.get_by_role("button", name="Run (Ctrl+Enter)").click()
    assert wait_ready(page, prev)["status"] == "api-error"
    alert = page.locator("#error-panel").get_by_role("alert")
    expect(alert).to_contain_text("The gradtrace service is unavailable")
    expect(alert).to_contain_text("could not be reached" if outage == "refused" else "The sandbox is restarting.")
    page.evaluate("code => window.__gradtrace.setEditorText(code)", DEFAULT + "# edited since\n")
    page.unroute("**/api/v1/traces**")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data or "") if "/api/v1/traces" in r.url else None)
    prev = runs(page)
    alert.get_by_role("button", name="Retry").click()
    assert wait_ready(page, prev)["status"] == "ok"
    assert [json.loads(body)["source"] for body in sent] == [DEFAULT]
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    expect(page.locator("#app")).to_have_attribute("data-stale", "true")  # the editor's code is newer


def test_a_refused_run_offers_no_retry(page: Page, server: str) -> None:
    open_app(page, server)
    run_code(page, "import torch\n" + "# padding\n" * 8000)  # over the size limit: refused (4xx)
    expect(page.locator("#error-panel").get_by_role("alert")).to_contain_text("The service could not trace this")
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
