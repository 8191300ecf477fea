"""devtools logs: services followed, and an unknown service in one line."""

from __future__ import annotations

import pytest

from testing.cli_harness import FakeDocker


@pytest.fixture(autouse=True)
def _allowed(docker: FakeDocker) -> None:
    """The commands under test succeed silently unless a test scripts another answer."""
    docker.allow(["down"], ["logs"], ["ps"], ["build"])
    docker.respond(lambda argv: argv[:1] == ["git"])  # a checkout without a revision: tag latest


def test_logs_follow_some_services(docker: FakeDocker, cli) -> None:
    assert cli("logs", "serving", "mlflow", "-f").exit_code == 0
    assert docker.compose_calls(logs=True) == [["logs", "--tail", "all", "--follow", "serving", "mlflow"]]


def test_logs_unknown_service_maps_compose_error(docker: FakeDocker, cli) -> None:
    docker.respond_to(["logs"], stderr="no such service: nosuch\n", returncode=1)
    result = cli("logs", "nosuch")
    assert result.exit_code == 4
    assert result.stderr.strip().startswith("devtools: unknown service 'nosuch'")
