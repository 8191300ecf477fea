from __future__ import annotations

from pathlib import Path

import pytest

from testing.cli_harness import FakeDocker, compose_prefix, recorded_config


@pytest.fixture(autouse=True)
def _allowed(docker: FakeDocker) -> None:
    """`up` builds what is stale and starts the stack: both succeed silently here."""
    docker.allow(["build"], ["up"])


DEV_FILES = ("docker-compose.yml", "docker-compose.dev.yml")
UP = ["up", "--detach", "--wait", "--wait-timeout", "300"]


def test_first_up_builds_every_image_then_starts_and_prints_urls(docker: FakeDocker, stack_root: Path, cli) -> None:
    result = cli("up")
    assert result.exit_code == 0, result.output
    prefix = compose_prefix(stack_root, *DEV_FILES)
    assert docker.changing_calls() == [
        [*prefix, "config"],
        [*prefix, "--progress", "json", "build", "base", "mlflow", "serving", "training"],
        [*prefix, *UP],
    ]
    assert "MLflow UI" in result.stdout and "http://127.0.0.1:5000/" in result.stdout
    assert "http://127.0.0.1:8080/docs" in result.stdout


def test_dev_images_follow_host_ids_and_root_maps_to_1000(docker: FakeDocker, cli, monkeypatch) -> None:
    monkeypatch.setattr("os.getuid", lambda: 0)
    monkeypatch.setattr("os.getgid", lambda: 0)
    cli("up")
    assert docker.envs[-1]["DEVTOOLS_UID"] == "1000" and docker.envs[-1]["DEVTOOLS_GID"] == "1000"
    monkeypatch.setattr("os.getuid", lambda: 1234)
    monkeypatch.setattr("os.getgid", lambda: 99)
    cli("up")
    assert docker.envs[-1]["DEVTOOLS_UID"] == "1234" and docker.envs[-1]["DEVTOOLS_GID"] == "99"


def test_second_up_builds_nothing(docker: FakeDocker, cli) -> None:
    cli("up")
    docker.calls.clear()
    assert cli("up").exit_code == 0
    assert [args[0] for args in docker.compose_calls()] == ["config", "up"]


def test_dependency_change_rebuilds_only_that_service(docker: FakeDocker, stack_root: Path, cli) -> None:
    cli("up")
    docker.calls.clear()
    lock = stack_root / "locks/serving.linux-amd64.txt"
    lock.write_text(lock.read_text() + "six==1.17.0 --hash=sha256:00\n")
    cli("up")
    assert docker.compose_calls()[1] == ["build", "serving"]


def test_source_edit_does_not_rebuild_bind_mounted_dev_image(docker: FakeDocker, stack_root: Path, cli) -> None:
    cli("up")
    docker.calls.clear()
    (stack_root / "services/serving/app.py").write_text("# edited\n")
    cli("up")
    assert [args[0] for args in docker.compose_calls()] == ["config", "up"]


def test_touch_without_content_change_rebuilds_nothing(docker: FakeDocker, stack_root: Path, cli) -> None:
    cli("up")
    docker.calls.clear()
    dockerfile = stack_root / "docker/serving/Dockerfile"
    dockerfile.write_text(dockerfile.read_text())
    cli("up")
    assert [args[0] for args in docker.compose_calls()] == ["config", "up"]


def test_base_change_rebuilds_every_image_built_on_it(docker: FakeDocker, stack_root: Path, cli) -> None:
    cli("up")
    docker.calls.clear()
    (stack_root / "docker/base/Dockerfile").write_text("FROM python:3.11-slim AS base\n")
    cli("up")
    assert docker.compose_calls()[1] == ["build", "base", "mlflow", "serving", "training"]


def test_up_some_services_checks_their_dependencies_too(docker: FakeDocker, cli) -> None:
    result = cli("up", "serving", "--wait-timeout", "30")
    assert result.exit_code == 0
    # serving waits for the seed job, which runs in the training image.
    assert docker.compose_calls()[1] == ["build", "base", "mlflow", "serving", "training"]
    assert docker.compose_calls()[2] == ["up", "--detach", "--wait", "--wait-timeout", "30", "serving"]
    assert "MLflow UI" in result.stdout  # mlflow starts as a dependency of serving


def test_no_build_never_builds(docker: FakeDocker, cli) -> None:
    assert cli("up", "--no-build").exit_code == 0
    assert docker.compose_calls() == [["config"], [*UP, "--no-build"]]


def test_unknown_service_fails_before_starting_anything(docker: FakeDocker, cli) -> None:
    result = cli("up", "nosuch")
    assert result.exit_code == 4
    assert "unknown service 'nosuch'" in result.stderr
    assert [args[0] for args in docker.compose_calls()] == ["config"]


def test_project_name_comes_from_compose_project_name(docker: FakeDocker, stack_root: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "isolated")
    cli("up", "--no-build")
    assert docker.calls[0][:6] == compose_prefix(stack_root, name="isolated")


def test_wait_timeout_must_be_positive(docker: FakeDocker, cli) -> None:
    result = cli("up", "--wait-timeout", "0")
    assert result.exit_code == 2
    assert docker.calls == []


def test_up_says_in_one_line_that_mlflow_migrated_its_store(docker: FakeDocker, cli) -> None:
    said = "migrated the store from schema revision 1b5f0d9ad7c1 to dc11669786a5 (MLflow 3.17.2); the store"
    docker.respond_to(["logs"], stdout=f"2026/12/07 mlflow-store: {said} before it is kept at /mlflow/x.backup\n")
    result = cli("up")
    assert result.exit_code == 0, result.output
    assert f"mlflow: {said} before it is kept at /mlflow/x.backup\n" in result.stdout
    (logs,) = [args for args in docker.compose_calls(logs=True) if args[0] == "logs"]
    assert logs[:3] == ["logs", "--no-log-prefix", "--since"] and logs[-1] == "mlflow"


def test_a_store_from_a_newer_mlflow_fails_up_with_mlflow_s_reason(docker: FakeDocker, cli) -> None:
    refused = (
        "the store is at schema revision ffffffffffff, which MLflow 3.17.2 does not know: a newer MLflow wrote it; "
        "it is not touched (run the image of that MLflow, or restore a backup of this one)"
    )
    docker.respond_to(
        ["up"], stderr="dependency failed to start: container mlstack-mlflow-1 exited (3)\n", returncode=1
    )
    docker.respond_to(["logs"], stdout=f"mlflow-store: {refused}\n")
    result = cli("up")
    assert result.exit_code == 15
    assert result.output.strip().splitlines() == [f"devtools: mlflow: {refused}"]


def test_auth_is_chosen_once_and_kept_until_no_auth(docker: FakeDocker, stack_root: Path, cli) -> None:
    """`up --auth` merges the auth override, makes the secrets, and is remembered: a later `up` (and every
    other command's project) keeps it until `--no-auth`."""
    docker.respond(
        lambda argv: "config" in argv and str(stack_root / "docker-compose.auth.yml") in argv,
        stdout=recorded_config(stack_root, "auth"),
    )
    with_auth = compose_prefix(stack_root, *DEV_FILES, "docker-compose.auth.yml")
    result = cli("up", "--auth")
    assert result.exit_code == 0, result.output
    assert docker.changing_calls()[-1] == [*with_auth, *UP]
    assert "MLflow authentication is on" in result.stdout
    secrets = stack_root / ".devtools" / "secrets"
    assert (secrets / "mlflow-admin-password").is_file() and (secrets / "mlflow-serving-password").is_file()
    docker.calls.clear()
    cli("up")
    assert docker.changing_calls()[-1] == [*with_auth, *UP]
    docker.calls.clear()
    result = cli("up", "--no-auth")
    assert docker.changing_calls()[-1] == [*compose_prefix(stack_root, *DEV_FILES), *UP]
    assert "MLflow authentication" not in result.stdout


def test_prod_cannot_turn_authentication_off(docker: FakeDocker, cli) -> None:
    result = cli("up", "--prod", "--no-auth")
    assert result.exit_code == 2 and "--prod always runs with MLflow authentication" in result.stderr
    assert docker.changing_calls() == []


def test_auth_on_a_remote_engine_is_refused(docker: FakeDocker, cli, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "ssh://me@gpu-box")
    monkeypatch.setenv("DEVTOOLS_REMOTE", "1")
    result = cli("up", "--auth")
    assert result.exit_code == 2 and "--auth needs a local engine" in result.stderr
    assert docker.changing_calls() == []
