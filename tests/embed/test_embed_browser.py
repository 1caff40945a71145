"""Browser tests: script and iframe embeds on a course page from another origin, export, share, predict, diff, outage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Frame, Page, expect

from tests.browser_support import get_json
from tests.embed.conftest import ROOT, CoursePages, Service
from tests.embed.helpers import (
    READY,
    decode_code,
    encode_code,
    node_names,
    player,
    root_data,
    visible_nodes,
    widget,
)

W1 = """import torch  # gradtrace: hide
x = torch.tensor([1.0, 2.0], requires_grad=True)
w = torch.tensor([3.0, 4.0], requires_grad=True)
loss = (x * w).sum()
loss.backward()
"""
W2 = """import torch
a = torch.ones(3, requires_grad=True)
b = (a * 2).exp().mean()
b.backward()
"""


def test_course_page_three_widgets(page: Page, service: Service, course: CoursePages) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(course.url("index.html", service.url))
    w1 = widget(page, lambda u: "wid=gt0" in u)
    w2 = widget(page, lambda u: "wid=gt1" in u)
    w3 = widget(page, lambda u: "example=chain_rule" in u)

    # All three draw the graph the API traces for the same code, every node visible at the end.
    chain = service.example("chain_rule")["source"]
    for frame, source in ((w1, W1), (w2, W2), (w3, chain)):
        expected = [n["name"] for n in service.trace(source)["trace"]["nodes"]]
        assert node_names(frame) == expected
        assert sorted(visible_nodes(frame)) == sorted(
            frame.evaluate("() => window.__gradtrace.trace.nodes.map(n => n.id)")
        )
        assert player(frame)["step"] == player(frame)["total"] > 0

    # Widgets are cross-origin iframes: the course page is on another origin than the service.
    assert all(f.url.startswith(service.url + "/embed") for f in (w1, w2, w3))
    assert not page.url.startswith(service.url)

    # Auto-sized by postMessage; the original blocks are hidden behind their widgets.
    page.wait_for_function("() => document.querySelector('iframe[data-wid=gt0]')?.dataset.ready === 'true'")
    assert page.evaluate("() => document.getElementById('w1').hidden && document.getElementById('w2').hidden")

    # `# gradtrace: hide` hides the setup line.
    assert root_data(w1)["hiddenLines"] == "1"
    expect(w1.locator(".gt-line[data-line='1']")).to_be_hidden()
    expect(w1.locator(".gt-line[data-line='2']")).to_be_visible()

    # Lazy: the widget far below is not mounted until it is scrolled into view.
    assert page.evaluate("() => document.querySelector('iframe[data-wid=gt2]') === null")
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    w4 = widget(page, lambda u: "wid=gt2" in u)
    assert node_names(w4) == [
        n["name"]
        for n in service.trace(
            "import torch\nz = torch.ones(2, requires_grad=True)\n(z * z).sum().backward()\n"
        )["trace"]["nodes"]
    ]
    assert errors == []


# What Safari before 16.4 and Firefox before 113 lack: the widget must still work there.
NO_COMPRESSION_STREAMS = "delete window.CompressionStream; delete window.DecompressionStream;"


def test_embed_script_works_without_compression_streams(page: Page, service: Service, course: CoursePages) -> None:
    page.context.add_init_script(NO_COMPRESSION_STREAMS)  # every frame: the course page and the widgets
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(course.url("index.html", service.url))
    w1 = widget(page, lambda u: "wid=gt0" in u)
    assert w1.evaluate("() => typeof CompressionStream") == "undefined"
    # The loader fell back to plain UTF-8 in the fragment; the widget read it back.
    fragment = w1.url.split("#code=", 1)[1]
    assert fragment.startswith("u") and decode_code(fragment) == W1
    assert node_names(w1) == [n["name"] for n in service.trace(W1)["trace"]["nodes"]]
    # A compressed link made elsewhere opens there too (inflated in JS).
    page.goto(f"{service.url}/embed#code={encode_code(W2)}")
    page.wait_for_function(READY, timeout=90_000)
    assert page.evaluate("() => window.__gradtrace.viewer.code.text") == W2
    assert node_names(page) == [n["name"] for n in service.trace(W2)["trace"]["nodes"]]
    assert errors == []


def test_readonly_panes_and_independent_stepping(page: Page, service: Service, course: CoursePages) -> None:
    page.goto(course.url("index.html", service.url))
    w1 = widget(page, lambda u: "wid=gt0" in u)
    w2 = widget(page, lambda u: "wid=gt1" in u)
    w3 = widget(page, lambda u: "example=chain_rule" in u)

    # Read-only: no editable element, typing changes nothing, no Run button.
    assert w1.locator("textarea, [contenteditable=true]").count() == 0
    assert w1.locator(".gt-run").count() == 0
    before = w1.evaluate("() => window.__gradtrace.viewer.code.text")
    w1.locator(".gt-lines").click()
    page.keyboard.type("oops = 1\n")
    assert w1.evaluate("() => window.__gradtrace.viewer.code.text") == before
    # Editable: a textarea and a Run button.
    expect(w2.locator("textarea.gt-textarea")).to_have_value(W2)
    expect(w2.locator(".gt-run")).to_be_visible()

    # panes: w2 shows code, graph, timeline but no inspector; w3 shows no code.
    assert w2.locator(".gt-inspector").count() == 0
    assert w2.locator(".gt-code-pane").count() == 1
    assert w3.locator(".gt-code-pane").count() == 0
    assert w3.locator(".gt-inspector").count() == 0
    assert w1.locator(".gt-inspector").count() == 1

    # Stepping inside one widget does not move another.
    t1, t2 = player(w1)["total"], player(w2)["total"]
    w1.get_by_role("button", name="Go to start").click()
    w1.get_by_role("button", name="Step forward").click()
    w1.get_by_role("button", name="Step forward").click()
    w1.get_by_role("button", name="Step back").click()
    assert player(w1)["step"] == 1
    assert player(w2)["step"] == t2
    assert player(w3)["step"] == player(w3)["total"]
    w2.get_by_role("button", name="Step back").click()
    assert player(w2)["step"] == t2 - 1
    assert player(w1)["step"] == 1 and player(w1)["total"] == t1


def test_exported_html_offline(page: Page, service: Service, tmp_path: Path) -> None:
    src = tmp_path / "lesson.py"
    src.write_text(W2)
    out = tmp_path / "lesson.html"
    exe = Path(sys.executable).with_name("gradtrace")
    subprocess.run(
        [str(exe), "trace", str(src), "--format", "html", "-o", str(out)], cwd=ROOT, check=True, timeout=180
    )
    html = out.read_text()
    assert "http://" not in html.split("<script>")[0]  # no external resource in the document head

    requests: list[str] = []
    page.context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith("file:")
            else (requests.append(route.request.url), route.abort())[1]
        ),
    )
    page.on(
        "request", lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else requests.append(r.url)
    )
    page.goto(out.as_uri())
    page.wait_for_function(
        "() => document.querySelector('.gt-embed')?.dataset.ready === 'true'", timeout=60_000
    )
    total = player(page)["total"]
    assert total > 3 and player(page)["step"] == total
    page.get_by_role("button", name="Go to start").click()
    assert player(page)["step"] == 0
    page.get_by_role("button", name="Step forward").click()
    page.get_by_role("button", name="Step forward").click()
    assert player(page)["step"] == 2
    page.get_by_role("button", name="Step back").click()
    assert player(page)["step"] == 1
    page.get_by_role("button", name="Go to end").click()
    assert player(page)["step"] == total
    # Inspector: click a node on the canvas.
    node = page.evaluate("() => window.__gradtrace.trace.nodes.find(n => n.name.startsWith('Exp')).id")
    pos = page.evaluate(
        "id => { const cy = window.__gradtrace.viewer.canvas.cy; const p = cy.getElementById(id).renderedPosition();"
        " const r = cy.container().getBoundingClientRect(); return { x: r.left + p.x, y: r.top + p.y }; }",
        node,
    )
    page.mouse.click(pos["x"], pos["y"])
    expect(page.locator(".gt-inspector")).to_contain_text("ExpBackward0")
    assert requests == []


@pytest.mark.parametrize("streams", ["native", "missing"])
def test_exported_html_compressed_trace_offline(page: Page, service: Service, tmp_path: Path, streams: str) -> None:
    from gradtrace.core.export_html import render_html

    if streams == "missing":  # an older browser: the viewer inflates the payload in JS
        page.context.add_init_script(NO_COMPRESSION_STREAMS)
    result = service.trace(W2)
    out = tmp_path / "big.html"
    out.write_text(render_html(result["trace"], W2, compress_over=0))  # force the deflated payload
    assert 'data-encoding="deflate-raw+base64"' in out.read_text()
    page.context.route(
        "**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort()
    )
    page.goto(out.as_uri())
    page.wait_for_function(
        "() => document.querySelector('.gt-embed')?.dataset.ready === 'true'", timeout=60_000
    )
    assert node_names(page) == [n["name"] for n in result["trace"]["nodes"]]
    page.get_by_role("button", name="Go to start").click()
    assert player(page)["step"] == 0


def test_share_link_round_trip(page: Page, service: Service) -> None:
    page.goto(service.url + "/?autorun=0")
    page.wait_for_function("window.__gradtrace !== undefined")
    page.evaluate("code => window.__gradtrace.setEditorText(code)", W2)
    page.get_by_role("button", name="Run (Ctrl+Enter)").click()
    page.wait_for_function("() => document.getElementById('app').dataset.runs === '1'", timeout=90_000)
    trace_id = page.evaluate("() => window.__gradtrace.traceId")
    names = page.evaluate("() => window.__gradtrace.trace.nodes.map(n => n.name)")
    # Export HTML from the playground: one self-contained file for this trace.
    page.locator("details.export summary").click()
    with page.expect_download() as download:
        page.locator("#export-html").click()
    html = Path(download.value.path()).read_text()
    assert 'id="gradtrace-data"' in html and trace_id[:12] in download.value.suggested_filename

    page.get_by_role("button", name="Share").click()
    link = page.locator("[data-share=link]").get_attribute("href")
    assert link == f"{service.url}/t/{trace_id}"
    iframe_snippet = page.locator("[data-share=iframe]").input_value()
    assert f'src="{service.url}/embed?trace={trace_id}"' in iframe_snippet
    assert "data-gradtrace" in page.locator("[data-share=script]").input_value()

    page.goto(link)
    page.wait_for_function("() => document.getElementById('app').dataset.ready === 'true'", timeout=60_000)
    assert page.evaluate("() => window.__gradtrace.traceId") == trace_id
    assert page.evaluate("() => window.__gradtrace.trace.nodes.map(n => n.name)") == names

    # The iframe snippet's URL shows the same trace with its source.
    page.goto(f"{service.url}/embed?trace={trace_id}")
    page.wait_for_function(
        "() => document.querySelector('.gt-embed')?.dataset.ready === 'true'", timeout=60_000
    )
    assert node_names(page) == names
    assert page.evaluate("() => window.__gradtrace.viewer.code.text") == W2


def test_open_in_playground_carries_code_and_step(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/embed#code={encode_code(W2)}")
    page.wait_for_function(
        "() => document.querySelector('.gt-embed')?.dataset.ready === 'true'", timeout=90_000
    )
    page.get_by_role("button", name="Go to start").click()
    for _ in range(3):
        page.get_by_role("button", name="Step forward").click()
    with page.context.expect_page() as popup:
        page.get_by_role("link", name="Open in playground ↗").click()
    pg = popup.value
    pg.wait_for_function("() => document.getElementById('app').dataset.runs === '1'", timeout=90_000)
    pg.wait_for_function("() => window.__gradtrace.player.step === 3")
    assert pg.evaluate("() => window.__gradtrace.editorText") == W2


def test_predict_mode_asks_and_grades(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/embed?predict=1#code={encode_code(W2)}")
    page.wait_for_function(
        "() => document.querySelector('.gt-embed')?.dataset.ready === 'true'", timeout=90_000
    )
    assert player(page)["step"] == 0
    assert int(root_data(page)["questions"]) > 0
    page.get_by_role("button", name="Go to end").click()  # stops at the first question
    expect(page.locator(".gt-predict")).to_be_visible()
    kind = root_data(page)["question"]
    assert kind in {"grad_none", "next_backward", "will_raise"}
    asked_at = player(page)["step"]
    assert asked_at < player(page)["total"]
    expect(page.locator(".gt-prompt")).to_contain_text("Predict:")
    page.locator(".gt-choice").first.click()
    assert root_data(page)["graded"] in {"right", "wrong"}
    expect(page.locator(".gt-result")).to_contain_text("." if True else "")
    assert player(page)["step"] == asked_at + 1  # the step plays after the answer
    # The right answer is marked whatever was clicked.
    assert page.locator(".gt-choice.answer").count() == 1


def test_a_failing_snippet_is_explained_once_the_timeline_reaches_the_failure(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/embed?example=inplace_version_error")
    page.wait_for_function(
        "() => document.querySelector('.gt-embed')?.dataset.ready === 'true'", timeout=90_000
    )
    err = page.evaluate("() => window.__gradtrace.trace.error")
    strip = page.locator("details.gt-error")
    expect(strip).to_be_visible()  # the widget opens at the end, after the failure
    summary = strip.locator("summary")
    title = summary.inner_text()
    assert title == err["explanation"]["title"] and strip.get_attribute("open") is None  # one line: the graph keeps its room
    assert strip.get_attribute("data-tone") == "error"
    page.get_by_role("button", name="Go to start").click()
    expect(strip).to_be_hidden()  # before the failure, nothing spoils it
    page.get_by_role("button", name="Go to end").click()
    summary.click()
    expect(strip.locator(".error-fix")).to_be_visible()
    expect(strip.locator(".error-what")).not_to_be_empty()
    strip.get_by_role("button", name="Show the culprit in the graph").click()
    assert page.evaluate("() => window.__gradtrace.cy.$(':selected').map(e => e.id())") == [err["node"]]
    culprit = page.evaluate("id => window.__gradtrace.trace.nodes.find(n => n.id === id).name", err["node"])
    expect(page.locator(".gt-inspector h3")).to_have_text(culprit)


def test_the_widget_underlines_lines_that_warned(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/embed?example=running_total_keeps_graphs")
    page.wait_for_function(
        "() => document.querySelector('.gt-embed')?.dataset.ready === 'true'", timeout=90_000
    )
    notes = page.evaluate("() => window.__gradtrace.trace.events.filter(e => e.kind === 'warning').map(e => [e.line, e.hint.title])")
    assert notes == [[20, "total_loss holds graphs that backward() already used"]]
    warned = page.locator(".gt-line.gt-warned")
    expect(warned).to_have_count(1)
    expect(warned).to_have_attribute("data-line", "20")
    expect(warned).to_have_attribute("title", notes[0][1])


DETACHED = (
    "import torch\nx = torch.ones(2, requires_grad=True)\ny = (x.detach() * 2 + x).sum()\ny.backward()\n"
)
ATTACHED = "import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * 2 + x).sum()\ny.backward()\n"


def test_diff_marks_detach(page: Page, service: Service) -> None:
    with_detach, without = DETACHED, ATTACHED
    page.goto(f"{service.url}/diff?a={encode_code(with_detach)}&b={encode_code(without)}")
    page.wait_for_function("() => document.getElementById('diff').dataset.ready === 'true'", timeout=120_000)
    diff = page.evaluate("() => window.__gradtrace.diff")
    b_names = page.evaluate(
        "() => Object.fromEntries(window.__gradtrace.b.trace.nodes.map(n => [n.id, n.name]))"
    )
    assert "MulBackward0" in [b_names[i] for i in diff["added"]]
    expect(page.locator("li[data-diff=added]").first).to_contain_text("MulBackward0")
    marked = page.evaluate("() => window.__gradtrace.b.canvas.cy.nodes('[diff = \"added\"]').length")
    assert marked == len(diff["added"]) > 0


def test_playground_diff_vs_previous_run(page: Page, service: Service) -> None:
    page.goto(service.url + "/?autorun=0")
    page.wait_for_function("window.__gradtrace !== undefined")
    for i, code in enumerate((DETACHED, ATTACHED), start=1):
        page.evaluate("code => window.__gradtrace.setEditorText(code)", code)
        page.get_by_role("button", name="Run (Ctrl+Enter)").click()
        page.wait_for_function(
            "n => document.getElementById('app').dataset.runs === String(n)", arg=i, timeout=90_000
        )
    with page.context.expect_page() as popup:
        page.get_by_role("button", name="Diff vs previous").click()
    diff_page = popup.value
    diff_page.wait_for_function(
        "() => document.getElementById('diff').dataset.ready === 'true'", timeout=90_000
    )
    assert diff_page.evaluate("() => window.__gradtrace.a.code.text") == DETACHED
    assert len(diff_page.evaluate("() => window.__gradtrace.diff.added")) > 0


def test_embed_survives_service_stopped(
    page: Page, built_frontend: Path, course: CoursePages, tmp_path: Path
) -> None:
    svc = Service(tmp_path, base_uid=65232)
    try:
        page.goto(course.url("outage.html", svc.url))
        o1 = widget(page, lambda u: "wid=gt0" in u)
        assert player(o1)["total"] > 0
    finally:
        svc.stop()
    # Running again with the service gone: the code stays, a clear message (and the cached trace).
    o1.locator(".gt-run").click()
    o1.wait_for_function(
        "() => ['cached', 'unreachable'].includes(document.querySelector('.gt-embed').dataset.message)"
    )
    expect(o1.locator(".gt-message")).to_contain_text("unreachable")
    expect(o1.locator("textarea.gt-textarea")).to_have_value(
        "import torch\nq = torch.ones(2, requires_grad=True)\n(q * 5).sum().backward()\n"
    )
    assert root_data(o1)["message"] == "cached" and player(o1)["total"] > 0
    # A widget scrolled into view now: its code is shown with a message, never a blank box.
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    note = page.locator(".gradtrace-fallback")
    expect(note).to_be_visible(timeout=30_000)
    expect(note).to_contain_text("could not load")
    expect(page.locator("#o2")).to_be_visible()
    expect(page.locator("#o2")).to_contain_text("(r + 1).sum().backward()")


def test_autoplay_pauses_and_text_stays_text(page: Page, service: Service) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    code = (
        "import torch  # gradtrace: hide\n"
        "x = torch.ones(2, requires_grad=True)\n"
        "# gradtrace: pause\n"
        "y = (x * 2).sum()  # <img src=x onerror=alert(1)>\n"
        "print('<script>alert(2)</script>')\n"
        "y.backward()\n"
    )
    page.goto(f"{service.url}/embed?autoplay=1&speed=30#code={encode_code(code)}")
    page.wait_for_function(
        "() => document.querySelector('.gt-embed')?.dataset.paused !== undefined", timeout=90_000
    )
    page.wait_for_function("() => !window.__gradtrace.player.playing")
    step = player(page)["step"]
    assert int(root_data(page)["paused"]) == step
    events = page.evaluate("() => window.__gradtrace.trace.events.map(e => e.line)")
    assert events[step] == 4 and 4 not in events[:step]  # stopped just before line 4 runs
    assert root_data(page)["hiddenLines"] == "1,3"
    expect(page.locator(".gt-line[data-line='4'] .gt-src")).to_have_text(
        "y = (x * 2).sum()  # <img src=x onerror=alert(1)>"
    )
    assert page.locator(".gt-code img, .gt-code script").count() == 0
    assert dialogs == []


@pytest.mark.parametrize("width", [375, 1400, 2560])
def test_diff_page_fits_the_viewport(page: Page, service: Service, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{service.url}/diff?a=example:chain_rule&b=example:first_gradient")
    page.wait_for_function("() => document.getElementById('diff').dataset.ready === 'true'", timeout=120_000)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    a = page.get_by_role("region", name="Snippet A").bounding_box()
    b = page.get_by_role("region", name="Snippet B").bounding_box()
    assert a and b
    for box in (a, b):
        assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["width"] > 200
    if width >= 1000:  # side by side
        assert a["y"] == b["y"] and a["x"] + a["width"] <= b["x"]
    else:  # stacked
        assert b["y"] >= a["y"] + a["height"]
    # The long code lines scroll inside their pane instead.
    code = page.locator(".gt-code").first
    assert code.evaluate("el => el.scrollWidth > el.clientWidth")


def test_diff_page_says_which_snippet_failed_and_why(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/diff?a=example:chain_rule&b=example:no_such_example")
    page.wait_for_function("() => document.getElementById('diff').dataset.ready === 'error'", timeout=120_000)
    status = page.get_by_role("status").filter(has_text="B")
    expect(status.first).to_contain_text("Could not trace B")
    expect(status.first).to_contain_text('there is no built-in example called "no_such_example".')
    expect(status.first).not_to_contain_text("/api/v1")  # no API jargon for the learner
    assert "Both snippets are needed" not in page.locator(".gt-diff-summary").inner_text()
    page.goto(f"{service.url}/diff?a=example:chain_rule")
    page.wait_for_function("() => document.getElementById('diff').dataset.ready === 'error'", timeout=120_000)
    expect(page.locator(".gt-diff-summary")).to_contain_text("?b=")


def test_diff_names_nodes_as_the_graph_does(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/diff?a={encode_code(DETACHED)}&b={encode_code(W2)}")
    page.wait_for_function("() => document.getElementById('diff').dataset.ready === 'true'", timeout=120_000)
    items = page.locator(".gt-diff-list li").all_inner_texts()
    assert any("AccumulateGrad" in t for t in items)
    assert not any("::" in t for t in items)


def test_open_in_playground_after_run_carries_the_code_that_ran(
    page: Page, service: Service, course: CoursePages
) -> None:
    page.goto(course.url("index.html", service.url))
    w2 = widget(page, lambda u: "wid=gt1" in u)
    edited = W2.replace("(a * 2).exp().mean()", "(a * 3).sum()")
    w2.get_by_role("textbox", name="Code (editable)").fill(edited)
    w2.get_by_role("button", name="Run ▸").click()
    w2.wait_for_function(
        "names => JSON.stringify(window.__gradtrace.trace.nodes.map(n => n.name)) === JSON.stringify(names)",
        arg=[n["name"] for n in service.trace(edited)["trace"]["nodes"]],
        timeout=90_000,
    )
    w2.get_by_role("button", name="Go to start").click()
    w2.get_by_role("button", name="Step forward").click()
    with page.context.expect_page() as popup:
        w2.get_by_role("link", name="Open in playground ↗").click()
    pg = popup.value
    pg.wait_for_function("() => document.getElementById('app').dataset.runs === '1'", timeout=90_000)
    assert pg.evaluate("() => window.__gradtrace.editorText") == edited
    pg.wait_for_function("() => window.__gradtrace.player.step === 1")


def test_predict_mode_asks_each_fact_once(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/embed?example=backward_twice&predict=1")
    page.wait_for_function(READY, timeout=90_000)
    asked: list[tuple[int, str]] = []
    total = player(page)["total"]
    while player(page)["step"] < total:
        page.get_by_role("button", name="Step forward").click()
        if page.locator(".gt-predict").is_visible() and "graded" not in root_data(page):
            asked.append((player(page)["step"], page.locator(".gt-prompt").inner_text()))
            page.locator(".gt-choice").first.click()
    prompts = [p for _, p in asked]
    assert prompts.count("Predict: Will line 12 raise an error?") == 1, asked
    assert len(asked) == len({step for step, _ in asked}) == int(root_data(page)["questions"]), asked
    score = page.evaluate("() => window.__gradtrace.viewer.score")
    assert score["right"] + score["wrong"] == len(asked)
    # Choices name nodes as the graph does.
    assert not page.locator(".gt-choice").filter(has_text="::").count()


@pytest.mark.parametrize(("speed", "shown"), [(None, 3), ("40", 40), ("7", 7), ("500", 3)])
def test_embed_plays_at_the_requested_speed(page: Page, service: Service, speed: str | None, shown: int) -> None:
    query = f"&speed={speed}" if speed else ""
    page.goto(f"{service.url}/embed?example=chain_rule{query}")
    page.wait_for_function(READY, timeout=90_000)
    menu = page.get_by_role("combobox", name="Playback speed (steps per second)")
    expect(menu).to_have_value(str(shown))
    assert menu.locator("option:checked").inner_text() == f"{shown}/s"
    assert page.evaluate("() => window.__gradtrace.player.speed") == shown
    # A speed of the author's own joins the standard choices in order; none of them is dropped.
    offered = [float(v) for v in menu.locator("option").evaluate_all("os => os.map(o => o.value)")]
    assert offered == sorted({1, 2, 3, 5, 10, 30, 60, 120, shown}), offered


UNKNOWN = 'nope<b id="x">'


@pytest.mark.parametrize("how", ["query", "data-example"])
def test_unknown_example_is_said_plainly(page: Page, service: Service, course: CoursePages, how: str) -> None:
    """A mistyped example name: a sentence a student understands, the valid names for the author."""
    frame: Page | Frame = page
    if how == "query":
        page.goto(f"{service.url}/embed?example={quote(UNKNOWN)}")
    else:
        page.goto(course.url("mistyped.html", service.url))
        page.wait_for_function("() => document.querySelector('iframe.gradtrace-frame')?.dataset.ready === 'true'")
        frame = next(f for f in page.frames if f.url.startswith(service.url + "/embed"))
        assert not page.locator(".gradtrace-fallback").count()
    frame.wait_for_function("() => document.querySelector('.gt-embed')?.dataset.message === 'no-example'")
    msg = frame.locator(".gt-message")
    expect(msg).to_contain_text(f'There is no built-in example called "{UNKNOWN}".')
    expect(msg).not_to_contain_text("/api/")
    assert not frame.locator(".gt-message #x").count()  # the name is text, never markup
    note = frame.get_by_text("For the page's author")
    note.click()
    names = [e["name"] for e in get_json(service.url + "/api/v1/examples")["examples"]]
    expect(msg).to_contain_text(", ".join(names[:3]))


def test_captions_name_nodes_as_the_graph_does(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/embed?example=chain_rule")
    page.wait_for_function(READY, timeout=90_000)
    step = page.evaluate(
        "() => window.__gradtrace.trace.events.findIndex(e => e.kind === 'execute'"
        " && window.__gradtrace.trace.nodes.find(n => n.id === e.node).kind === 'accumulate_grad') + 1"
    )
    assert step > 0
    page.evaluate("n => window.__gradtrace.seek(n)", step)
    caption = page.locator(".gt-caption")
    expect(caption).to_contain_text("executes AccumulateGrad")
    expect(caption).not_to_contain_text("::")
    # The trace keeps grad_fn.name() as it is.
    assert "torch::autograd::AccumulateGrad" in node_names(page)


def test_embed_inspector_jumps_to_where_a_tensor_was_made(page: Page, service: Service) -> None:
    # y is made at one step and changed in place later: "Jump to its creation" goes to the
    # step that made it (the step its final grad_fn is drawn from is the in-place one).
    source = "import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 1\nw = y.exp()\ny.add_(100)\n"
    page.goto(f"{service.url}/embed#code={encode_code(source)}")
    page.wait_for_function(READY, timeout=90_000)
    trace = page.evaluate("() => window.__gradtrace.trace")
    y = next(t for t in trace["tensors"] if t["names"] == ["y"])
    made = next(i for i, e in enumerate(trace["events"]) if e["kind"] == "node" and e.get("tensor") == y["id"]) + 1
    page.evaluate("id => window.__gradtrace.viewer.selectNode(id)", "T:" + y["id"])
    page.locator(".gt-inspector").get_by_role("button", name=f"Jump to its creation (step {made})").click()
    assert player(page)["step"] == made


def test_a_long_chain_opens_readable_around_its_output(page: Page, service: Service) -> None:
    # Fitting 2,000 nodes in one column would zoom out to a blank sliver: the widget (which
    # has no focus of its own) shows the bottom of the drawing, where backward begins.
    source = "import torch\nx = torch.ones(2, requires_grad=True)\ny = x\nfor _ in range(2000):\n    y = y * 1.0\ny.sum().backward()\n"
    page.goto(f"{service.url}/embed#code={encode_code(source)}")
    page.wait_for_function(READY, timeout=90_000)
    view = page.evaluate(
        "() => { const cy = window.__gradtrace.viewer.canvas.cy;"
        " const seen = cy.nodes().filter(n => { const p = n.renderedPosition();"
        " return !n.hasClass('future') && p.x >= 0 && p.y >= 0 && p.x <= cy.width() && p.y <= cy.height(); });"
        " return { zoom: cy.zoom(), seen: seen.length }; }"
    )
    assert view["zoom"] >= 0.7 and view["seen"] >= 3, view
