"""Every non-2xx answer is the one envelope, with a stable code and a message saying what to do."""

from __future__ import annotations

import httpx
import pytest

from .conftest import assert_envelope


def test_malformed_json(client: httpx.Client) -> None:
    r = client.post(
        "/api/v1/traces", content=b'{"source": "x = 1",', headers={"content-type": "application/json"}
    )
    err = assert_envelope(r, 400, "malformed_json")
    assert "JSON" in err["message"]


def test_body_that_is_not_utf8_says_where(client: httpx.Client) -> None:
    body = b'{"source": "print(\xff\xfe)"}'
    r = client.post("/api/v1/traces", content=body, headers={"content-type": "application/json"})
    err = assert_envelope(r, 400, "malformed_json")
    assert "UTF-8" in err["message"]
    assert err["detail"]["position"] == body.index(b"\xff") and "0xff" in err["detail"]["reason"]


def test_a_lone_surrogate_in_the_source_is_refused_before_it_runs(client: httpx.Client) -> None:
    body = b'{"source": "x = 1  # \\udfff"}'
    r = client.post("/api/v1/traces", content=body, headers={"content-type": "application/json"})
    err = assert_envelope(r, 422, "validation_error")
    assert err["detail"][0]["field"] == "body.source" and "U+DFFF" in err["detail"][0]["problem"]


def test_thousands_of_bad_fields_give_a_short_answer(client: httpx.Client) -> None:
    body = {"source": "x = 1", **{str(i): 1 for i in range(5000)}}
    r = client.post("/api/v1/traces", json=body)
    err = assert_envelope(r, 422, "validation_error")
    assert len(r.content) < 20_000
    assert len(err["detail"]) == 21 and err["detail"][-1]["problem"] == "4980 more problems not listed"


def test_body_not_an_object(client: httpx.Client) -> None:
    r = client.post("/api/v1/traces", json=["x = 1"])
    err = assert_envelope(r, 422, "validation_error")
    assert "JSON object" in err["message"]


def test_missing_source_names_the_field(client: httpx.Client) -> None:
    r = client.post("/api/v1/traces", json={"code": "x = 1"})
    err = assert_envelope(r, 422, "validation_error")
    fields = {d["field"]: d for d in err["detail"]}
    assert fields["body.source"]["type"] == "missing"
    assert "source" in fields["body.source"]["hint"]
    assert fields["body.code"]["type"] == "extra_forbidden"
    assert "body.source" in err["message"]


def test_wrong_type_of_source(client: httpx.Client) -> None:
    err = assert_envelope(client.post("/api/v1/traces", json={"source": 42}), 422, "validation_error")
    assert err["detail"][0]["field"] == "body.source"


def test_oversized_source(client: httpx.Client) -> None:
    source = "x = 1\n" * 12_000  # 72,000 bytes > the 64 KiB default
    err = assert_envelope(client.post("/api/v1/traces", json={"source": source}), 413, "source_too_large")
    assert err["detail"] == {"size": 72_000, "limit": 65_536}


def test_oversized_body_declared(client: httpx.Client) -> None:
    err = assert_envelope(client.post("/api/v1/traces", content=b"x" * 600_000), 413, "payload_too_large")
    assert err["detail"]["limit"] == 512 * 1024


def test_oversized_body_chunked_without_length(client: httpx.Client) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"y" * 16_384

    r = client.post("/api/v1/traces", content=chunks(), headers={"content-type": "application/json"})
    assert_envelope(r, 413, "payload_too_large")


def test_limit_above_server_maximum(client: httpx.Client) -> None:
    r = client.post("/api/v1/traces", json={"source": "x = 1", "limits": {"wall_seconds": 1000}})
    err = assert_envelope(r, 422, "validation_error")
    assert err["detail"][0]["field"] == "body.limits.wall_seconds"
    assert "at most" in err["detail"][0]["hint"]


def test_unknown_limit(client: httpx.Client) -> None:
    r = client.post("/api/v1/traces", json={"source": "x = 1", "limits": {"gpus": 8}})
    err = assert_envelope(r, 422, "validation_error")
    assert err["detail"][0]["field"] == "body.limits.gpus"


def test_negative_limit(client: httpx.Client) -> None:
    r = client.post("/api/v1/traces", json={"source": "x = 1", "limits": {"wall_seconds": -1}})
    assert_envelope(r, 422, "validation_error")


def test_a_fractional_cpu_limit_is_told_to_be_whole(client: httpx.Client) -> None:
    r = client.post("/api/v1/traces", json={"source": "x = 1", "limits": {"cpu_seconds": 2.5}})
    err = assert_envelope(r, 422, "validation_error")
    assert err["detail"][0]["field"] == "body.limits.cpu_seconds"
    assert "whole number" in err["detail"][0]["hint"] and "2.5" in err["detail"][0]["hint"]


def test_trace_cap_too_small_for_any_document(client: httpx.Client) -> None:
    # The tracer cannot keep a smaller cap (not even an error document fits): refused up front.
    r = client.post("/api/v1/traces", json={"source": "x = 1", "limits": {"trace_bytes": 100}})
    err = assert_envelope(r, 422, "validation_error")
    assert err["detail"][0]["field"] == "body.limits.trace_bytes" and "1024" in err["detail"][0]["hint"]


def test_a_memory_budget_too_small_for_the_tracer_is_refused(client: httpx.Client) -> None:
    # 1 MiB used to be accepted, and even print(1) then came back as "tracer_crashed".
    r = client.post("/api/v1/traces", json={"source": "print(1)", "limits": {"memory_bytes": 1 << 20}})
    err = assert_envelope(r, 422, "validation_error")
    assert err["detail"][0]["field"] == "body.limits.memory_bytes" and str(32 << 20) in err["detail"][0]["hint"]


def test_unknown_trace_id(client: httpx.Client) -> None:
    err = assert_envelope(client.get("/api/v1/traces/" + "0" * 32), 404, "trace_not_found")
    assert err["detail"] == {"id": "0" * 32}
    assert_envelope(client.get("/api/v1/traces/not-an-id"), 404, "trace_not_found")


def test_unsupported_format(client: httpx.Client) -> None:
    tid = client.post("/api/v1/traces", json={"source": "x = 1\n"}).json()["id"]
    err = assert_envelope(
        client.get(f"/api/v1/traces/{tid}", params={"format": "png"}), 400, "unsupported_format"
    )
    assert err["detail"]["supported"] == ["json", "dot"]


def test_unknown_example(client: httpx.Client) -> None:
    err = assert_envelope(client.get("/api/v1/examples/no_such_example"), 404, "example_not_found")
    assert "chain_rule" in err["detail"]["known"]


def test_unknown_routes(client: httpx.Client) -> None:
    assert_envelope(client.get("/api/v1/nothing"), 404, "not_found")
    assert_envelope(client.post("/api/v1/nothing"), 404, "not_found")
    assert_envelope(client.get("/api/v2/traces"), 404, "not_found")
    assert_envelope(client.get("/no/such/page"), 404, "not_found")
    assert_envelope(client.get("/../../etc/passwd"), 404, "not_found")


def test_wrong_method(client: httpx.Client) -> None:
    assert_envelope(client.get("/api/v1/traces"), 405, "method_not_allowed")
    assert_envelope(client.delete("/api/v1/traces/" + "0" * 32), 405, "method_not_allowed")
    assert_envelope(client.put("/api/v1/examples"), 405, "method_not_allowed")


def test_json_the_parser_gives_up_on_is_malformed_json_with_the_reason(client: httpx.Client) -> None:
    deep = b'{"source": "x = 1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    err = assert_envelope(
        client.post("/api/v1/traces", content=deep, headers={"content-type": "application/json"}), 400, "malformed_json"
    )
    assert "nested too deeply" in err["message"]
    huge = b'{"source": "x = 1", "limits": {"max_nodes": ' + b"9" * 5000 + b"}}"
    err = assert_envelope(
        client.post("/api/v1/traces", content=huge, headers={"content-type": "application/json"}), 400, "malformed_json"
    )
    assert "digits" in err["message"]


def test_a_json_body_sent_as_another_type_says_to_set_the_content_type(client: httpx.Client) -> None:
    r = client.post("/api/v1/traces", content=b'{"source": "x = 1"}', headers={"content-type": "text/plain"})
    err = assert_envelope(r, 422, "validation_error")
    assert "Content-Type: application/json" in err["message"] and "text/plain" in err["message"]
    r = client.post("/api/v1/traces", content=b'{"source": "x = 1"}', headers={"content-type": ""})
    err = assert_envelope(r, 422, "validation_error")
    assert "without a Content-Type header" in err["message"]


def test_head_is_answered_like_get_without_a_body(client: httpx.Client) -> None:
    for path in ("/api/v1/health", "/api/v1/examples", "/api/v1/schema"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
    assert_envelope(client.get("/api/v1/traces/" + "0" * 32), 404, "trace_not_found")
    assert client.head("/api/v1/traces/" + "0" * 32).status_code == 404


@pytest.mark.parametrize(("limits", "given"), [({"max_nodes": True}, "true"), ({"wall_seconds": "5"}, '"5"')])
def test_a_limit_that_is_not_a_number_is_refused_naming_the_field(
    client: httpx.Client, limits: dict[str, object], given: str
) -> None:
    # Lax parsing made `true` a limit of 1 and "5" a limit of 5.
    r = client.post("/api/v1/traces", json={"source": "x = 1", "limits": limits})
    err = assert_envelope(r, 422, "validation_error")
    (name,) = limits
    assert err["detail"][0]["field"] == f"body.limits.{name}" and err["detail"][0]["type"] == "number_type"
    assert f"not {given}" in err["detail"][0]["hint"]


def test_a_not_found_answer_echoes_at_most_the_start_of_a_huge_id(client: httpx.Client) -> None:
    huge = "a" * 60_000
    r = client.get("/api/v1/traces/" + huge)
    err = assert_envelope(r, 404, "trace_not_found")
    assert err["detail"]["id"] == "a" * 64 + "…" and len(r.content) < 2000
    page = client.get(f"/t/{huge}")
    assert page.status_code == 404 and len(page.content) < 5000
