"""The built frontend at / with cache headers (HTML revalidated, hashed assets immutable)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .conftest import Server, assert_envelope


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    static = tmp_path_factory.mktemp("static")
    (static / "assets").mkdir()
    (static / "index.html").write_text("<!doctype html><title>built playground</title>")
    (static / "assets" / "index-3f2a9c.js").write_text("console.log('app')")
    (static / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    secret = tmp_path_factory.mktemp("outside") / "secret.txt"
    secret.write_text("TOP SECRET")
    srv = Server(tmp_path_factory.mktemp("site"), {"GRADTRACE_STATIC_DIR": str(static)}, fake=True).start()
    yield srv
    srv.stop()


def test_index_and_assets(site: Server) -> None:
    with httpx.Client(base_url=site.url) as c:
        r = c.get("/")
        assert r.status_code == 200 and "built playground" in r.text
        assert r.headers["cache-control"] == "no-cache"
        js = c.get("/assets/index-3f2a9c.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert js.headers.get("etag")
        assert (
            c.get("/assets/index-3f2a9c.js", headers={"If-None-Match": js.headers["etag"]}).status_code == 304
        )
        icon = c.get("/favicon.svg")
        assert icon.status_code == 200 and icon.headers["cache-control"] == "public, max-age=3600"
        assert c.head("/assets/index-3f2a9c.js").status_code == 200


def test_static_never_escapes_its_dir_nor_shadows_the_api(site: Server) -> None:
    with httpx.Client(base_url=site.url) as c:
        assert_envelope(c.get("/assets/missing.js"), 404, "not_found")
        assert_envelope(c.get("/%2e%2e/outside/secret.txt"), 404, "not_found")
        assert_envelope(c.get("/assets/..%2f..%2fserver.log"), 404, "not_found")
        assert_envelope(c.post("/favicon.svg"), 404, "not_found")
        assert c.get("/api/v1/examples").status_code == 200
