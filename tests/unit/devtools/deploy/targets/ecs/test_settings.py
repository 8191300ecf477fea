"""The ECS target's settings: options over the environment over placeholders, task roles per service,
ARN-valued settings checked wherever they come from."""

from __future__ import annotations

from dataclasses import fields

import pytest

from devtools.deploy.targets.ecs.arch import Arch
from devtools.deploy.targets.ecs.settings import ARN_SETTINGS, Options, resolve
from devtools.errors import DevtoolsError, ExitCode

ROLE = "arn:aws:iam::123456789012:role"


TARGET_GROUP = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup"


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


def test_every_arn_valued_option_is_in_the_table() -> None:
    arn_options = {field.name.removesuffix("s").replace("_", "-") for field in fields(Options) if "arn" in field.name}
    assert arn_options == set(ARN_SETTINGS)


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
