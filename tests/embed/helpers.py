"""Helpers for the embedding browser tests: find widget frames, read their state, encode #code= fragments."""

from __future__ import annotations

import base64
import time
import zlib
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Frame, Page


def encode_code(source: str) -> str:
    """Same format as frontend/src/embed/codec.ts: 'z' + base64url(deflate-raw(utf-8))."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = c.compress(source.encode()) + c.flush()
    return "z" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_code(value: str) -> str:
    """Either format codec.ts writes: 'z' (deflate-raw) or 'u' (plain UTF-8, from browsers
    without CompressionStream)."""
    assert value[:1] in ("z", "u"), value[:20]
    data = base64.urlsafe_b64decode(value[1:] + "=" * (-len(value[1:]) % 4))
    return (zlib.decompress(data, -15) if value[0] == "z" else data).decode()


READY = "() => document.querySelector('.gt-embed')?.dataset.ready === 'true'"


def widget(page: Page, match: Callable[[str], bool], timeout: float = 90.0) -> Frame:
    """The frame whose URL matches, once its viewer has rendered a trace."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in page.frames:
            if f is page.main_frame or not match(f.url):
                continue
            try:
                if f.evaluate(READY):
                    return f
            except Exception:  # noqa: BLE001 - frame navigating; retry
                pass
        page.wait_for_timeout(200)
    states = []
    for f in page.frames:
        try:
            states.append((f.url[:90], f.evaluate(STATE)))
        except Exception as e:  # noqa: BLE001 - report what we can
            states.append((f.url[:90], str(e)))
    raise AssertionError(f"no ready widget frame; frames: {states}")


STATE = (
    "() => JSON.stringify({...(document.querySelector('.gt-embed')?.dataset ?? {}),"
    " msg: document.querySelector('.gt-message')?.textContent})"
)


def root_data(frame: Frame | Page) -> dict[str, str]:
    data: dict[str, str] = frame.evaluate("() => ({ ...document.querySelector('.gt-embed').dataset })")
    return data


def node_names(frame: Frame | Page) -> list[str]:
    names: list[str] = frame.evaluate("() => window.__gradtrace.trace.nodes.map(n => n.name)")
    return names


def player(frame: Frame | Page) -> dict[str, Any]:
    p: dict[str, Any] = frame.evaluate("() => window.__gradtrace.player")
    return p


def visible_nodes(frame: Frame | Page) -> list[str]:
    ids: list[str] = frame.evaluate("() => window.__gradtrace.visibleNodes()")
    return ids
