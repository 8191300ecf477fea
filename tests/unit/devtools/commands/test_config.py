"""devtools config: the merged configuration Compose resolves."""

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


def test_config_prints_merged_dev_config(docker: FakeDocker, stack_root: Path, cli) -> None:
    assert cli("config").exit_code == 0
    assert cli("config", "--prod", "--services").exit_code == 0
    assert docker.calls == [
        [*compose_prefix(stack_root, *DEV_FILES), "config"],
        [*compose_prefix(stack_root, "docker-compose.yml"), "config", "--services"],
    ]
