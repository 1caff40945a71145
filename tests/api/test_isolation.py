"""The web process never imports torch; internal faults are a 500 envelope and never take the server down."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from .conftest import Server, assert_envelope


def test_importing_the_api_and_creating_the_app_leaves_torch_out() -> None:
    code = (
        "import sys\n"
        "import gradtrace.api\n"
        "from gradtrace.api import create_app\n"
        "from gradtrace.settings import Settings\n"
        "app = create_app(Settings())\n"  # with the real Supervisor constructed (not started)
        "app.openapi()\n"
        "import gradtrace.core.examples as ex; ex.list_examples()\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_running_server_has_no_torch_mapped(server: Server, client: httpx.Client) -> None:
    # After real traffic (a trace, a DOT export), the server's own memory maps show no libtorch.
    tid = client.post("/api/v1/traces", json={"source": "import torch\nt = torch.ones(1)\n"}).json()["id"]
    client.get(f"/api/v1/traces/{tid}", params={"format": "dot"})
    assert server.proc is not None
    maps = open(f"/proc/{server.proc.pid}/maps").read()
    assert "libtorch" not in maps and "torch/_C" not in maps


def test_openapi_module_prints_the_document_without_a_server() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gradtrace.api.openapi"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    paths = doc["paths"]
    for route in (
        "/api/v1/traces",
        "/api/v1/traces/stream",
        "/api/v1/traces/{trace_id}",
        "/api/v1/examples",
        "/api/v1/examples/{name}",
        "/api/v1/health",
        "/api/v1/schema",
    ):
        assert route in paths
    schemas = doc["components"]["schemas"]
    assert schemas["TraceResponse"]["properties"]["trace"] == {"$ref": "#/components/schemas/Trace"}
    ok = paths["/api/v1/traces"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/TraceResponse"}
    assert paths["/api/v1/traces"]["post"]["responses"]["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorEnvelope"
    }
    assert "HTTPValidationError" not in json.dumps(doc)
    assert {"StreamStart", "StreamDropped", "Event", "ErrorEnvelope", "Health"} <= set(schemas)
    assert set(schemas["Trace"]["required"]) >= {"nodes", "edges", "events", "status"}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("faulty"), {"GT_TEST_FAULTY_STORE": "1"}, fake=True).start()
    yield srv
    srv.stop()


def test_internal_fault_is_a_500_envelope_without_internals(faulty: Server) -> None:
    with httpx.Client(base_url=faulty.url, timeout=60) as c:
        r = c.post("/api/v1/traces", json={"source": "x = 1  # BOOM_STORE\n"})
        err = assert_envelope(r, 500, "internal_error")
        assert "secret" not in r.text and "Traceback" not in r.text and "OSError" not in r.text
        assert len(err["detail"]["incident"]) == 12
        # The server is still up and serving.
        assert c.post("/api/v1/traces", json={"source": "x = 2\n"}).status_code == 200
        assert c.get("/api/v1/health").status_code == 200
    assert err["detail"]["incident"] in faulty.log()  # the details are in the server log instead
