"""render_html without a server: script-safe inlining, the deflated payload, and a missing viewer bundle."""

from __future__ import annotations

import base64
import json
import re
import zlib
from pathlib import Path

import pytest

from gradtrace.core.export_html import ViewerNotBuilt, load_viewer, render_html

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
