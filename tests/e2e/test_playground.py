"""The playground against the real server and sandbox: examples, stepping, backward order, errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .helpers import click_node, expect_line, open_app, run_code, run_example, runs, seek, state, wait_ready

pytestmark = pytest.mark.e2e


def test_page_loads_with_examples_menu(page: Page, server: str, api: Any, artifacts: Path) -> None:
    problems = open_app(page, server, query="")
    # Autorun traces the stored (or default) code.
    page.wait_for_function("document.getElementById('app').dataset.runs === '1'", timeout=90_000)
    names = [e["name"] for e in api.examples()]
    options = page.get_by_label("Examples").locator("option").evaluate_all("os => os.map(o => o.value).filter(Boolean)")
    assert options == names
    for label in ["Run (Ctrl+Enter)", "Play", "Step forward", "Step back", "Go to start", "Go to end", "Fit graph to view", "Zoom in"]:
        expect(page.get_by_role("button", name=label)).to_be_visible()
    expect(page.get_by_role("slider", name="Timeline position")).to_be_visible()
    expect(page.get_by_role("combobox", name="Playback speed (steps per second)")).to_be_visible()
    assert page.evaluate("() => window.__gradtrace.cy.nodes().length") > 0
    page.screenshot(path=str(artifacts / "01-default-code.png"))
    assert problems == []


def test_every_example_renders_the_api_trace(page: Page, server: str, api: Any) -> None:
    problems = open_app(page, server)
    for ex in api.examples():
        name = ex["name"]
        st = run_example(page, name)
        assert st["traceId"] is not None, name
        # The stored trace the page rendered, fetched by its id (a re-run is not always identical:
        # see derived_param_in_forward, whose bounded trace keeps different recent nodes per run).
        expected = api.get(st["traceId"])["trace"]
        assert page.evaluate("() => window.__gradtrace.editorText") == api.example(name)["source"], name
        got = page.evaluate("() => window.__gradtrace.trace.nodes.map(n => [n.id, n.name])")
        assert got == [[n["id"], n["name"]] for n in expected["nodes"]], name
        # Every node is drawn: by itself, or inside a collapsed module group.
        drawn = page.evaluate(
            "() => { const g = window.__gradtrace; return g.trace.nodes.filter(n => g.cy.getElementById(g.view.rep.get(n.id)).nonempty()).length }"
        )
        assert drawn == len(expected["nodes"]), name
        collapsed = page.evaluate("() => window.__gradtrace.view.collapsed.size")
        if collapsed == 0:
            gfn = page.evaluate("() => window.__gradtrace.cy.nodes('.gfn').map(n => n.id()).sort()")
            assert gfn == sorted(n["id"] for n in expected["nodes"]), name
            labels = page.evaluate("() => window.__gradtrace.cy.nodes('.gfn').map(n => [n.id(), n.data('label')])")
            by_id = {n["id"]: n["name"].replace("torch::autograd::", "") for n in expected["nodes"]}
            # The label starts with the node's name (wrapped over lines when long: names have no spaces).
            assert all(lab.replace("\n", "").startswith(by_id[i]) for i, lab in labels), name
        assert st["status"] == expected["status"], name
    assert problems == []


def _node_event_index(trace: dict[str, Any]) -> dict[str, int]:
    first: dict[str, int] = {}
    for i, ev in enumerate(trace["events"]):
        if ev["kind"] == "node" and ev.get("node") and ev["node"] not in first:
            first[ev["node"]] = i
    return first


def test_stepping_forward_highlights_line_and_grows_graph(page: Page, server: str, api: Any, artifacts: Path) -> None:
    open_app(page, server)
    run_example(page, "l1_l4_graph")
    trace = page.evaluate("() => window.__gradtrace.trace")
    created = _node_event_index(trace)
    page.get_by_role("button", name="Go to start").click()
    assert state(page)["step"] == 0
    expect_line(page, None)
    assert page.evaluate("() => window.__gradtrace.visibleNodes()") == []
    step_fwd = page.get_by_role("button", name="Step forward")
    checked = 0
    for k in range(1, len(trace["events"]) + 1):
        step_fwd.click()
        st = state(page)
        assert st["step"] == k
        ev = trace["events"][k - 1]
        if ev.get("line") is not None:
            expect_line(page, ev["line"])
            assert st["line"] == ev["line"]
        visible = set(page.evaluate("() => window.__gradtrace.visibleNodes()"))
        for node, idx in created.items():
            assert (node in visible) == (idx < k), (k, node)
        checked += 1
        if k == 6:
            page.screenshot(path=str(artifacts / "02-l1l4-step6.png"))
    assert checked == len(trace["events"])
    # Keyboard: the step-back control works from the keyboard too.
    page.get_by_role("button", name="Step back").focus()
    page.keyboard.press("Enter")
    assert state(page)["step"] == len(trace["events"]) - 1


def test_playing_backward_follows_engine_order(page: Page, server: str, api: Any) -> None:
    open_app(page, server)
    run_example(page, "mlp_training_step")
    trace = page.evaluate("() => window.__gradtrace.trace")
    begin = next(i for i, e in enumerate(trace["events"]) if e["kind"] == "backward_begin")
    end = next(i for i, e in enumerate(trace["events"]) if e["kind"] == "backward_end")
    seek(page, begin + 1)
    page.evaluate(
        """() => { window.__seen = []; const app = document.getElementById('app');
        new MutationObserver(() => { const a = app.dataset.active; if (a && window.__seen[window.__seen.length - 1] !== a) window.__seen.push(a); })
          .observe(app, { attributes: true, attributeFilter: ['data-active'] }); }"""
    )
    page.get_by_label("Playback speed (steps per second)").select_option("10")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(f"() => window.__gradtrace.player.step >= {end + 1}", timeout=60_000)
    page.get_by_role("button", name="Pause").click() if page.get_by_role("button", name="Pause").count() else None
    seen = page.evaluate("() => window.__seen")
    order = trace["backward_passes"][0]["order"]
    executed = [n for n in seen if n in set(order)]
    assert executed[: len(order)] == order
    assert page.evaluate("() => window.__gradtrace.player.order") [: len(order)] == order


def test_inplace_version_error_pins_the_culprit(page: Page, server: str, api: Any, artifacts: Path) -> None:
    open_app(page, server)
    run_example(page, "inplace_version_error")
    trace = page.evaluate("() => window.__gradtrace.trace")
    err = trace["error"]
    assert err["kind"] == "inplace_version"
    app = page.locator("#app")
    expect(app).to_have_attribute("data-status", "error")
    expect(app).to_have_attribute("data-culprit", err["node"])
    panel = page.locator("#error-panel")
    expect(panel.get_by_role("heading", name=err["explanation"]["title"])).to_be_visible()
    expect(panel.locator(".error-fix")).to_have_text(err["explanation"]["fix"])
    expect(page.locator(".cm-error-line")).to_have_attribute("data-line", str(err["line"]))
    assert page.evaluate(f"() => window.__gradtrace.cy.getElementById('{err['node']}').hasClass('culprit')")
    assert page.evaluate(f"() => window.__gradtrace.cy.getElementById('{err['node']}').selected()")
    node_name = next(n["name"] for n in trace["nodes"] if n["id"] == err["node"])
    expect(page.locator("#inspector h3")).to_have_text(node_name)
    expect(page.locator("#inspector table.saved")).to_contain_text("STALE")
    page.screenshot(path=str(artifacts / "03-inplace-version-error.png"))
    # Before the failure the panel only says that it comes; its button goes there and re-pins it.
    seek(page, 0)
    page.get_by_role("button", name="Go to the error").click()
    assert page.evaluate(f"() => window.__gradtrace.cy.getElementById('{err['node']}').hasClass('culprit')")
    page.get_by_role("button", name="Show the culprit in the graph").click()
    assert page.evaluate(f"() => window.__gradtrace.cy.getElementById('{err['node']}').selected()")


def test_a_shape_error_shows_the_call_with_its_inputs(page: Page, server: str) -> None:
    open_app(page, server)
    st = run_code(page, "import torch\na = torch.ones(2, requires_grad=True)\nb = torch.ones(3, dtype=torch.float64)\nc = torch.stack([a, b])\n")
    assert st["status"] == "error"
    call = page.evaluate("() => window.__gradtrace.trace.error.call")
    assert call["op"] == "stack" and [i["shape"] for i in call["inputs"]] == [[2], [3]]
    expect(page.locator("#error-panel .error-call")).to_have_text("stack(a [2], b [3] float64)")


def test_a_link_to_an_example_runs_it_and_names_it_in_the_menu(page: Page, server: str, api: Any) -> None:
    open_app(page, server, query="?example=retain_grad")
    page.wait_for_function("document.getElementById('app').dataset.runs === '1'", timeout=90_000)
    example = api.example("retain_grad")
    assert page.evaluate("() => window.__gradtrace.editorText") == example["source"]
    expect(page.get_by_label("Examples")).to_have_value("retain_grad")
    expect(page.locator("#example-desc")).to_have_text(example["description"])


def test_a_known_warning_shows_its_lesson(page: Page, server: str) -> None:
    open_app(page, server)
    st = run_code(page, "import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 2\ny.sum().backward()\nprint(y.grad)\n")
    assert st["status"] == "ok"
    hint = page.evaluate("() => window.__gradtrace.trace.events.find(e => e.kind === 'warning').hint")
    item = page.locator("#console li[data-hint='nonleaf_grad']")
    expect(item.locator(".warning-hint strong")).to_have_text(hint["title"])
    expect(item.locator(".warning-hint em")).to_have_text(hint["fix"])


def test_lines_that_warned_are_underlined_with_what_they_say(page: Page, server: str) -> None:
    open_app(page, server)
    st = run_code(
        page,
        "import torch\nw = torch.ones(2, requires_grad=True)\nopt = torch.optim.SGD([w], lr=0.0)\n"
        "for i in range(3):\n    loss = (w * 2).sum()\n    loss.backward()\n    opt.step()\n",
    )
    assert st["status"] == "ok"
    hints = page.evaluate("() => window.__gradtrace.trace.events.filter(e => e.kind === 'warning').map(e => [e.line, e.hint.title])")
    assert hints == [[6, "Gradients pile up across iterations"]]
    line = page.locator(".cm-warning-line")
    expect(line).to_have_count(1)
    expect(line).to_have_attribute("data-line", "6")
    expect(line).to_have_attribute("title", "Gradients pile up across iterations")
    # Editing the code drops the marks: they belong to the code that ran.
    page.locator(".cm-content").click()
    page.keyboard.press("End")
    page.keyboard.type(" ")
    expect(page.locator(".cm-warning-line")).to_have_count(0)


def test_a_warning_about_a_node_shows_it_in_the_graph(page: Page, server: str) -> None:
    open_app(page, server)
    # The softmax before cross_entropy sits in a loop: by the end the node the note is about
    # (first iteration) has made way for the next iteration's.
    st = run_code(
        page,
        "import torch\nimport torch.nn.functional as F\nx = torch.randn(4, 3, requires_grad=True)\n"
        "for i in range(2):\n    loss = F.cross_entropy(F.softmax(x * (i + 1), dim=1), torch.tensor([0, 1, 2, 0]))\n"
        "    loss.backward()\n",
    )
    assert st["status"] == "ok"
    note = page.evaluate("() => window.__gradtrace.trace.events.find(e => e.kind === 'warning' && e.node)")
    assert note["hint"]["kind"] == "softmax_twice"
    item = page.locator("#console li[data-hint='softmax_twice']")
    item.get_by_role("button", name="Show in the graph (warning at line 5)").click()
    page.wait_for_function("id => window.__gradtrace.selected === id", arg=note["node"])
    # Shown at a step where that node is drawn, and the inspector describes it.
    assert page.evaluate("id => window.__gradtrace.cy.getElementById(id).visible()", note["node"])
    expect(page.locator("#inspector h3").first).to_contain_text("LogSoftmaxBackward0")


def test_timeout_shows_the_timeout_message(page: Page, server: str) -> None:
    open_app(page, server)
    before = runs(page)
    page.evaluate("code => window.__gradtrace.setEditorText(code)", "import torch\nimport time\nx = torch.ones(2, requires_grad=True)\ny = x * 2\ntime.sleep(600)\n")
    page.get_by_role("button", name="Run (Ctrl+Enter)").click()
    # The timeline streams in while the snippet runs: the node built before the sleep shows up live.
    expect(page.get_by_role("status")).to_have_text(re.compile(r"Running… \d+ events, [1-9]\d* nodes, line 4"), timeout=30_000)
    st = wait_ready(page, before)
    assert st["status"] == "timeout"
    alert = page.locator("[data-outcome='timeout']")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Time limit reached")


XSS = "<img src=x onerror=\"window.__xss=(window.__xss||0)+1\">"


def test_user_text_is_never_html(page: Page, server: str, artifacts: Path) -> None:
    problems = open_app(page, server)
    code = f"""import torch
class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.add_module({XSS!r}.replace(".", "_"), torch.nn.Linear(2, 2))
    def forward(self, x):
        return sum(m(x) for m in self.children())
model = M()
x = torch.ones(1, 2)
out = model(x).sum()
out.backward()
print({XSS!r})
raise RuntimeError({XSS!r})
"""
    st = run_code(page, code)
    assert st["status"] == "error"
    page.locator("#inspector").click()  # let any injected handler fire
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img").count() == 0
    expect(page.locator("#console pre.stdout")).to_contain_text("<img src=x")
    expect(page.locator("#error-panel .error-message")).to_contain_text("<img src=x")
    # The module path (a graph label) is plain text too, in the inspector.
    page.evaluate("() => { const g = window.__gradtrace; const n = g.cy.nodes('.gfn').filter(n => (g.model.nodeById.get(n.id())?.module || '').includes('<img'))[0]; if (n) n.emit('tap'); }")
    page.screenshot(path=str(artifacts / "04-xss-as-text.png"))
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img").count() == 0
    assert problems == []


def test_export_png_svg_json(page: Page, server: str, tmp_path: Path) -> None:
    open_app(page, server)
    run_example(page, "l1_l4_graph")
    out = {}
    for label, fname in [("Export PNG", "g.png"), ("Export SVG", "g.svg"), ("Export JSON", "g.json"), ("Export DOT", "g.dot")]:
        page.locator("details.export summary").click() if not page.locator("details.export").evaluate("d => d.open") else None
        with page.expect_download() as dl:
            page.get_by_role("button", name=label).click()
        path = tmp_path / fname
        dl.value.save_as(path)
        out[label] = path.read_bytes()
    assert out["Export PNG"][:8] == b"\x89PNG\r\n\x1a\n" and len(out["Export PNG"]) > 2000
    assert out["Export SVG"].startswith(b"<svg") and b"AccumulateGrad" in out["Export SVG"]
    assert b'"nodes"' in out["Export JSON"]
    assert b"digraph" in out["Export DOT"]


def _renders(page: Page) -> int:
    return int(page.evaluate("() => Number(document.getElementById('app').dataset.renders || 0)"))


def _wait_render(page: Page, before: int) -> None:
    page.wait_for_function(f"() => Number(document.getElementById('app').dataset.renders || 0) > {before}")


def test_collapse_and_expand_a_module_group(page: Page, server: str, artifacts: Path) -> None:
    open_app(page, server)
    run_example(page, "transformer_encoder")
    total_nodes = page.evaluate("() => window.__gradtrace.trace.nodes.length")
    renders = _renders(page)
    page.get_by_role("button", name="Collapse all module groups").click()
    _wait_render(page, renders)
    collapsed_count = page.evaluate("() => window.__gradtrace.cy.nodes('.gfn').length")
    assert collapsed_count < total_nodes
    groups = page.evaluate("() => window.__gradtrace.cy.nodes('.group.collapsed').map(n => n.id())")
    assert groups
    page.screenshot(path=str(artifacts / "05-transformer-collapsed.png"))
    # Open the biggest collapsed group from the inspector, by its accessible name.
    key = page.evaluate(
        "() => { const g = window.__gradtrace; const ids = g.cy.nodes('.group.collapsed').map(n => n.id().slice(2));"
        " ids.sort((a, b) => g.model.groups.get(b).size - g.model.groups.get(a).size); return ids[0]; }"
    )
    page.evaluate(f"() => window.__gradtrace.cy.getElementById('G:{key}').emit('tap')")
    renders = _renders(page)
    page.get_by_role("button", name=f"Expand group {key}").click()
    _wait_render(page, renders)
    assert page.evaluate("() => window.__gradtrace.cy.nodes('.gfn').length") > collapsed_count
    renders = _renders(page)
    page.get_by_role("button", name=f"Collapse group {key}").click()
    _wait_render(page, renders)
    assert page.evaluate(f"() => window.__gradtrace.cy.getElementById('G:{key}').hasClass('collapsed')")
    renders = _renders(page)
    page.get_by_role("button", name="Expand all module groups").click()
    _wait_render(page, renders)
    assert page.evaluate("() => window.__gradtrace.cy.nodes('.gfn').length") == total_nodes
    page.screenshot(path=str(artifacts / "06-transformer-expanded.png"))


def test_editor_gutter_click_jumps_to_line(page: Page, server: str) -> None:
    open_app(page, server)
    run_example(page, "l1_l4_graph")
    trace = page.evaluate("() => window.__gradtrace.trace")
    line = next(e["line"] for e in trace["events"] if e["kind"] == "node")
    first = next(i for i, e in enumerate(trace["events"]) if e.get("line") == line)
    page.locator(".cm-gutterElement", has_text=str(line)).first.dispatch_event("mousedown")
    page.wait_for_function(f"() => window.__gradtrace.player.step === {first + 1}")
    expect_line(page, line)


def test_phone_width_and_dark_theme(page: Page, server: str, artifacts: Path) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_app(page, server)
    run_example(page, "chain_rule")
    page.get_by_role("button", name="Dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    for label in ["Run (Ctrl+Enter)", "Play", "Step forward"]:
        expect(page.get_by_role("button", name=label)).to_be_visible()
    box = page.locator("#graph").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1
    page.screenshot(path=str(artifacts / "07-phone-dark.png"), full_page=True)


def test_search_arrows_keyboard_and_code_survives_reload(page: Page, server: str) -> None:
    open_app(page, server)
    run_example(page, "linear_bce_named_parameters")
    trace = page.evaluate("() => window.__gradtrace.trace")
    param = next(t for t in trace["tensors"] if any("weight" in n for n in t["names"]))
    search = page.get_by_role("searchbox", name="Search nodes")
    search.fill(param["names"][0])
    search.press("Enter")
    page.wait_for_function(f"() => window.__gradtrace.cy.getElementById('T:{param['id']}').selected()")
    expect(page.locator("#inspector h3")).to_have_text(", ".join(param["names"]))
    # Arrow direction toggle flips the drawn arrowheads, not the edges.
    arrows = page.get_by_role("button", name="Arrows: data flow")
    arrows.click()
    expect(page.get_by_role("button", name="Arrows: autograd")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("() => window.__gradtrace.cy.edges()[0].style('source-arrow-shape')") == "triangle"
    # Keyboard: arrow keys step when focus is outside the editor.
    page.get_by_role("button", name="Go to start").click()
    page.locator("#inspector").click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert state(page)["step"] == 2
    page.keyboard.press("ArrowLeft")
    assert state(page)["step"] == 1
    # The visitor's code survives a reload (once typed into: an example left as it came is not
    # saved over their own code, see test_an_example_from_the_menu_keeps_the_draft).
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# my change")
    code = page.evaluate("() => window.__gradtrace.editorText")
    assert code.endswith("# my change")
    page.reload()
    page.wait_for_function("window.__gradtrace !== undefined")
    assert page.evaluate("() => window.__gradtrace.editorText") == code


def test_syntax_error_marks_the_line(page: Page, server: str) -> None:
    open_app(page, server)
    st = run_code(page, "import torch\nx = torch.ones(2)\ny = (x *\n")
    assert st["status"] == "error"
    err = page.evaluate("() => window.__gradtrace.trace.error")
    assert err["type"] == "SyntaxError" and err["line"] is not None
    expect(page.locator(".cm-error-line")).to_have_attribute("data-line", str(err["line"]))
    expect(page.locator("#error-panel .error-message")).to_contain_text("SyntaxError")
    expect(page.locator("#error-panel .error-where")).to_contain_text(f"line {err['line']}")


def test_starts_and_runs_where_storage_is_blocked(page: Page, server: str, api: Any) -> None:
    # Cookies blocked (Safari, Firefox): even reading window.localStorage throws.
    page.add_init_script(
        "Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('blocked', 'SecurityError'); } });"
    )
    problems = open_app(page, server)
    code = "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 3).sum().backward()\n"
    st = run_code(page, code)
    assert st["status"] == "ok"
    names = page.evaluate("() => window.__gradtrace.trace.nodes.map(n => n.name)")
    assert names == [n["name"] for n in api.trace(code)["trace"]["nodes"]]
    page.get_by_role("button", name=re.compile("(Dark|Light) theme")).click()  # saving the theme is skipped
    assert problems == []


LABELS_FIT = """() => window.__gradtrace.cy.nodes().filter(n => !n.hasClass('group') && n.visible()).map(n => {
  const body = n.boundingBox({ includeLabels: false, includeOverlays: false });
  const text = n.boundingBox({ includeNodes: false, includeEdges: false, includeLabels: true, includeOverlays: false });
  return { label: n.data('label'), fits: text.x1 >= body.x1 - 1 && text.x2 <= body.x2 + 1 && text.y1 >= body.y1 - 1 && text.y2 <= body.y2 + 1 };
})"""


def test_labels_fit_their_boxes_cjk_names_and_long_paths(page: Page, server: str) -> None:
    """Learners name tensors in their own language (no spaces to wrap at, two cells a
    character), and module paths get long: every label, measured by the browser's own text
    layout, stays inside its box, also once replay adds an in-place version to it."""
    problems = open_app(page, server)
    code = (
        "import torch, torch.nn as nn\n"
        "第一层的权重参数矩阵第二层的偏置参数向量 = torch.ones(2, requires_grad=True)\n"
        "偏置 = torch.ones(2, requires_grad=True)\n"
        "a = b = c = also_this_one = and_another_name = 偏置\n"
        "中间结果 = 第一层的权重参数矩阵第二层的偏置参数向量 * 偏置\n"
        "中间结果的一个非常长的名字 = 中间结果.clone()\n"
        "中间结果的一个非常长的名字.mul_(2)\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.a_rather_long_submodule_name_for_testing = nn.Linear(2, 2)\n"
        "    def forward(self, x):\n"
        "        return self.a_rather_long_submodule_name_for_testing(x)\n"
        "model = Net()\n"
        "loss = model(中间结果的一个非常长的名字).sum()\n"
        "loss.backward()\n"
    )
    st = run_code(page, code)
    assert st["status"] == "ok"
    page.evaluate("() => window.__gradtrace.expandAll()")
    page.wait_for_function("document.getElementById('app').dataset.ready === 'true'")
    labels = page.evaluate(LABELS_FIT)
    texts = [x["label"].replace("\n", "") for x in labels]  # wrapped where long
    # The cases above are drawn: a long CJK name, several names, a version, a long path.
    assert any(t.startswith("第一层的权重参数矩阵") for t in texts), texts
    assert any("and_another_name" in t for t in texts), texts
    assert any("· v1" in t for t in texts), texts
    assert any("a_rather_long_submodule_name" in t for t in texts), texts
    assert [x["label"] for x in labels if not x["fits"]] == []
    assert problems == []


def test_runs_without_apis_newer_than_the_floor(page: Page, server: str, api: Any) -> None:
    """Safari 15.4 has no OffscreenCanvas (Cytoscape then draws its layers on plain canvases)
    and no CompressionStream; take them away and the playground still traces and renders."""
    page.add_init_script(
        "for (const name of ['OffscreenCanvas', 'CompressionStream', 'DecompressionStream']) delete window[name];"
    )
    problems = open_app(page, server)
    assert page.evaluate("() => typeof OffscreenCanvas + typeof CompressionStream") == "undefinedundefined"
    code = "import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 3\ny.sum().backward()\n"
    st = run_code(page, code)
    assert st["status"] == "ok"
    assert page.evaluate("() => window.__gradtrace.trace.nodes.map(n => n.name)") == [
        n["name"] for n in api.trace(code)["trace"]["nodes"]
    ]
    assert sorted(page.evaluate("() => window.__gradtrace.visibleNodes()")) == sorted(
        n["id"] for n in api.trace(code)["trace"]["nodes"]
    )
    seek(page, 2)
    expect_line(page, 3)
    assert problems == []


_LOOP = """import torch
from torch import nn
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(8, 3)
for step in range(4):
    loss = model(x).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_training_loop_rebuilds_its_graph_in_place(page: Page, server: str) -> None:
    """Each iteration's graph, once backward consumed it, makes way for the next one, drawn in
    the same place: at the end only what is alive is drawn, and a tap on a node reaches the
    current iteration's node, not the undrawn ones of other iterations."""
    open_app(page, server)
    st = run_code(page, _LOOP)
    assert st["status"] == "ok"
    trace = page.evaluate("() => window.__gradtrace.trace")
    alive = sorted(n["id"] for n in trace["nodes"] if n["alive"])
    assert len(alive) < len(trace["nodes"])  # three finished iterations are gone
    assert sorted(page.evaluate("() => window.__gradtrace.visibleNodes()")) == alive
    # Second iteration, just after its PowBackward0 is created: the first one's is gone, and
    # both sit in one place.
    pows = [n["id"] for n in trace["nodes"] if n["name"] == "PowBackward0"]
    created = _node_event_index(trace)
    seek(page, created[pows[1]] + 1)
    visible = set(page.evaluate("() => window.__gradtrace.visibleNodes()"))
    assert pows[1] in visible and pows[0] not in visible
    where = page.evaluate(
        "ids => ids.map(id => { const p = window.__gradtrace.cy.getElementById(id).position(); return [p.x, p.y]; })", pows[:2]
    )
    assert where[0] == where[1]
    # Other iterations sit there too, undrawn; the tap still selects the drawn node.
    click_node(page, pows[1])
    assert page.evaluate("() => window.__gradtrace.cy.$(':selected').map(e => e.id())") == [pows[1]]
    # The inspector links the iterations: built in place of the first, replaced by the third.
    inspector = page.locator("#inspector")
    expect(inspector).to_contain_text(f"built in place ofPowBackward0 ({pows[0]})")
    inspector.get_by_role("button", name=f"PowBackward0 ({pows[2]})").click()
    assert page.evaluate("() => window.__gradtrace.cy.$(':selected').map(e => e.id())") == [pows[2]]
    expect(inspector).to_contain_text(f"built in place ofPowBackward0 ({pows[1]})")
    # Stepping back brings the first iteration back.
    seek(page, created[pows[1]])
    visible = set(page.evaluate("() => window.__gradtrace.visibleNodes()"))
    assert pows[0] in visible and pows[1] not in visible


def test_a_link_to_an_unknown_example_says_so_plainly(page: Page, server: str) -> None:
    """?example= mistyped: a sentence for a student (no API endpoint), the name shown as text."""
    problems = open_app(page, server, '?example=nope<img src=x onerror="alert(1)">')
    page.wait_for_function("() => document.getElementById('app').dataset.status === 'api-error'")
    status = page.get_by_role("status").first
    expect(status).to_have_text(
        'There is no built-in example called "nope<img src=x onerror="alert(1)">". Pick one from the Examples menu.'
    )
    expect(status).not_to_contain_text("/api/")
    assert not page.locator("#status img").count() and not problems
