"""The REST API v1 (FastAPI). Never imports torch: snippets run in the sandbox's workers."""

from __future__ import annotations

from gradtrace.api.app import create_app

__all__ = ["create_app"]
