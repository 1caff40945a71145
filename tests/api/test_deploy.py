"""docker-compose.yml and Dockerfile, validated by parsing (no Docker engine runs here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from gradtrace.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict:  # type: ignore[type-arg]
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(doc, dict)
    return doc


def test_one_service_with_the_sandbox_capabilities_stated() -> None:
    services = compose()["services"]
    assert list(services) == ["gradtrace"]
    svc = services["gradtrace"]
    assert svc["build"] == "."
    assert svc["cap_drop"] == ["ALL"]
    assert {"SYS_ADMIN", "SETUID", "SETGID", "KILL"} <= set(svc["cap_add"])
    opts = svc["security_opt"]
    assert any(o.startswith("apparmor=") for o in opts)
    assert "no-new-privileges:true" in opts
    assert any(t.startswith("/tmp:") and "size=" in t for t in svc["tmpfs"])
    assert svc["read_only"] is True and svc["init"] is True
    assert svc["ulimits"]["core"] == 0
    assert "/data" in svc["volumes"][0] and "gradtrace-data" in compose()["volumes"]
    assert "/api/v1/health" in " ".join(svc["healthcheck"]["test"])


def test_compose_environment_names_real_settings() -> None:
    env = compose()["services"]["gradtrace"]["environment"]
    fields = set(Settings.model_fields)
    from gradtrace.sandbox.limits import SandboxLimits

    sandbox_fields = set(SandboxLimits.model_fields)
    for name, value in env.items():
        assert name.startswith("GRADTRACE_"), name
        key = name.removeprefix("GRADTRACE_").lower()
        if key.startswith("sandbox_"):
            assert key.removeprefix("sandbox_") in sandbox_fields, name
        else:
            assert key in fields, name
        assert value is not None
    assert env["GRADTRACE_ALLOW_WEAKER_SANDBOX"] == "false"


def test_dockerfile_pins_torch_and_serves() -> None:
    text = (REPO / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms[-1].startswith("python:3.11")
    torch_specs = re.findall(r"torch[=<>~!]=?[^\s\"']*", text)
    assert torch_specs and all(spec == "torch==2.13.0" for spec in torch_specs), torch_specs
    assert "download.pytorch.org/whl/cpu" in text
    assert re.search(r'^CMD \["gradtrace", "serve"', text, re.M)
    assert "EXPOSE 8000" in text and "/api/v1/health" in text
    # Every COPY source exists in the repo; the README is copied because pyproject.toml declares it
    # as the package's readme (pip needs it), whoever writes it.
    readme = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["readme"]
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M):
        *sources, _dest = line.split()
        for src in sources:
            assert (REPO / src).exists() or src == readme, src
