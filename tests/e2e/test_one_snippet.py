"""The playground shows one snippet at a time: the code in the editor, the trace drawn, the share
panel and the inspector agree (share links, examples, refused runs, narrow screens, stepping)."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .helpers import click_node, open_app, run_code, run_example, runs, seek, state, wait_ready

pytestmark = pytest.mark.e2e

SHARED = "import torch\nx = torch.ones(2, requires_grad=True)\nraise ValueError('shared snippet fails here')\n"
DRAFT = "import torch\n# my own draft\n\n\n\nw = torch.zeros(3, requires_grad=True)\n(w * 2).sum().backward()\n"


def _app(page: Page, key: str) -> str | None:
    value: str | None = page.evaluate("k => document.getElementById('app').dataset[k] ?? null", key)
    return value


def _stored_code(page: Page) -> str | None:
    value: str | None = page.evaluate("() => localStorage.getItem('gradtrace.code')")
    return value


def _wait_trace(page: Page, trace_id: str) -> None:
    page.wait_for_function(
        "id => window.__gradtrace.traceId === id && document.getElementById('app').dataset.ready === 'true'",
        arg=trace_id,
        timeout=60_000,
    )


@pytest.mark.parametrize("link", ["/t/{id}", "/?trace={id}", "/t/{id}?step=2"])
def test_a_share_link_shows_the_shared_code_and_keeps_the_draft(page: Page, server: str, api: Any, link: str) -> None:
    shared = api.trace(SHARED)
    tid = shared["id"]
    err_line = shared["trace"]["error"]["line"]
    problems = open_app(page, server)
    page.evaluate("code => window.__gradtrace.setEditorText(code)", DRAFT)
    assert _stored_code(page) == DRAFT
    page.goto(server + link.format(id=tid))
    _wait_trace(page, tid)
    # The editor shows the code the trace was made from, and the status says which trace this is.
    assert page.evaluate("() => window.__gradtrace.editorText") == SHARED
    expect(page.locator("#status")).to_contain_text(tid[:8])
    # So the error's line mark is on the line that raised.
    expect(page.locator(".cm-error-line")).to_have_attribute("data-line", str(err_line))
    expect(page.locator(".cm-error-line")).to_contain_text("raise ValueError")
    if "step=" in link:
        assert state(page)["step"] == 2
    # The visitor's own code is kept (not overwritten by the shared one) and can be brought back.
    assert _stored_code(page) == DRAFT
    restore = page.get_by_role("button", name="Restore my code")
    expect(restore).to_be_visible()
    # Run traces the shared code: the same content address.
    before = runs(page)
    page.get_by_role("button", name="Run (Ctrl+Enter)").click()
    assert wait_ready(page, before)["traceId"] == tid
    restore.click()
    assert page.evaluate("() => window.__gradtrace.editorText") == DRAFT
    assert _stored_code(page) == DRAFT
    expect(restore).to_be_hidden()
    assert problems == []


def test_an_unknown_share_link_is_a_readable_page(page: Page, server: str) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    for bad in ("0" * 32, "not-an-id"):
        response = page.goto(f"{server}/t/{bad}")
        assert response is not None and response.status == 404
        assert response.headers["content-type"].startswith("text/html")
        page.wait_for_function("window.__gradtrace !== undefined")
        expect(page.locator("#app")).to_have_attribute("data-status", "not-found")
        expect(page.get_by_role("alert")).to_contain_text("No trace with this id")
        expect(page.get_by_role("alert")).to_contain_text(bad)
        # Nothing ran, and the page is the playground (not the API's JSON).
        assert runs(page) == 0
        expect(page.get_by_role("button", name="Run (Ctrl+Enter)")).to_be_visible()
    assert problems == []


def _share_fields(page: Page) -> dict[str, str]:
    fields: dict[str, str] = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#share-panel [data-share]')]"
        ".map(e => [e.dataset.share, e.value ?? e.getAttribute('href')]))"
    )
    return fields


def test_share_describes_the_code_in_the_editor(page: Page, server: str, api: Any) -> None:
    open_app(page, server)
    run_code(page, "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 2).sum().backward()\n")
    edited = "import torch\nx = torch.ones(3, requires_grad=True)\n(x * 5).sum().backward()\n"
    page.evaluate("code => window.__gradtrace.setEditorText(code)", edited)
    expected = api.trace(edited)["id"]
    page.get_by_role("button", name="Share").click()
    page.wait_for_function("id => document.getElementById('app').dataset.shared === id", arg=expected, timeout=60_000)
    fields = _share_fields(page)
    assert fields["link"].endswith(f"/t/{expected}")
    assert f"/embed?trace={expected}" in fields["iframe"]
    assert "x * 5" in fields["script"]
    # The graph next to the panel is that trace too.
    assert page.evaluate("() => window.__gradtrace.traceId") == expected
    expect(page.locator("#status")).to_contain_text("Shared")


def test_a_refused_run_keeps_nothing_mixed(page: Page, server: str) -> None:
    open_app(page, server)
    first = run_code(page, "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 2).sum().backward()\n")
    huge = "import torch\n" + "# padding\n" * 8000
    st = run_code(page, huge)
    assert st["status"] == "api-error"
    # The graph on screen is the previous code's, and the page says so.
    assert st["traceId"] == first["traceId"]
    assert _app(page, "stale") == "true"
    note = page.locator("#trace-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("previous")
    # Share traces the editor's code first: refused again, so no panel pairs the old trace with the new code.
    page.get_by_role("button", name="Share").click()
    expect(page.locator("#status")).to_contain_text("Share failed")
    expect(page.locator("#share-panel")).to_be_hidden()
    # Back to code that runs: the note goes.
    run_code(page, "import torch\nx = torch.ones(2, requires_grad=True)\n")
    assert _app(page, "stale") == "false"
    expect(note).to_be_hidden()


def test_exports_and_share_without_a_trace_say_why(page: Page, server: str) -> None:
    open_app(page, server)
    status = page.locator("#status")
    for label, what in [("Export JSON", "JSON"), ("Export HTML", "HTML"), ("Export DOT", "DOT")]:
        page.locator("details.export summary").click() if not page.locator("details.export").evaluate("d => d.open") else None
        page.get_by_role("button", name=label).click()
        expect(status).to_contain_text(f"{what} export needs a trace")
    # Share with no run yet traces the code; the export message does not linger.
    page.get_by_role("button", name="Share").click()
    page.wait_for_function("() => !!document.getElementById('app').dataset.shared", timeout=60_000)
    expect(status).to_contain_text("Shared")
    expect(status).not_to_contain_text("export needs")


_SLOW_EXAMPLES = """
const slow = new Set(%s);
const orig = window.fetch.bind(window);
window.__traceRequests = 0;
window.fetch = async (input, init) => {
  const url = String(input instanceof Request ? input.url : input);
  if (url.includes('/api/v1/traces')) window.__traceRequests += 1;
  const m = /\\/api\\/v1\\/examples\\/([^/?]+)/.exec(url);
  if (m && slow.has(m[1])) await new Promise((r) => setTimeout(r, 2500));
  return orig(input, init);
};
"""


def test_the_last_example_picked_wins(page: Page, server: str, api: Any) -> None:
    page.add_init_script(_SLOW_EXAMPLES % '["chain_rule"]')
    open_app(page, server)
    page.wait_for_function("() => Number(document.getElementById('app').dataset.examples || 0) > 0")
    menu = page.get_by_label("Examples")
    menu.select_option("chain_rule")  # slow to arrive
    run_example(page, "retain_grad")
    page.wait_for_timeout(3500)  # chain_rule's late answer has come and must change nothing
    assert page.evaluate("() => window.__gradtrace.editorText") == api.example("retain_grad")["source"]
    expect(menu).to_have_value("retain_grad")
    assert runs(page) == 1


def test_browsing_the_examples_with_arrow_keys_runs_one(page: Page, server: str, api: Any) -> None:
    page.add_init_script(_SLOW_EXAMPLES % "[]")
    open_app(page, server)
    page.wait_for_function("() => Number(document.getElementById('app').dataset.examples || 0) > 2")
    menu = page.get_by_label("Examples")
    menu.focus()
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    third = menu.evaluate("s => s.value")
    assert third == api.examples()[2]["name"]
    wait_ready(page, 0)
    page.wait_for_timeout(1500)
    assert runs(page) == 1
    assert page.evaluate("() => window.__traceRequests") == 1
    assert page.evaluate("() => window.__gradtrace.editorText") == api.example(third)["source"]


def test_share_and_taps_are_visible_on_a_phone(page: Page, server: str) -> None:
    page.set_viewport_size({"width": 375, "height": 700})
    open_app(page, server)
    run_example(page, "chain_rule")
    page.get_by_role("button", name="Share").click()
    page.wait_for_function("() => !!document.getElementById('app').dataset.shared", timeout=60_000)
    panel = page.locator("#share-panel")
    page.wait_for_function("() => document.activeElement === document.getElementById('share-panel')")
    page.wait_for_function(
        "() => { const r = document.getElementById('share-panel').getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }"
    )
    expect(panel.get_by_role("heading", name="Share")).to_be_in_viewport()
    # Back to the graph, tap a node: a control brings the inspector, far below, into view.
    page.evaluate("() => window.scrollTo(0, document.getElementById('graph').getBoundingClientRect().top + scrollY)")
    node = page.evaluate("() => window.__gradtrace.trace.nodes.find(n => n.kind === 'op').id")
    click_node(page, node)
    assert page.evaluate("() => window.__gradtrace.selected") == node
    show = page.get_by_role("button", name=re.compile("^Show the inspector"))
    expect(show).to_be_in_viewport()
    show.click()
    expect(page.locator("#inspector h3")).to_be_in_viewport()
    page.wait_for_function("() => document.activeElement === document.getElementById('inspector')")
    expect(show).to_be_hidden()


INPLACE = "import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 1\nw = y.exp()\ny.add_(100)\n"


def _traced_inplace(page: Page, server: str) -> tuple[dict[str, Any], dict[str, Any], int, int]:
    """Run INPLACE: y, its first grad_fn (MulBackward0), the step that made y and the index of
    the in-place write's event."""
    open_app(page, server)
    run_code(page, INPLACE)
    trace = page.evaluate("() => window.__gradtrace.trace")
    events = trace["events"]
    y = next(t for t in trace["tensors"] if t["names"] == ["y"])
    mul = next(n for n in trace["nodes"] if n["name"] == "MulBackward0")
    created = next(i for i, e in enumerate(events) if e["kind"] == "node" and e.get("tensor") == y["id"]) + 1
    inplace = next(i for i, e in enumerate(events) if e["kind"] == "inplace")
    return y, mul, created, inplace


def test_the_inspector_says_what_a_tensor_was_at_the_step(page: Page, server: str) -> None:
    y, mul, created, inplace = _traced_inplace(page, server)
    # Select y at the end, then go back to the step before add_: y's grad_fn there is the
    # MulBackward0 that made it, not the AddBackward0 made later.
    page.evaluate("id => window.__gradtrace.cy.getElementById(id).emit('tap')", "T:" + y["id"])
    seek(page, inplace - 1)
    inspector = page.locator("#inspector")
    expect(inspector.locator("h3")).to_have_text("y")
    expect(inspector.locator("[data-field='grad_fn']")).to_have_text(f"MulBackward0 ({mul['id']})")
    expect(inspector.locator("[data-field='grad_fn-end']")).to_contain_text("AddBackward0")
    # The value is the end's, said so, and the in-place change to come is named.
    expect(inspector.get_by_role("heading", name="value (at the end)")).to_be_visible()
    expect(inspector).to_contain_text("Changed in place later")
    # "Jump to its creation" goes to the step that made y.
    inspector.get_by_role("button", name=f"Jump to its creation (step {created})").click()
    assert state(page)["step"] == created


def test_a_tensor_changed_in_place_is_drawn_from_its_creation_with_its_version_at_each_step(page: Page, server: str) -> None:
    y, mul, made, inplace = _traced_inplace(page, server)
    write = inplace + 1
    events = page.evaluate("() => window.__gradtrace.trace.events")
    label = "id => window.__gradtrace.cy.getElementById(id).data('label')"
    shown = "id => !window.__gradtrace.cy.getElementById(id).hasClass('future')"
    # y is drawn from the step that made it (not from its final grad_fn, made by the write).
    seek(page, made)
    assert page.evaluate(shown, "T:" + y["id"])
    # Before the write MulBackward0's output is at version 0.
    seek(page, write - 1)
    assert "· v" not in page.evaluate(label, mul["id"])
    # At the end MulBackward0's output is at version 1; going back restores its label.
    seek(page, len(events))
    assert "· v1" in page.evaluate(label, mul["id"])
    seek(page, write - 1)
    assert "· v" not in page.evaluate(label, mul["id"])


def test_an_example_from_the_menu_keeps_the_draft(page: Page, server: str, api: Any) -> None:
    problems = open_app(page, server)
    page.wait_for_function("() => Number(document.getElementById('app').dataset.examples || 0) > 0")
    page.evaluate("code => window.__gradtrace.setEditorText(code)", DRAFT)
    run_example(page, "chain_rule")
    example = api.example("chain_rule")["source"]
    assert page.evaluate("() => window.__gradtrace.editorText") == example
    # The example is not saved over the draft, and the draft is offered back.
    assert _stored_code(page) == DRAFT
    expect(page.get_by_role("button", name="Restore my code")).to_be_visible()
    # A reload shows the draft again (nothing was lost).
    page.reload()
    page.wait_for_function("window.__gradtrace !== undefined")
    assert page.evaluate("() => window.__gradtrace.editorText") == DRAFT
    # Picking it again, then Restore, brings the draft into the editor.
    run_example(page, "chain_rule")
    page.get_by_role("button", name="Restore my code").click()
    assert page.evaluate("() => window.__gradtrace.editorText") == DRAFT
    assert _stored_code(page) == DRAFT
    assert problems == []


def test_a_second_example_after_editing_the_first_keeps_both_drafts(page: Page, server: str, api: Any) -> None:
    problems = open_app(page, server)
    page.wait_for_function("() => Number(document.getElementById('app').dataset.examples || 0) > 0")
    page.evaluate("code => window.__gradtrace.setEditorText(code)", DRAFT)
    run_example(page, "chain_rule")
    # The visitor edits the example (typing: an edit of their own), then picks another one.
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# my note")
    edited = api.example("chain_rule")["source"] + "\n# my note"
    page.wait_for_function("t => window.__gradtrace.editorText === t", arg=edited)
    run_example(page, "no_grad")
    assert page.evaluate("() => window.__gradtrace.editorText") == api.example("no_grad")["source"]
    # Restore brings back the edited example first, then offers the draft from before it.
    restore = page.get_by_role("button", name="Restore my code")
    restore.click()
    assert page.evaluate("() => window.__gradtrace.editorText") == edited
    restore.click()
    assert page.evaluate("() => window.__gradtrace.editorText") == DRAFT
    assert _stored_code(page) == DRAFT
    # ...and the edited example is still kept (restoring never drops the code it replaces).
    expect(restore).to_be_visible()
    assert problems == []


STALE = "import torch\nx=torch.ones(3,requires_grad=True)\ny=x*1\nz=y*y\ny.add_(100)\nw=(y*2).sum()\nw.backward()\n"


def test_the_inspector_calls_a_saved_tensor_stale_only_from_the_write(page: Page, server: str) -> None:
    open_app(page, server)
    run_code(page, STALE)
    trace = page.evaluate("() => window.__gradtrace.trace")
    z = next(t for t in trace["tensors"] if t["names"] == ["z"])
    mul = next(n for n in trace["nodes"] if n.get("output") == z["id"])
    assert mul["name"] == "MulBackward0" and mul["stale"]
    inplace = next(i for i, e in enumerate(trace["events"]) if e["kind"] == "inplace")
    page.evaluate("id => window.__gradtrace.cy.getElementById(id).emit('tap')", mul["id"])
    inspector = page.locator("#inspector")
    stale, at_end = inspector.locator("[data-field='stale']"), inspector.locator("[data-field='stale-end']")
    # Before y.add_ runs, z's saved y is intact; the end-of-run fact is labelled as such.
    seek(page, inplace)
    expect(inspector.locator("h3")).to_have_text("MulBackward0")
    expect(stale).to_have_text("no")
    expect(at_end).to_have_text("yes")
    seek(page, len(trace["events"]))
    expect(stale).to_have_text("yes")


def test_the_inspector_names_accumulate_grad_readably(page: Page, server: str) -> None:
    open_app(page, server)
    run_code(page, STALE)
    trace = page.evaluate("() => window.__gradtrace.trace")
    y = next(t for t in trace["tensors"] if t["names"] == ["y"])
    acc = next(n for n in trace["nodes"] if n["kind"] == "accumulate_grad")
    first_mul = next(n for n in trace["nodes"] if n["name"] == "MulBackward0" and n.get("output") == y["id"])
    inspector = page.locator("#inspector")
    tap = "id => window.__gradtrace.cy.getElementById(id).emit('tap')"
    page.evaluate(tap, acc["id"])
    expect(inspector.locator("h3")).to_have_text("AccumulateGrad")
    page.evaluate(tap, first_mul["id"])
    expect(inspector.locator("[data-field='next_functions']")).to_have_text("AccumulateGrad")
    # The trace keeps the exact C++ name.
    assert acc["name"] == "torch::autograd::AccumulateGrad"


def test_search_finds_the_node_named_first_and_its_count_goes_with_the_step(page: Page, server: str) -> None:
    open_app(page, server)
    run_code(page, STALE)
    box = page.get_by_role("searchbox", name="Search nodes")
    box.fill("Mul")
    box.press("Enter")
    selected = page.evaluate("() => window.__gradtrace.selected")
    node = page.evaluate("id => window.__gradtrace.trace.nodes.find(n => n.id === id)", selected)
    assert node["name"] == "MulBackward0"
    status = page.locator("#status")
    expect(status).to_contain_text("matches")
    # Another step: the count no longer describes what is shown, the run's summary is back.
    seek(page, 2)
    expect(status).not_to_contain_text("match")
    expect(status).to_contain_text("Traced")


def test_a_code_link_opened_in_the_same_tab_loads_and_keeps_the_draft(page: Page, server: str) -> None:
    problems = open_app(page, server)
    page.evaluate("code => window.__gradtrace.setEditorText(code)", DRAFT)
    linked = "import torch\nx = torch.ones(4, requires_grad=True)\n(x * 3).sum().backward()\n"
    # "u" + base64url(UTF-8): the plain format codec.ts reads.
    value = "u" + base64.urlsafe_b64encode(linked.encode()).decode().rstrip("=")
    prev = runs(page)
    page.evaluate("v => { location.hash = 'code=' + v; }", value)  # only the fragment changes: no reload
    wait_ready(page, prev)
    assert page.evaluate("() => window.__gradtrace.editorText") == linked
    assert page.evaluate("() => window.__gradtrace.trace.nodes.length") > 0
    assert _stored_code(page) == DRAFT
    page.get_by_role("button", name="Restore my code").click()
    assert page.evaluate("() => window.__gradtrace.editorText") == DRAFT
    assert problems == []


def test_a_step_in_the_hash_moves_the_timeline_in_the_same_page(page: Page, server: str) -> None:
    """`#step=N` (alone, or with `code=`) changed in an open playground moves the timeline there;
    the same code with another step is not traced again. A link opened with it starts there."""
    linked = "import torch\nx = torch.ones(4, requires_grad=True)\ny = x * 3\nz = y.exp()\nz.sum().backward()\n"
    value = "u" + base64.urlsafe_b64encode(linked.encode()).decode().rstrip("=")
    open_app(page, server, f"?autorun=0#code={value}&step=2")
    page.wait_for_function("() => document.getElementById('app').dataset.ready === 'true' && window.__gradtrace.player.step === 2")
    total = state(page)["total"]
    assert total > 4
    done = runs(page)
    page.evaluate("v => { location.hash = 'code=' + v + '&step=4'; }", value)
    page.wait_for_function("() => window.__gradtrace.player.step === 4")
    page.evaluate("() => { location.hash = 'step=1'; }")
    page.wait_for_function("() => window.__gradtrace.player.step === 1")
    assert runs(page) == done  # moved, not traced again
    # Another snippet's link with a step: traced, then shown at that step.
    other = "u" + base64.urlsafe_b64encode((linked + "print(x.grad)\n").encode()).decode().rstrip("=")
    page.evaluate("v => { location.hash = 'code=' + v + '&step=3'; }", other)
    wait_ready(page, done)
    page.wait_for_function("() => window.__gradtrace.player.step === 3")
    assert page.evaluate("() => window.__gradtrace.editorText").endswith("print(x.grad)\n")
