"""devtools ps: state, health, ports, and where each image came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing.cli_harness import FIXTURES, FakeDocker


@pytest.fixture(autouse=True)
def _allowed(docker: FakeDocker) -> None:
    """The commands under test succeed silently unless a test scripts another answer."""
    docker.allow(["down"], ["logs"], ["ps"], ["build"])
    docker.respond(lambda argv: argv[:1] == ["git"])  # a checkout without a revision: tag latest


def test_ps_shows_service_state_health_ports(docker: FakeDocker, cli) -> None:
    docker.respond_to(["ps"], stdout=(FIXTURES / "compose_ps.jsonl").read_text())
    result = cli("ps")
    assert result.exit_code == 0
    assert docker.compose_calls() == [["ps", "--all", "--format", "json"]]
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SERVICE", "STATE", "HEALTH", "PORTS", "IMAGE"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["mlflow"] == ["running", "healthy", "127.0.0.1:5000->5000", "-"]
    assert rows["serving"] == ["running", "healthy", "127.0.0.1:8080->8080", "-"]
    assert rows["base"][:2] == ["exited", "(0)"]


def test_ps_says_which_images_were_pulled_and_which_built_here(docker: FakeDocker, cli, stack_root: Path) -> None:
    state = stack_root / ".devtools" / "build-state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    prefix = "mlstack:docker-compose.yml+docker-compose.dev.yml:"
    pulled = f"127.0.0.1:5001/mlstack/serving@sha256:{'ab' * 32}"
    sources = {f"{prefix}mlstack/serving:dev": pulled, f"{prefix}mlstack/mlflow:dev": "built here"}
    state.write_text(json.dumps({"fingerprints": {}, "sources": sources}))
    docker.respond_to(["ps"], stdout=(FIXTURES / "compose_ps.jsonl").read_text())
    lines = cli("ps").stdout.splitlines()
    by_service = {line.split()[0]: line for line in lines[1:]}
    assert by_service["serving"].endswith(f"pulled from 127.0.0.1:5001 (sha256:{'ab' * 6})")
    assert by_service["mlflow"].endswith("built here")


def test_ps_with_nothing_running_says_how_to_start(docker: FakeDocker, cli) -> None:
    result = cli("ps")
    assert result.exit_code == 0
    assert "devtools up" in result.stdout
