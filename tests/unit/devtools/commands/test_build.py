"""devtools build: the production file alone for --target prod, an unknown target refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.cli_harness import FakeDocker, compose_prefix, recorded_config


@pytest.fixture(autouse=True)
def _allowed(docker: FakeDocker) -> None:
    """The commands under test succeed silently unless a test scripts another answer."""
    docker.allow(["down"], ["logs"], ["ps"], ["build"])
    docker.respond(lambda argv: argv[:1] == ["git"])  # a checkout without a revision: tag latest


def test_build_prod_uses_the_production_file_alone_base_first(docker: FakeDocker, stack_root: Path, cli) -> None:
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "prod"))
    result = cli("build", "--target", "prod", "serving")
    assert result.exit_code == 0
    assert docker.calls[1] == [
        *compose_prefix(stack_root, "docker-compose.yml"),
        "--progress",
        "json",
        "build",
        "base",
        "serving",
    ]


def test_build_rejects_unknown_target(docker: FakeDocker, cli) -> None:
    result = cli("build", "--target", "staging")
    assert result.exit_code == 2
    assert docker.calls == []
