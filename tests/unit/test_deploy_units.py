"""devtools.deploy building blocks: durations, sizes, the Fargate table, secrets, settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.deploy import fargate, units
from devtools.deploy.arch import Arch
from devtools.deploy.secrets import is_secret_reference, secret_reason
from devtools.deploy.settings import Options, read_env_file, resolve
from devtools.errors import DevtoolsError, ExitCode


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10s", 10), ("1m0s", 60), ("1m30s", 90), ("1h0m0s", 3600), ("500ms", 0.5), ("2.5s", 2.5), (15, 15), ("7", 7)],
)
def test_compose_durations_in_seconds(text: object, expected: float) -> None:
    assert units.seconds(text) == expected


@pytest.mark.parametrize("text", ["", "ten seconds", "10x", "1m 30s", True])
def test_malformed_durations_are_rejected(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        units.seconds(text)


def test_whole_seconds_round_up() -> None:
    assert units.whole_seconds("2500ms") == 3


@pytest.mark.parametrize(("value", "expected"), [(1024, 1024), ("512", 512), ("1 vCPU", 1024), ("0.25 vcpu", 256)])
def test_cpu_units(value: object, expected: int) -> None:
    assert units.cpu_units(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(2048, 2048), ("2048", 2048), ("2GB", 2048), ("2 GiB", 2048), ("512MiB", 512)]
)
def test_memory_in_mib(value: object, expected: int) -> None:
    assert units.mebibytes(value) == expected


def test_compose_limits_convert_to_ecs_units() -> None:
    assert units.vcpus_to_units("0.5") == 512
    assert units.compose_bytes_to_mib("536870912") == 512
    assert units.compose_bytes_to_mib("1g") == 1024


@pytest.mark.parametrize(("cpu", "memory"), [(256, 512), (256, 2048), (512, 4096), (1024, 8192), (4096, 30720)])
def test_valid_fargate_sizes(cpu: int, memory: int) -> None:
    fargate.check(cpu, memory)


@pytest.mark.parametrize(
    ("cpu", "memory", "message"),
    [
        (256, 4096, "cpu 256 allows 512, 1024, 2048"),
        (1024, 1024, "cpu 1024 allows 2048-8192 in steps of 1024"),
        (2048, 4500, "2048"),
        (300, 1024, "not a Fargate size"),
    ],
)
def test_invalid_fargate_sizes_name_what_is_allowed(cpu: int, memory: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fargate.check(cpu, memory)


def test_smallest_fitting_fargate_size() -> None:
    assert fargate.smallest_fitting(100, 700) == (256, 1024)
    assert fargate.smallest_fitting(512, 3000) == (512, 3072)
    assert fargate.smallest_fitting(1024, 9000) == (2048, 9216)
    with pytest.raises(ValueError):
        fargate.smallest_fitting(16384, 200_000)


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("MLFLOW_TRACKING_URI", "http://mlflow:5000", False),
        ("MODEL_NAME", "digits-classifier", False),
        ("MLFLOW_BACKEND_STORE_URI", "postgresql://mlflow:hunter2@db.internal:5432/mlflow", True),
        ("DB", "postgresql+psycopg://u:p@h/db", True),
        ("DB", "postgresql://u@h/db", False),
        ("MLFLOW_FLASK_SERVER_SECRET_KEY", "x", True),
        ("AWS_ACCESS_KEY_ID", "AKIA", True),
        ("GITHUB_TOKEN", "", True),
        ("db_password", "x", True),
        ("SOME_CREDENTIALS", "x", True),
    ],
)
def test_secret_detection(name: str, value: str, secret: bool) -> None:
    assert (secret_reason(name, value) is not None) is secret


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:mlstack/db-AbCdEf", True),
        ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:mlstack/db:password::", True),
        ("arn:aws:ssm:eu-west-1:123456789012:parameter/mlstack/db", True),
        ("arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/x", True),
        ("arn:aws:secretsmanager:<region>:<account-id>:secret:mlstack/db", True),
        ("postgresql://u:p@h/db", False),
        ("hunter2", False),
        ("arn:aws:s3:::bucket", False),
        ("", False),
    ],
)
def test_secret_references(value: str, ok: bool) -> None:
    assert is_secret_reference(value) is ok


def test_settings_options_win_over_environment_and_placeholders_fill_the_rest() -> None:
    env = {
        "DEVTOOLS_ECS_REGISTRY": "env.example/r",
        "AWS_REGION": "eu-west-1",
        "DEVTOOLS_ECS_SUBNETS": "subnet-a, subnet-b",
    }
    settings = resolve(Options(registry="opt.example/r/", arch=Arch.arm64), env, project="mlstack", tag="abc1234")
    assert settings.registry == "opt.example/r"
    assert settings.region == "eu-west-1"
    assert settings.subnets == ("subnet-a", "subnet-b")
    assert settings.arch.ecs == "ARM64"
    assert settings.cluster == "mlstack"
    assert settings.execution_role_arn == "<execution-role-arn>"
    assert settings.security_groups == ("<security-group-id>",)
    assert settings.target_group_arn("serving") == "<target-group-arn:serving>"


def test_task_roles_per_service() -> None:
    env = {"DEVTOOLS_ECS_TASK_ROLE_ARN_MLFLOW": "arn:aws:iam::1:role/mlflow"}
    settings = resolve(
        Options(task_role_arns=["arn:aws:iam::1:role/default", "serving=arn:aws:iam::1:role/serving"]),
        env,
        project="mlstack",
        tag="t",
    )
    assert settings.task_role_arn("serving", None) == "arn:aws:iam::1:role/serving"
    assert settings.task_role_arn("mlflow", None) == "arn:aws:iam::1:role/mlflow"
    assert settings.task_role_arn("training", None) == "arn:aws:iam::1:role/default"
    assert settings.task_role_arn("seed", "arn:aws:iam::1:role/from-x-ecs") == "arn:aws:iam::1:role/from-x-ecs"


@pytest.mark.parametrize(
    "options",
    [
        Options(task_role_arns=["=arn"]),
        Options(target_group_arns=["arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/x/y"]),
        Options(tag="bad tag"),
        Options(registry="https://example.com"),
    ],
)
def test_bad_options_are_usage_errors(options: Options) -> None:
    with pytest.raises(DevtoolsError) as caught:
        resolve(options, {}, project="mlstack", tag=options.tag or "t")
    assert caught.value.code is ExitCode.USAGE


def test_env_file(tmp_path: Path) -> None:
    path = tmp_path / "prod.env"
    path.write_text(
        "# comment\n\nexport DEVTOOLS_ECS_REGISTRY=r.example\nDEVTOOLS_ECS_REGION = 'eu-west-1'\nA=\"b c\"\n"
    )
    assert read_env_file(path) == {"DEVTOOLS_ECS_REGISTRY": "r.example", "DEVTOOLS_ECS_REGION": "eu-west-1", "A": "b c"}
    path.write_text("not a pair\n")
    with pytest.raises(DevtoolsError, match=r"prod.env:1: expected KEY=VALUE"):
        read_env_file(path)
    with pytest.raises(DevtoolsError, match="cannot read --env-file"):
        read_env_file(tmp_path / "missing.env")
