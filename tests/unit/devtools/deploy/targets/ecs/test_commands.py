"""`devtools deploy render ecs` through the command line, with the process choke point faked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from devtools.cli import _ErrorBoundary
from devtools.commands import deploy
from testing.cli_harness import FakeDocker, compose_prefix, recorded_config


def make_app() -> typer.Typer:
    """The root app's error boundary with only `deploy` registered (devtools/cli.py registers it too)."""
    app = typer.Typer(cls=_ErrorBoundary, rich_markup_mode=None, pretty_exceptions_enable=False, add_completion=False)

    @app.callback()
    def _root() -> None:
        """devtools (test root)."""

    app.add_typer(deploy.app, name="deploy")
    return app


def invoke(*args: str) -> Any:
    return CliRunner().invoke(make_app(), ["deploy", "render", "ecs", *args])


def is_git(argv: list[str]) -> bool:
    return argv[:1] == ["git"]


def is_rev_parse(argv: list[str]) -> bool:
    return is_git(argv) and "rev-parse" in argv


@pytest.fixture
def prod(docker: FakeDocker, stack_root: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "prod"))
    (stack_root / ".git").mkdir()
    docker.respond(is_rev_parse, stdout="abc1234\n")
    docker.respond(lambda argv: argv[:1] == ["git"] and "status" in argv)  # a clean tree
    return docker


def read(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_renders_the_prod_config_tagged_with_the_git_revision(
    prod: FakeDocker, stack_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = invoke("--out", str(out), "--registry", "r.example")
    assert result.exit_code == 0, result.stderr
    assert [argv for argv in prod.calls if is_git(argv)] == [
        ["git", "-C", str(stack_root), "rev-parse", "--short", "HEAD"],
        ["git", "-C", str(stack_root), "status", "--porcelain", "--untracked-files=no"],
    ]
    assert [*compose_prefix(stack_root, "docker-compose.yml"), "--profile", "*", "config"] in prod.calls
    lines = result.stdout.splitlines()
    assert len(lines) == 12  # eleven files (the recorded config has no profiled job), one summary
    assert sorted(Path(line).name for line in lines[:-1]) == sorted(path.name for path in out.iterdir())
    assert lines[-1].startswith("11 documents in ")
    assert "services: mlflow, serving; run-task definitions: mlflow-access, seed, training" in lines[-1]
    placeholders = lines[-1].split("placeholders to fill: ")[1].split()
    assert "<execution-role-arn>" in placeholders and "<artifact-bucket>" in placeholders
    container = read(out / "serving.task-definition.json")["containerDefinitions"][0]
    assert container["image"] == "r.example/mlstack/serving:abc1234"


def test_an_explicit_tag_wins_and_git_is_not_asked(prod: FakeDocker, tmp_path: Path) -> None:
    result = invoke("--out", str(tmp_path), "--tag", "v1.2.3")
    assert result.exit_code == 0, result.stderr
    assert not [argv for argv in prod.calls if is_git(argv)]
    image = read(tmp_path / "mlflow.task-definition.json")["containerDefinitions"][0]["image"]
    assert image == "<registry>/mlstack/mlflow:v1.2.3"


def test_default_out_is_build_ecs_in_the_repository(prod: FakeDocker, stack_root: Path) -> None:
    assert invoke().exit_code == 0
    assert (stack_root / "build" / "ecs" / "serving.scaling-policy.json").is_file()


def test_without_a_git_revision_it_asks_for_tag(docker: FakeDocker, stack_root: Path, tmp_path: Path) -> None:
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "prod"))
    (stack_root / ".git").mkdir()
    docker.respond(is_git, stderr="fatal: ambiguous argument 'HEAD': unknown revision\n", returncode=128)
    result = invoke("--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr == (
        "devtools: cannot tag images by git revision (fatal: ambiguous argument 'HEAD': unknown revision); pass --tag\n"
    )


def test_outside_a_checkout_it_asks_for_tag_without_running_git(
    docker: FakeDocker, stack_root: Path, tmp_path: Path
) -> None:
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "prod"))
    result = invoke("--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"devtools: cannot tag images by git revision ({stack_root} is not in a git checkout); pass --tag\n"
    )
    assert not [argv for argv in docker.calls if is_git(argv)]


def test_a_dirty_checkout_renders_the_dirty_tag_build_gives(prod: FakeDocker, tmp_path: Path) -> None:
    prod.respond(lambda argv: is_git(argv) and "status" in argv, stdout=" M services/serving/app.py\n")
    result = invoke("--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    image = read(tmp_path / "serving.task-definition.json")["containerDefinitions"][0]["image"]
    assert image == "<registry>/mlstack/serving:abc1234-dirty"


def test_a_broken_compose_file_fails_in_one_line_and_writes_nothing(
    prod: FakeDocker, stack_root: Path, tmp_path: Path
) -> None:
    config = yaml.safe_load(recorded_config(stack_root, "prod"))
    config["services"]["mlflow"].pop("x-deploy")  # no secrets declaration for the plaintext value below
    environment = config["services"]["mlflow"]["environment"]
    for name in [name for name in environment if name.endswith("_FILE")]:
        environment.pop(name)  # Compose's secret files: their own refusal (test_workload)
    config["services"]["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"] = "postgresql://mlflow:hunter2@db/mlflow"
    prod.respond_to(["config"], stdout=yaml.safe_dump(config))
    out = tmp_path / "out"
    result = invoke("--out", str(out), "--tag", "t")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "devtools: mlflow: environment variable MLFLOW_BACKEND_STORE_URI looks like a secret (its value is a URI "
        "with a password); declare it under x-deploy.secrets"
    )
    assert "hunter2" not in result.stderr + result.stdout
    assert not out.exists()


@pytest.mark.parametrize(
    ("service", "change", "message"),
    [
        ("serving", {"image": None}, "devtools: serving: no image"),
        (
            "serving",
            {"x-deploy": {"cpu": 512, "memory": 512}},
            "devtools: serving: task size: cpu 512 with memory 512 MiB",
        ),
        ("mlflow", {"stop_grace_period": "3m0s"}, "devtools: mlflow: stop_grace_period 3m0s is longer than ECS allows"),
    ],
)
def test_broken_compose_files_exit_non_zero(
    prod: FakeDocker, stack_root: Path, tmp_path: Path, service: str, change: dict[str, Any], message: str
) -> None:
    config = yaml.safe_load(recorded_config(stack_root, "prod"))
    config["services"][service].update(change)
    prod.respond_to(["config"], stdout=yaml.safe_dump(config))
    result = invoke("--out", str(tmp_path / "out"), "--tag", "t")
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


def test_bad_option_values_are_usage_errors(prod: FakeDocker, tmp_path: Path) -> None:
    result = invoke("--out", str(tmp_path), "--target-group-arn", "arn:aws:elasticloadbalancing:x")
    assert result.exit_code == 2
    assert "expected SERVICE=ARN" in result.stderr
    assert invoke("--arch", "sparc").exit_code == 2


def test_env_file_feeds_settings_and_compose_interpolation(
    prod: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text(
        "DEVTOOLS_ECS_REGISTRY=123456789012.dkr.ecr.eu-west-1.amazonaws.com\n"
        "DEVTOOLS_ECS_REGION=eu-west-1\n"
        "DEVTOOLS_ECS_SUBNETS=subnet-a,subnet-b\n"
        "DEVTOOLS_ECS_MLFLOW_TRACKING_URI=http://mlflow.internal\n"
    )
    monkeypatch.setenv("DEVTOOLS_ECS_REGION", "us-east-2")  # the shell wins, as in Compose
    out = tmp_path / "out"
    result = invoke("--out", str(out), "--env-file", str(env_file), "--subnet", "subnet-z")
    assert result.exit_code == 0, result.stderr
    config_env = next(env for argv, env in zip(prod.calls, prod.envs, strict=True) if argv[-1] == "config")
    assert config_env["DEVTOOLS_ECS_MLFLOW_TRACKING_URI"] == "http://mlflow.internal"
    assert "DEVTOOLS_ECS_REGION" not in config_env
    task = read(out / "serving.task-definition.json")
    container = task["containerDefinitions"][0]
    assert container["image"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlstack/serving:abc1234"
    assert container["logConfiguration"]["options"]["awslogs-region"] == "us-east-2"
    subnets = read(out / "serving.service.json")["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
    assert subnets == ["subnet-z"]


def test_missing_env_file_is_a_usage_error(prod: FakeDocker, tmp_path: Path) -> None:
    result = invoke("--env-file", str(tmp_path / "nope.env"))
    assert result.exit_code == 2
    assert result.stderr.startswith("devtools: cannot read --env-file")


def test_the_command_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, devtools.commands.deploy; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('botocore', 'yaml') "
        "or m.startswith('devtools.deploy.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # The target registry and each target's commands module (typer, an enum): never its renderer.
    assert done.stdout.strip() == str(
        [
            "devtools.deploy.target",
            "devtools.deploy.targets",
            "devtools.deploy.targets.ecs",
            "devtools.deploy.targets.ecs.arch",
            "devtools.deploy.targets.ecs.commands",
        ]
    )
