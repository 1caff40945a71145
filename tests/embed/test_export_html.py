"""render_html without a server: script-safe inlining, the deflated payload, a missing viewer bundle,
and a trace showing itself in a notebook (Trace._repr_html_)."""

from __future__ import annotations

import base64
import json
import re
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from gradtrace.core.export_html import ViewerNotBuilt, load_viewer, render_html
from gradtrace.core.tracer import trace_source

TRACE = {
    "schema_version": "1",
    "status": "ok",
    "nodes": [],
    "events": [],
    "note": "</script><script>alert(1)</script>",
}
SOURCE = "print('</script><img src=x onerror=alert(1)>')  # <!-- -->\n"
VIEWER = "window.v = '</script>'; const r = /</g;"


def _payload(html: str) -> str:
    m = re.search(r'<script type="application/json" id="gradtrace-data">(.*?)</script>', html, re.S)
    assert m is not None
    return m.group(1)


def test_user_text_cannot_close_the_script_tags() -> None:
    html = render_html(TRACE, SOURCE, title="<b>t</b>", viewer_js=VIEWER)
    # Exactly our two script elements (data + viewer) and the title escaped.
    assert html.count("</script>") == 2
    assert "<title>&lt;b&gt;t&lt;/b&gt;</title>" in html
    data = json.loads(_payload(html))
    assert data["source"] == SOURCE and data["trace"] == TRACE
    assert "<\\/script>" in html and "/</g" in html  # the viewer's own code: only `</script` is escaped


def test_big_traces_are_deflated_and_round_trip() -> None:
    html = render_html(TRACE, SOURCE, viewer_js=VIEWER, compress_over=0)
    m = re.search(r'id="gradtrace-data" data-encoding="deflate-raw\+base64">([A-Za-z0-9+/=]+)</script>', html)
    assert m is not None
    data = json.loads(zlib.decompress(base64.b64decode(m.group(1)), -15))
    assert data["source"] == SOURCE and data["trace"] == TRACE


def test_missing_viewer_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(ViewerNotBuilt, match="npm run build"):
        load_viewer(tmp_path)
    with pytest.raises(ViewerNotBuilt):
        render_html(TRACE, SOURCE, static_dir=tmp_path)


def test_a_trace_shows_itself_in_a_notebook_as_the_widget(page: Page, built_frontend: Path, tmp_path: Path) -> None:
    source = "import torch\nx = torch.ones(2, requires_grad=True)\ny = (x.exp() * 3).sum()\ny.backward()\n"
    trace = trace_source(source)
    assert repr(trace) == "Trace(status='ok', nodes=4, tensors=2, backward_passes=1, error=None)"
    # A notebook output cell: the HTML repr inside a page, as Jupyter inserts it.
    out = tmp_path / "notebook.html"
    out.write_text(f"<!doctype html><html><body><h1>cell</h1>{trace._repr_html_()}</body></html>")
    page.goto(out.as_uri())
    frame = page.frame_locator("iframe[title^='gradtrace']")
    expect(frame.locator(".gt-embed[data-ready='true']")).to_have_count(1, timeout=60_000)
    expect(frame.locator(".gt-code")).to_contain_text("y.backward()")  # the snippet trace_source ran
    names = page.frames[1].evaluate("() => window.__gradtrace.trace.nodes.map(n => n.name)")
    assert names == [n.name for n in trace.nodes]
    # Sandboxed (scripts only): the widget cannot reach the notebook's page.
    assert page.locator("iframe").get_attribute("sandbox") == "allow-scripts"


def test_without_a_built_viewer_the_notebook_shows_a_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradtrace.core.export_html as export_html

    monkeypatch.setattr(export_html, "default_static_dir", lambda: tmp_path)
    trace = trace_source("import torch\nx = torch.ones(1, requires_grad=True)\n(x * 2).sum().backward()\n")
    html = trace._repr_html_()
    assert html.startswith("<pre>Trace(status=&#x27;ok&#x27;") and "npm run build" in html
