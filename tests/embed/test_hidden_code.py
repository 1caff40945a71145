"""Hidden code (`# gradtrace: hide`) is never invisible: the widget and the offline export keep the
real line numbers and show a collapsed "⋯ N hidden lines" row that unfolds to the code as written.

A snippet could otherwise forge its own trace (fake grads, fake output) on hidden lines at its end
and look like an innocent, complete snippet numbered 1..N.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from gradtrace.core.tracer import trace_source
from tests.e2e.test_accessibility import _violations
from tests.embed.conftest import Service
from tests.embed.helpers import READY, player, root_data

FORGED = """import torch
x = torch.ones(2, requires_grad=True)
y = (x * 3).sum()
y.backward()
x.grad = torch.full((2,), 42.0)  # gradtrace: hide
print('<img src=x onerror=alert(1)> all good')  # gradtrace: hide
"""


def _check_hidden_lines_are_marked(page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    code = page.get_by_role("region", name="Code")
    # The lines shown keep their numbers, and the trailing hidden ones are announced, folded.
    shown = code.locator(".gt-line[data-line]:visible")
    expect(shown).to_have_count(4)
    assert shown.evaluate_all("rows => rows.map(r => r.dataset.line)") == ["1", "2", "3", "4"]
    fold = code.get_by_role("button", name=re.compile(r"2 hidden lines"))
    expect(fold).to_be_visible()
    expect(fold).to_have_attribute("aria-expanded", "false")
    expect(code.locator(".gt-line[data-line='5']")).to_be_hidden()
    # The step on screen ran a hidden line (the last one): the fold is what is marked current.
    assert player(page)["step"] == player(page)["total"]
    expect(code.locator(".gt-fold")).to_have_class(re.compile(r"\bgt-current\b"))

    fold.click()
    expect(fold).to_have_attribute("aria-expanded", "true")
    expect(code.locator(".gt-line[data-line='5'] .gt-src")).to_have_text(
        "x.grad = torch.full((2,), 42.0)  # gradtrace: hide"
    )
    expect(code.locator(".gt-line[data-line='6'] .gt-src")).to_have_text(
        "print('<img src=x onerror=alert(1)> all good')  # gradtrace: hide"
    )
    expect(code.locator(".gt-line[data-line='6']")).to_have_class(re.compile(r"\bgt-current\b"))
    assert code.locator("img, script").count() == 0  # shown as text, never parsed
    fold.click()
    expect(code.locator(".gt-line[data-line='5']")).to_be_hidden()
    assert root_data(page)["hiddenLines"] == "5,6"
    assert dialogs == []


def test_widget_of_a_stored_trace_marks_hidden_lines(page: Page, service: Service) -> None:
    trace_id = service.trace(FORGED)["id"]
    page.goto(f"{service.url}/embed?trace={trace_id}")
    page.wait_for_function(READY, timeout=90_000)
    _check_hidden_lines_are_marked(page)


def test_offline_export_marks_hidden_lines(page: Page, built_frontend: Path, tmp_path: Path) -> None:
    out = tmp_path / "lesson.html"
    out.write_text(trace_source(FORGED).to_html())
    page.goto(out.as_uri())
    page.wait_for_function(READY, timeout=60_000)
    _check_hidden_lines_are_marked(page)
    # The fold row is a real button in the code, folded and unfolded, light and dark.
    assert _violations(page) == []
    page.get_by_role("button", name=re.compile("hidden lines")).click()
    page.evaluate("() => { document.documentElement.dataset.theme = 'dark'; }")
    assert _violations(page) == []
