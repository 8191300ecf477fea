from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing.cli_harness import FIXTURES, FakeDocker, compose_prefix, recorded_config


@pytest.fixture(autouse=True)
def _allowed(docker: FakeDocker) -> None:
    """The commands under test succeed silently unless a test scripts another answer."""
    docker.allow(["down"], ["logs"], ["ps"], ["build"])
    docker.respond(lambda argv: argv[:1] == ["git"])  # a checkout without a revision: tag latest


DEV_FILES = ("docker-compose.yml", "docker-compose.dev.yml")


def test_down_and_down_volumes(docker: FakeDocker, stack_root: Path, cli) -> None:
    assert cli("down").exit_code == 0
    assert cli("down", "-v").exit_code == 0
    prefix = compose_prefix(stack_root, *DEV_FILES)
    assert docker.calls == [[*prefix, "down", "--remove-orphans"], [*prefix, "down", "--remove-orphans", "--volumes"]]


def test_down_prod_uses_the_production_file_alone(docker: FakeDocker, stack_root: Path, cli) -> None:
    assert cli("down", "--prod", "-v").exit_code == 0
    assert docker.calls == [
        [*compose_prefix(stack_root, "docker-compose.yml"), "down", "--remove-orphans", "--volumes"]
    ]


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


def test_logs_follow_some_services(docker: FakeDocker, cli) -> None:
    assert cli("logs", "serving", "mlflow", "-f").exit_code == 0
    assert docker.compose_calls() == [["logs", "--tail", "all", "--follow", "serving", "mlflow"]]


def test_logs_unknown_service_maps_compose_error(docker: FakeDocker, cli) -> None:
    docker.respond_to(["logs"], stderr="no such service: nosuch\n", returncode=1)
    result = cli("logs", "nosuch")
    assert result.exit_code == 4
    assert result.stderr.strip().startswith("devtools: unknown service 'nosuch'")


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


def test_config_prints_merged_dev_config(docker: FakeDocker, stack_root: Path, cli) -> None:
    assert cli("config").exit_code == 0
    assert cli("config", "--prod", "--services").exit_code == 0
    assert docker.calls == [
        [*compose_prefix(stack_root, *DEV_FILES), "config"],
        [*compose_prefix(stack_root, "docker-compose.yml"), "config", "--services"],
    ]
