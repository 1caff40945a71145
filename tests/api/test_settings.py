"""Settings: every field has a default and a description; the environment configures them."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.requests import Request

from gradtrace.api.ratelimit import client_key
from gradtrace.settings import Settings


def test_every_field_has_a_default_and_a_description() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description) > 15, name
        assert not field.is_required(), name


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRADTRACE_PORT", "9001")
    monkeypatch.setenv("GRADTRACE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRADTRACE_RATE_LIMIT_PER_MINUTE", "0")
    monkeypatch.setenv("GRADTRACE_SANDBOX_WALL_SECONDS", "7.5")
    monkeypatch.setenv("GRADTRACE_SANDBOX_QUEUE_SIZE", "3")
    s = Settings()
    assert s.port == 9001 and s.database_path == tmp_path / "traces.sqlite3"
    assert s.rate_limit_per_minute == 0
    assert s.sandbox.wall_seconds == 7.5 and s.sandbox.queue_size == 3
    assert s.sqlite_synchronous == "full" and s.allow_weaker_sandbox is False


def test_bad_environment_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADTRACE_PORT", "not-a-port")
    with pytest.raises(ValueError):
        Settings()


def _request(client: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request(
        {"type": "http", "client": (client, 1234), "headers": headers, "method": "GET", "path": "/"}
    )


def test_client_identity() -> None:
    assert client_key(_request("10.0.0.1", "1.2.3.4, 10.0.0.1"), trust_forwarded_for=False) == "10.0.0.1"
    assert client_key(_request("10.0.0.1", "1.2.3.4"), trust_forwarded_for=True) == "1.2.3.4"
    # A client can put anything before the entry the proxy appends: that one counts.
    assert client_key(_request("10.0.0.1", "10.9.1.1, 203.0.113.7"), trust_forwarded_for=True) == "203.0.113.7"
    assert client_key(_request("10.0.0.1", "10.9.2.1,203.0.113.7"), trust_forwarded_for=True) == "203.0.113.7"
    assert client_key(_request("10.0.0.1", None), trust_forwarded_for=True) == "10.0.0.1"
