"""devtools.deploy building blocks: durations, sizes, the Fargate table, secrets, ARNs, settings."""

from __future__ import annotations

from dataclasses import fields

import pytest

from devtools.deploy import units
from devtools.deploy.secrets import secret_reason
from devtools.deploy.targets.ecs import arns, fargate
from devtools.deploy.targets.ecs.arch import Arch
from devtools.deploy.targets.ecs.secret_arns import is_secret_reference
from devtools.deploy.targets.ecs.settings import ARN_SETTINGS, Options, resolve
from devtools.errors import DevtoolsError, ExitCode

ROLE = "arn:aws:iam::123456789012:role"
TARGET_GROUP = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup"


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
    settings = resolve(Options(registry="opt.example/r/", arch=Arch.ARM64), env, project="mlstack", tag="abc1234")
    assert settings.registry == "opt.example/r"
    assert settings.region == "eu-west-1"
    assert settings.subnets == ("subnet-a", "subnet-b")
    assert settings.arch.ecs == "ARM64"
    assert settings.cluster == "mlstack"
    assert settings.execution_role_arn == "<execution-role-arn>"
    assert settings.security_groups == ("<security-group-id>",)
    assert settings.target_group_arn("serving") == "<target-group-arn:serving>"


def test_task_roles_per_service() -> None:
    env = {"DEVTOOLS_ECS_TASK_ROLE_ARN_MLFLOW": f"{ROLE}/mlflow"}
    settings = resolve(
        Options(task_role_arns=[f"{ROLE}/default", f"serving={ROLE}/serving"]),
        env,
        project="mlstack",
        tag="t",
    )
    assert settings.task_role_arn("serving", None) == f"{ROLE}/serving"
    assert settings.task_role_arn("mlflow", None) == f"{ROLE}/mlflow"
    assert settings.task_role_arn("training", None) == f"{ROLE}/default"
    assert settings.task_role_arn("seed", f"{ROLE}/from-x-ecs") == f"{ROLE}/from-x-ecs"


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


# --- ARN shapes: one table, setting -> the ARN it takes ---------------------------------------------------


def test_every_arn_valued_option_is_in_the_table() -> None:
    arn_options = {field.name.removesuffix("s").replace("_", "-") for field in fields(Options) if "arn" in field.name}
    assert arn_options == set(ARN_SETTINGS)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (f"{ROLE}/mlstack-app", True),
        ("arn:aws-cn:iam::123456789012:role/service-role/mlstack+ecs=exec,1.@_-", True),
        ("arn:aws-us-gov:iam::123456789012:role/a/b/c", True),
        ("arn:aws:iam::<account-id>:role/mlstack-app", True),  # a field left open, as the Compose file does
        (f"{ROLE}/" + "r" * 64, True),
        (f"{ROLE}/" + "r" * 65, False),  # role names are at most 64 characters
        ("arn:aws:iam::12345678901:role/mlstack-app", False),  # an 11-digit account
        (f"{ROLE}/mlstack-app            # no policies", False),  # the inline comment kept as a value
        (f"{ROLE}/mlstack-app#x", False),
        (f"{ROLE}/", False),
        ("arn:aws:iam::123456789012:user/mlstack-app", False),
        ("arn:aws:iam:eu-west-1:123456789012:role/mlstack-app", False),  # IAM ARNs have no region
        ("arn:aws-iso:iam::123456789012:role/mlstack-app", False),
        ("arn:aws:sts::123456789012:assumed-role/mlstack-app/session", False),
        (f" {ROLE}/mlstack-app", False),
    ],
)
def test_iam_role_arn_shape(value: str, ok: bool) -> None:
    assert arns.IAM_ROLE.matches(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (f"{TARGET_GROUP}/mlstack-serving/0123456789abcdef", True),
        ("arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:targetgroup/a/0123456789abcdef", True),
        ("arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:targetgroup/T1/fedcba9876543210", True),
        ("arn:aws:elasticloadbalancing:<region>:<account-id>:targetgroup/a/0123456789abcdef", True),
        (f"{TARGET_GROUP}/mlstack-serving", False),  # no ID
        (f"{TARGET_GROUP}/mlstack-serving/", False),
        (f"{TARGET_GROUP}/mlstack-serving/0123", False),
        (f"{TARGET_GROUP}/mlstack-serving/0123456789ABCDEG", False),
        (f"{TARGET_GROUP}/-serving/0123456789abcdef", False),
        (f"{TARGET_GROUP}/{'n' * 33}/0123456789abcdef", False),  # names are at most 32 characters
        (f"{TARGET_GROUP}/mlstack-serving/0123456789abcdef # serving", False),
        ("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/0123456789abcdef", False),
        ("arn:aws:elasticloadbalancing::123456789012:targetgroup/x/0123456789abcdef", False),
        ("arn:aws:elasticloadbalancing:eu-west-1:1234:targetgroup/x/0123456789abcdef", False),
        (f"{ROLE}/mlstack-app", False),
    ],
)
def test_target_group_arn_shape(value: str, ok: bool) -> None:
    assert arns.TARGET_GROUP.matches(value) is ok


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        (
            Options(execution_role_arn="arn:aws:iam::12345678901:role/exec"),
            {},
            "--execution-role-arn 'arn:aws:iam::12345678901:role/exec' is not an IAM role ARN, "
            "arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME (PARTITION aws, aws-cn or aws-us-gov; ACCOUNT 12 digits)",
        ),
        (
            Options(task_role_arns=["serving=arn:aws:iam::123456789012:role/x y"]),
            {},
            "--task-role-arn 'arn:aws:iam::123456789012:role/x y' is not an IAM role ARN",
        ),
        (
            Options(target_group_arns=[f"serving={TARGET_GROUP}/s"]),
            {},
            f"--target-group-arn '{TARGET_GROUP}/s' is not an ELBv2 target group ARN, "
            "arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID (PARTITION aws, aws-cn or "
            "aws-us-gov; ACCOUNT 12 digits; ID 16 hex digits)",
        ),
        (
            Options(),
            {"DEVTOOLS_ECS_TASK_ROLE_ARN": "role/app"},
            "environment variable DEVTOOLS_ECS_TASK_ROLE_ARN 'role/app' is not an IAM role ARN",
        ),
        (
            Options(),
            {"DEVTOOLS_ECS_TASK_ROLE_ARN_SERVING": f"{ROLE}/serving # the app"},
            f"environment variable DEVTOOLS_ECS_TASK_ROLE_ARN_SERVING '{ROLE}/serving # the app'",
        ),
        (
            Options(),
            {"DEVTOOLS_ECS_TARGET_GROUP_ARN_MLFLOW": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:x"},
            "environment variable DEVTOOLS_ECS_TARGET_GROUP_ARN_MLFLOW",
        ),
    ],
)
def test_a_malformed_arn_setting_is_a_usage_error_naming_it(
    options: Options, env: dict[str, str], message: str
) -> None:
    with pytest.raises(DevtoolsError) as caught:
        resolve(options, env, project="mlstack", tag="t")
    assert caught.value.code is ExitCode.USAGE
    assert caught.value.message.startswith(message)
    assert "\n" not in caught.value.message


def test_placeholders_stay_allowed_for_arn_settings() -> None:
    env = {"DEVTOOLS_ECS_EXECUTION_ROLE_ARN": "<execution-role-arn>", "DEVTOOLS_ECS_TASK_ROLE_ARN": "<app-role>"}
    settings = resolve(Options(), env, project="mlstack", tag="t")
    assert settings.execution_role_arn == "<execution-role-arn>"
    assert settings.task_role_arn("serving", None) == "<app-role>"
    assert settings.target_group_arn("serving") == "<target-group-arn:serving>"


def test_a_malformed_x_ecs_task_role_fails_like_any_compose_problem() -> None:
    settings = resolve(Options(), {}, project="mlstack", tag="t")
    assert (
        settings.task_role_arn("seed", "arn:aws:iam::<account-id>:role/seed") == "arn:aws:iam::<account-id>:role/seed"
    )
    with pytest.raises(DevtoolsError) as caught:
        settings.task_role_arn("seed", "arn:aws:iam::123:role/seed")
    assert caught.value.code is ExitCode.FAILURE
    assert caught.value.message.startswith(
        "seed: x-ecs.task-role-arn 'arn:aws:iam::123:role/seed' is not an IAM role ARN"
    )
