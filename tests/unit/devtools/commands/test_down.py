"""devtools down: the dev or the prod stack, with or without its volumes."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.cli_harness import FakeDocker, compose_prefix


@pytest.fixture(autouse=True)
def _allowed(docker: FakeDocker) -> None:
    """The commands under test succeed silently unless a test scripts another answer."""
    docker.allow(["down"], ["logs"], ["ps"], ["build"])
    docker.respond(lambda argv: argv[:1] == ["git"])  # a checkout without a revision: tag latest


DEV_FILES = ("docker-compose.yml", "docker-compose.dev.yml")


def test_down_and_down_volumes(docker: FakeDocker, stack_root: Path, cli) -> None:
    assert cli("down").exit_code == 0
    assert cli("down", "-v").exit_code == 0
    # Every profile: a container of a service whose profile is off now (the accounts job after
    # `up --no-auth`) is neither active nor an orphan to Compose.
    prefix = [*compose_prefix(stack_root, *DEV_FILES), "--profile", "*"]
    assert docker.calls == [[*prefix, "down", "--remove-orphans"], [*prefix, "down", "--remove-orphans", "--volumes"]]


def test_down_prod_uses_the_production_file_alone(docker: FakeDocker, stack_root: Path, cli) -> None:
    assert cli("down", "--prod", "-v").exit_code == 0
    assert docker.calls == [
        [*compose_prefix(stack_root, "docker-compose.yml"), "--profile", "*", "down", "--remove-orphans", "--volumes"]
    ]
