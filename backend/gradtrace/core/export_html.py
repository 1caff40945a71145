"""Self-contained HTML export: the offline viewer (built `static/export/viewer.js`) and one trace, in one file.

The file makes no network request: a `<meta>` Content-Security-Policy allows only the inlined script
and styles (`connect-src 'none'`), and the viewer lays the graph out in the page (no worker file).
Open it from disk or any static host. Nothing here imports torch.
"""

from __future__ import annotations

import base64
import html
import json
import re
import zlib
from pathlib import Path
from typing import Any

from gradtrace.core.model import Trace

VIEWER_RELATIVE = Path("export") / "viewer.js"

CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
    "font-src data:; connect-src 'none'; worker-src blob:; form-action 'none'; base-uri 'none'"
)


class ViewerNotBuilt(RuntimeError):
    """The offline viewer bundle is missing (the frontend was not built)."""


def default_static_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "static"


def load_viewer(static_dir: Path | None = None) -> str:
    path = (static_dir or default_static_dir()) / VIEWER_RELATIVE
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ViewerNotBuilt(
            f"the offline viewer is not built ({path} is missing). Run `npm ci && npm run build` first."
        ) from None


def _script_safe(text: str) -> str:
    """Text that cannot end the <script> element it sits in (only `</script` and `<!--` are touched)."""
    return re.sub(r"<(/script|!--)", r"<\\\1", text, flags=re.IGNORECASE)


def _json_for_script(data: Any) -> str:
    # `<`, `>`, `&` as \u escapes: the JSON stays valid and no tag can appear inside it.
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


#: Traces whose JSON is bigger than this are stored deflated (base64) and inflated by the viewer.
COMPRESS_OVER = 64 * 1024


def _compressed_payload(text: str) -> str:
    packer = zlib.compressobj(
        9, zlib.DEFLATED, -15
    )  # raw deflate: what DecompressionStream("deflate-raw") reads
    raw = packer.compress(text.encode("utf-8")) + packer.flush()
    return base64.b64encode(raw).decode("ascii")


def render_html(
    trace: Trace | dict[str, Any] | str,
    source: str,
    *,
    title: str = "gradtrace lesson",
    options: dict[str, str] | None = None,
    viewer_js: str | None = None,
    static_dir: Path | None = None,
    compress_over: int = COMPRESS_OVER,
) -> str:
    """One HTML document with the viewer and `trace` inlined. `trace` may be the model, a dict or JSON text."""
    if isinstance(trace, Trace):
        doc: Any = trace.to_dict()
    elif isinstance(trace, str):
        doc = json.loads(trace)
    else:
        doc = trace
    js = viewer_js if viewer_js is not None else load_viewer(static_dir)
    payload = _json_for_script({"source": source, "trace": doc, "options": options or {}})
    if len(payload) > compress_over:
        data_tag = (
            '<script type="application/octet-stream" id="gradtrace-data" data-encoding="deflate-raw+base64">'
            f"{_compressed_payload(payload)}</script>\n"
        )
    else:
        data_tag = f'<script type="application/json" id="gradtrace-data">{payload}</script>\n'

    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
        "<noscript>This gradtrace lesson needs JavaScript to play the autograd graph.</noscript>\n"
        f'<main id="embed"><h1 class="sr-only">{html.escape(title)}</h1></main>\n'
        f"{data_tag}"
        f"<script>{_script_safe(js)}</script>\n"
        "</body>\n</html>\n"
    )
