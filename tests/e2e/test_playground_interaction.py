"""The playground's interaction details: when a failure is explained."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .helpers import open_app, run_example, state

pytestmark = pytest.mark.e2e

DEFAULT = """import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
y = x * w
loss = y.sum()
loss.backward()
print(x.grad, w.grad)
"""


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
