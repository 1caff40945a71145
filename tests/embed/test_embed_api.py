"""Embedding routes over real HTTP: pages, framing headers and CSP, embed.js, share data, HTML export."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from html import unescape
from typing import Any

import pytest

from tests.embed.conftest import Service

SOURCE = "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 3).sum().backward()\n"


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - loopback only
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def csp(headers: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in headers.get("content-security-policy", "").split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name] = value
    return out


@pytest.fixture(scope="module")
def stored(service: Service) -> dict[str, Any]:
    return service.trace(SOURCE)


@pytest.mark.parametrize("path", ["/embed", "/embed?example=chain_rule", "/diff"])
def test_widget_pages_are_frameable_with_strict_csp(service: Service, path: str) -> None:
    status, headers, body = fetch(service.url + path)
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "x-frame-options" not in headers
    policy = csp(headers)
    assert policy["frame-ancestors"] == "*"
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval, no third-party script
    assert policy["connect-src"] == "'self'"
    assert (
        policy["object-src"] == "'none'"
        and policy["base-uri"] == "'none'"
        and policy["form-action"] == "'none'"
    )
    assert headers["x-content-type-options"] == "nosniff"
    # The built page only loads our own same-origin module scripts.
    scripts = re.findall(rb"<script[^>]*>", body)
    assert scripts and all(b'src="/assets/' in s for s in scripts)


@pytest.mark.parametrize("path", ["/", "/docs", "/api/v1/examples", "/api/v1/health"])
def test_main_app_is_not_frameable(service: Service, path: str) -> None:
    status, headers, _ = fetch(service.url + path)
    assert status in (200, 503)
    assert headers["x-frame-options"] == "DENY"
    assert csp(headers)["frame-ancestors"] == "'none'"


def test_share_page_and_data(service: Service, stored: dict[str, Any]) -> None:
    tid = stored["id"]
    status, headers, body = fetch(f"{service.url}/t/{tid}")
    assert status == 200 and b'id="app"' in body
    assert headers["x-frame-options"] == "DENY"  # the playground is not frameable, the widget is
    status, headers, body = fetch(f"{service.url}/embed/data/{tid}")
    assert status == 200
    data = json.loads(body)
    assert data["id"] == tid and data["source"] == SOURCE
    assert data["trace"] == stored["trace"]
    for bad in ("0" * 32, "not-an-id"):
        assert fetch(f"{service.url}/t/{bad}")[0] == 404
        status, _, body = fetch(f"{service.url}/embed/data/{bad}")
        assert status == 404 and json.loads(body)["error"]["code"] == "trace_not_found"


def test_embed_js(service: Service) -> None:
    status, headers, body = fetch(service.url + "/embed.js")
    assert status == 200
    assert headers["content-type"].startswith("text/javascript")
    assert headers["cross-origin-resource-policy"] == "cross-origin"
    text = body.decode()
    assert "data-gradtrace" in text and "IntersectionObserver" in text and "postMessage" not in text
    assert not re.search(r"^\s*(import|export)\b", text, re.M)  # a classic script, usable with <script defer>
    assert fetch(service.url + "/embed.js", "HEAD")[0] == 200


def test_export_html_route(service: Service, stored: dict[str, Any]) -> None:
    status, headers, body = fetch(f"{service.url}/t/{stored['id']}/lesson.html")
    assert status == 200
    assert headers["content-disposition"].startswith("attachment;")
    html = body.decode()
    assert "connect-src 'none'" in unescape(html)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)  # everything inlined
    payload = re.search(r'<script type="application/json" id="gradtrace-data">(.*?)</script>', html, re.S)
    assert payload is not None
    data = json.loads(payload.group(1))
    assert data["source"] == SOURCE and data["trace"] == stored["trace"]
    assert len(body) < 700_000


def test_openapi_unchanged_by_embed_routes(service: Service) -> None:
    _, _, body = fetch(service.url + "/openapi.json")
    paths = json.loads(body)["paths"]
    assert not any(p.startswith(("/embed", "/t/", "/diff")) for p in paths)
