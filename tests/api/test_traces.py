"""Tracing through HTTP: round trip, content-addressed caching, DOT, SSE, examples, schema, health."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from .conftest import Server

SNIPPET = "import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * 3).sum()\ny.backward()\n"


def post(client: httpx.Client, source: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/v1/traces", json={"source": source, **extra})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_round_trip(client: httpx.Client) -> None:
    created = post(client, SNIPPET + "# round trip\n")
    assert set(created) == {"id", "cached", "trace"}
    assert len(created["id"]) == 32 and created["cached"] is False
    trace = created["trace"]
    assert trace["schema_version"] == "1" and trace["status"] == "ok"
    names = {n["name"] for n in trace["nodes"]}
    assert {"MulBackward0", "SumBackward0"} <= names
    assert any(name.endswith("AccumulateGrad") for name in names)
    assert trace["backward_passes"][0]["api"] == "Tensor.backward"
    r = client.get(f"/api/v1/traces/{created['id']}")
    assert r.status_code == 200 and r.headers["etag"]
    fetched = r.json()
    assert fetched["id"] == created["id"] and fetched["cached"] is True
    assert fetched["trace"] == trace
    r2 = client.get(f"/api/v1/traces/{created['id']}", headers={"If-None-Match": r.headers["etag"]})
    assert r2.status_code == 304


def test_the_trace_validates_against_the_published_model(client: httpx.Client) -> None:
    from gradtrace.core.model import Trace

    trace = post(client, SNIPPET + "# model check\n")["trace"]
    Trace.model_validate(trace)


def test_snippet_that_raises_is_a_result_not_an_http_error(client: httpx.Client) -> None:
    body = post(
        client, "import torch\nx = torch.ones(2, requires_grad=True)\nx.sum().backward()\nx.sum().backward(\n"
    )
    assert body["trace"]["status"] == "error"
    assert body["trace"]["error"]["type"] == "SyntaxError"


def test_same_snippet_is_served_from_storage_without_running(server: Server, client: httpx.Client) -> None:
    source = SNIPPET + "# cache me\n"
    before = server.health()["stats"]
    first = post(client, source)
    mid = server.health()["stats"]
    second = post(client, source)
    after = server.health()["stats"]
    assert first["id"] == second["id"]
    assert (first["cached"], second["cached"]) == (False, True)
    assert mid["runs_started"] == before["runs_started"] + 1
    assert after["runs_started"] == mid["runs_started"]  # not re-run
    assert after["cache_hits"] == mid["cache_hits"] + 1
    assert second["trace"] == first["trace"]


def test_ids_depend_on_source_and_options(client: httpx.Client) -> None:
    a = post(client, SNIPPET + "# ids\n")["id"]
    b = post(client, SNIPPET + "# ids \n")["id"]
    c = post(client, SNIPPET + "# ids\n", limits={"max_nodes": 500})["id"]
    d = post(client, SNIPPET + "# ids\n", limits={"max_nodes": 20000})["id"]  # == the server maximum: default
    assert len({a, b, c}) == 3
    assert d == a


def test_identical_concurrent_posts_share_one_run(server: Server) -> None:
    source = SNIPPET + "# concurrent twins\n"
    before = server.health()["stats"]["runs_started"]
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda _: httpx.post(server.url + "/api/v1/traces", json={"source": source}, timeout=60),
                range(4),
            )
        )
    assert all(r.status_code == 200 for r in results)
    assert len({r.json()["id"] for r in results}) == 1
    assert server.health()["stats"]["runs_started"] == before + 1


def test_dot_format(client: httpx.Client) -> None:
    tid = post(client, SNIPPET + "# dot\n")["id"]
    r = client.get(f"/api/v1/traces/{tid}", params={"format": "dot"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/vnd.graphviz")
    assert "digraph" in r.text
    assert "MulBackward0" in r.text


def _sse(lines: list[str]) -> list[tuple[str, str]]:
    events, name, data = [], None, []
    for line in lines:
        if line.startswith(":"):
            continue
        if not line:
            if name is not None:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
    return events


def stream(client: httpx.Client, source: str) -> list[tuple[str, Any]]:
    with client.stream("POST", "/api/v1/traces/stream", json={"source": source}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse(list(r.iter_lines()))
    return [(name, json.loads(data)) for name, data in events]


def test_stream_sends_events_then_the_final_trace(client: httpx.Client) -> None:
    source = "import torch\nw = torch.ones(3, requires_grad=True)\nfor i in range(3):\n    (w * i).sum().backward()\nprint(w.grad)\n"
    events = stream(client, source)
    names = [n for n, _ in events]
    assert names[0] == "start" and names[-1] == "trace"
    assert names.count("trace") == 1 and "error" not in names
    timeline = [data for name, data in events if name == "timeline"]
    assert timeline, names
    assert all("seq" in e and "kind" in e for e in timeline)
    seqs = [e["seq"] for e in timeline]
    assert seqs == sorted(seqs)
    final = events[-1][1]
    assert final["id"] == events[0][1]["id"] and final["cached"] is False
    assert {e["kind"] for e in timeline} & {"node", "execute", "backward_begin"}
    # The streamed run was stored: posting it again is a cache hit, and the stream replays from storage.
    assert post(client, source)["cached"] is True
    again = stream(client, source)
    assert [n for n, _ in again] == ["start", "trace"] and again[-1][1]["cached"] is True


def test_stream_validation_errors_use_the_envelope(client: httpx.Client) -> None:
    r = client.post("/api/v1/traces/stream", json={"nope": 1})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_examples(client: httpx.Client) -> None:
    r = client.get("/api/v1/examples")
    assert r.status_code == 200
    items = r.json()["examples"]
    assert len(items) >= 10
    assert all(set(e) == {"name", "title", "description", "tags"} for e in items)
    names = [e["name"] for e in items]
    assert "chain_rule" in names and len(set(names)) == len(names)
    one = client.get("/api/v1/examples/chain_rule").json()
    assert one["name"] == "chain_rule" and "backward" in one["source"]


@pytest.mark.slow
def test_an_example_traces_end_to_end(client: httpx.Client) -> None:
    source = client.get("/api/v1/examples/l1_l4_graph").json()["source"]
    trace = post(client, source)["trace"]
    assert trace["status"] == "ok", trace.get("error")
    assert trace["nodes"] and trace["backward_passes"]


def test_schema(client: httpx.Client) -> None:
    from gradtrace.core.model import trace_json_schema

    r = client.get("/api/v1/schema")
    assert r.status_code == 200
    assert r.json() == trace_json_schema()
    assert "nodes" in r.json()["properties"]


def test_health(server: Server) -> None:
    h = server.health()
    assert h["status"] == "ok"
    assert h["version"] and h["schema_version"] == "1"
    assert h["torch_version"].startswith("2.13.0")
    assert isinstance(h["sandbox"], dict) and h["sandbox"]
    assert h["zygote_alive"] is True and h["queue_depth"] == 0 and h["running"] == 0
    assert set(h["stats"]) >= {
        "runs_started",
        "cache_hits",
        "in_flight",
        "rejected_overloaded",
        "rejected_rate_limited",
    }


def test_placeholder_page_when_frontend_not_built(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "gradtrace" in r.text and r.headers["cache-control"] == "no-cache"


def test_openapi_docs_served(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    doc = client.get("/openapi.json").json()
    assert doc["components"]["schemas"]["TraceResponse"]["properties"]["trace"] == {
        "$ref": "#/components/schemas/Trace"
    }


@pytest.mark.slow
def test_stream_is_live_events_arrive_while_the_snippet_still_runs(
    server: Server, client: httpx.Client
) -> None:
    source = (
        "import time\nimport torch\nx = torch.ones(2, requires_grad=True)\ny = (x * 2).sum()\n"
        "print('built')\ntime.sleep(2)\ny.backward()\n"
    )
    seen_running = None
    with client.stream("POST", "/api/v1/traces/stream", json={"source": source}) as r:
        assert r.status_code == 200
        names = []
        for line in r.iter_lines():
            if line.startswith("event: "):
                names.append(line[7:])
                if line == "event: timeline" and seen_running is None:
                    # The witness: the run is still in flight when its first event reached us.
                    seen_running = server.health()["stats"]["in_flight"]
    assert names[-1] == "trace"
    assert seen_running == 1


@pytest.mark.slow
def test_a_large_trace_round_trips_byte_for_byte(client: httpx.Client) -> None:
    source = "import torch\nx = torch.ones(4, requires_grad=True)\ny = x\nfor i in range(3000):\n    y = y * 1.0001\ny.sum().backward()\n"
    r = client.post("/api/v1/traces", json={"source": source})
    assert r.status_code == 200
    body = r.json()
    assert body["trace"]["status"] == "ok"
    assert len(body["trace"]["nodes"]) > 3000
    again = client.get(f"/api/v1/traces/{body['id']}")
    # The stored document is sent exactly as it was first answered (only `cached` differs).
    assert again.content == r.content.replace(b'"cached":false', b'"cached":true', 1)


@pytest.mark.slow
def test_a_stream_client_that_leaves_does_not_cancel_the_run(server: Server, client: httpx.Client) -> None:
    import time

    source = "import time\nimport torch\nx = torch.ones(2, requires_grad=True)\ntime.sleep(1)\n(x * 5).sum().backward()\n"
    with client.stream("POST", "/api/v1/traces/stream", json={"source": source}) as r:
        for line in r.iter_lines():
            if line.startswith("event: start"):
                break  # hang up right after the stream started
    for _ in range(300):
        if server.health()["stats"]["in_flight"] == 0:
            break
        time.sleep(0.1)
    again = post(client, source)
    assert again["cached"] is True and again["trace"]["status"] == "ok"
    assert server.health()["status"] == "ok"


def test_a_snippet_cannot_forge_a_rejected_result_over_http(client: httpx.Client) -> None:
    # The snippet shares the tracer's process and can write its own result frame on fd 4;
    # `rejected` (never an HTTP answer: an over-size source is a 413 first) must not be stored
    # and served as its trace.
    forged = (
        "import os, json, struct\n"
        'doc = {"schema_version": "1", "torch_version": "2.13.0+cpu", "status": "rejected", "error": {"type": '
        '"SandboxError", "message": "forged", "line": None, "kind": "source_too_large"}, "source_lines": 1}\n'
        'p = json.dumps(doc).encode(); os.write(4, b"R" + struct.pack("!I", len(p)) + p); os._exit(0)\n'
    )
    created = post(client, forged)
    for body in (created, client.get(f"/api/v1/traces/{created['id']}").json()):
        assert body["trace"]["status"] == "error", body["trace"]
        assert body["trace"]["error"]["kind"] == "malformed_output"
        assert "status rejected" in body["trace"]["error"]["message"]
