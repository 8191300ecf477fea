"""devtools shell: the terminal handed to `docker compose exec`, and the services it refuses."""

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


def test_shell_hands_the_terminal_to_compose_exec(docker: FakeDocker, stack_root: Path, cli) -> None:
    docker.respond_to(["ps", "--status", "running"], stdout="mlflow\nserving\ntraining\n")
    result = cli("shell", "serving", "--", "id", "-u")
    assert result.exit_code == 0
    # CliRunner's stdin is no terminal, so no TTY is requested (-T).
    assert docker.execs == [[*compose_prefix(stack_root, *DEV_FILES), "exec", "-T", "serving", "id", "-u"]]


def test_shell_without_command_opens_a_shell(docker: FakeDocker, cli) -> None:
    docker.respond_to(["ps", "--status", "running"], stdout="training\n")
    cli("shell", "training")
    assert docker.execs[0][-4:] == [
        "training",
        "sh",
        "-c",
        "command -v bash >/dev/null 2>&1 && exec bash -l || exec sh",
    ]


def test_shell_into_stopped_service_says_how_to_start_it(docker: FakeDocker, cli) -> None:
    docker.respond_to(["ps", "--status", "running"], stdout="mlflow\n")
    result = cli("shell", "serving")
    assert result.exit_code == 8
    assert result.stderr.strip() == "devtools: service 'serving' is not running; start it with 'devtools up serving'"
    assert docker.execs == []


def test_shell_into_unknown_service(docker: FakeDocker, cli) -> None:
    result = cli("shell", "nosuch")
    assert result.exit_code == 4
    assert "unknown service 'nosuch'" in result.stderr
