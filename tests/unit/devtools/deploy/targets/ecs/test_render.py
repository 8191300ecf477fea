"""devtools deploy render ecs, core: Compose config -> ECS documents, validated by botocore offline."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.deploy import envfile
from devtools.deploy.targets.ecs import validate
from devtools.deploy.targets.ecs.arch import Arch
from devtools.deploy.targets.ecs.aws_documents import image_reference
from devtools.deploy.targets.ecs.documents import Document, strings
from devtools.deploy.targets.ecs.render import Rendered, render
from devtools.deploy.targets.ecs.settings import Options, Settings, resolve
from devtools.errors import DevtoolsError, ExitCode
from devtools.stack.config import ComposeConfig
from testing.cli_harness import FIXTURES as UNIT_FIXTURES
from testing.cli_harness import REPO as REPO_ROOT

FIXTURES = UNIT_FIXTURES
README = REPO_ROOT / "deploy" / "README.md"
REQUIRED_OPERATIONS = {
    ("ecs", "RegisterTaskDefinition"),
    ("ecs", "CreateService"),
    ("application-autoscaling", "RegisterScalableTarget"),
    ("application-autoscaling", "PutScalingPolicy"),
}


def load(path: Path) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(path.read_text().replace("@ROOT@", "/repo"))
    return raw


def prod_config() -> dict[str, Any]:
    """The recorded `docker compose config` of docker-compose.yml without its x-deploy and x-ecs blocks:
    what the renderer derives from plain Compose alone."""
    raw = load(FIXTURES / "compose_config_prod.yml")
    for service in raw["services"].values():
        service.pop("x-deploy", None)
        service.pop("x-ecs", None)
    return raw


def ecs_config() -> dict[str, Any]:
    """The same with the x-deploy and x-ecs blocks deploy/README.md proposes."""
    return load(FIXTURES / "deploy" / "compose_config_prod_ecs.yml")


def settings(**options: Any) -> Settings:
    return resolve(Options(**options), {}, project="mlstack", tag="abc1234")


def run(raw: dict[str, Any], **options: Any) -> Rendered:
    return render(ComposeConfig(raw), settings(**options))


def doc(rendered: Rendered, filename: str) -> dict[str, Any]:
    return next(d.params for d in rendered.documents if d.filename == filename)


def container(rendered: Rendered, service: str) -> dict[str, Any]:
    definition: dict[str, Any] = doc(rendered, f"{service}.task-definition.json")["containerDefinitions"][0]
    return definition


def failure(raw: dict[str, Any]) -> DevtoolsError:
    with pytest.raises(DevtoolsError) as caught:
        run(raw)
    assert caught.value.code is ExitCode.FAILURE
    assert "\n" not in caught.value.message
    return caught.value


@pytest.mark.parametrize("config", [prod_config, ecs_config])
def test_every_document_passes_botocore_validation(config: Any) -> None:
    rendered = run(config())
    assert validate.errors(rendered.documents) == []
    assert REQUIRED_OPERATIONS <= {(d.service_model, d.operation) for d in rendered.documents}
    # the migration job is in a profile: the render asks for every profile (the ECS recording has it)
    migrate = ["mlflow-migrate.task-definition.json"] if "mlflow-migrate" in config()["services"] else []
    assert sorted(d.filename for d in rendered.documents) == [
        "mlflow-access.task-definition.json",
        *migrate,
        "mlflow.service.json",
        "mlflow.target-group.json",
        "mlflow.task-definition.json",
        "seed.task-definition.json",
        "serving.scalable-target.json",
        "serving.scaling-policy.json",
        "serving.service.json",
        "serving.target-group.json",
        "serving.task-definition.json",
        "training.task-definition.json",
    ]


def test_task_definitions_for_the_prod_stack() -> None:
    rendered = run(prod_config(), registry="123456789012.dkr.ecr.eu-west-1.amazonaws.com")
    task = doc(rendered, "serving.task-definition.json")
    assert task["family"] == "mlstack-serving"
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    assert (task["cpu"], task["memory"]) == ("1024", "2048")
    assert task["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"}
    serving = container(rendered, "serving")
    assert serving["image"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlstack/serving:abc1234"
    assert serving["user"] == "10001:10001"
    assert serving["readonlyRootFilesystem"] is True
    assert serving["portMappings"] == [{"name": "serving-8080", "containerPort": 8080, "protocol": "tcp"}]
    assert "hostPort" not in json.dumps(serving)
    assert serving["stopTimeout"] == 10
    # Without x-ecs the container check is Compose's own (readiness); the x-ecs test below overrides it.
    assert serving["healthCheck"] == {
        "command": ["CMD", "http-ok", "http://127.0.0.1:8080/ready"],
        "interval": 10,
        "timeout": 3,
        "retries": 3,
        "startPeriod": 60,
    }
    assert serving["logConfiguration"]["options"]["awslogs-group"] == "/ecs/mlstack/serving"
    mlflow = container(rendered, "mlflow")
    assert [m["containerPath"] for m in mlflow["mountPoints"]] == ["/mlflow", "/tmp"]
    assert doc(rendered, "mlflow.task-definition.json")["volumes"] == [{"name": "mlflow"}, {"name": "tmp"}]


def test_jobs_are_run_task_definitions_without_the_workspace_keep_alive() -> None:
    rendered = run(prod_config())
    training = container(rendered, "training")
    assert "entryPoint" not in training  # `sleep infinity` keeps a Compose workspace up; a task must end
    assert training["linuxParameters"]["initProcessEnabled"] is True
    assert [m["containerPath"] for m in training["mountPoints"]] == ["/data", "/tmp"]
    seed = container(rendered, "seed")
    assert (seed["entryPoint"], seed["command"]) == (["python", "-m", "training"], ["seed"])
    assert seed["image"] == "<registry>/mlstack/training:abc1234"
    assert not any(d.filename.startswith(("training.service", "seed.service")) for d in rendered.documents)
    assert not any(d.filename.startswith("base.") for d in rendered.documents)  # the build-only base image


def test_service_definitions_and_autoscaling() -> None:
    rendered = run(prod_config(), cluster="ml-prod", subnets=["subnet-1", "subnet-2"], security_groups=["sg-1"])
    serving = doc(rendered, "serving.service.json")
    assert serving["cluster"] == "ml-prod"
    assert serving["launchType"] == "FARGATE"
    assert serving["desiredCount"] == 2
    assert serving["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert serving["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == ["subnet-1", "subnet-2"]
    assert serving["loadBalancers"] == [
        {"targetGroupArn": "<target-group-arn:serving>", "containerName": "serving", "containerPort": 8080}
    ]
    assert serving["healthCheckGracePeriodSeconds"] == 60
    assert doc(rendered, "mlflow.service.json")["desiredCount"] == 1
    target = doc(rendered, "serving.scalable-target.json")
    assert target == {
        "ServiceNamespace": "ecs",
        "ResourceId": "service/ml-prod/serving",
        "ScalableDimension": "ecs:service:DesiredCount",
        "MinCapacity": 2,
        "MaxCapacity": 6,
    }
    policy = doc(rendered, "serving.scaling-policy.json")
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert tracking["TargetValue"] == 60


def test_x_ecs_secrets_become_references_and_never_environment() -> None:
    rendered = run(ecs_config())
    mlflow = container(rendered, "mlflow")
    secret = "arn:aws:secretsmanager:<region>:<account-id>:secret:mlstack/"
    assert mlflow["secrets"] == [
        {"name": "MLFLOW_AUTH_ADMIN_PASSWORD", "valueFrom": secret + "mlflow-admin-password"},
        {"name": "MLFLOW_AUTH_DATABASE_URI", "valueFrom": secret + "mlflow-auth-database-uri"},
        {"name": "MLFLOW_BACKEND_STORE_URI", "valueFrom": secret + "mlflow-backend-store-uri"},
        {"name": "MLFLOW_FLASK_SERVER_SECRET_KEY", "valueFrom": secret + "mlflow-flask-secret-key"},
    ]
    # Compose's secret files stay local: no *_FILE path reaches a document.
    assert not [e for e in mlflow["environment"] if e["name"].endswith("_FILE")]
    for document in rendered.documents:
        for definition in document.params.get("containerDefinitions", []):
            names = {env["name"] for env in definition["environment"]}
            assert not names & {secret["name"] for secret in definition.get("secrets", [])}


def test_a_secret_declared_in_x_ecs_replaces_the_compose_value() -> None:
    raw = ecs_config()
    raw["services"]["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"] = "postgresql://mlflow:hunter2@db/mlflow"
    rendered = run(raw)
    assert "hunter2" not in json.dumps([d.params for d in rendered.documents])


def test_the_x_ecs_healthcheck_is_the_container_probe_and_the_compose_one_the_target_groups() -> None:
    rendered = run(ecs_config())
    assert container(rendered, "serving")["healthCheck"]["command"][-1] == "http://127.0.0.1:8080/health"
    assert doc(rendered, "serving.target-group.json")["HealthCheckPath"] == "/ready"
    assert doc(rendered, "mlflow.target-group.json")["HealthCheckPath"] == "/health"
    env = {e["name"]: e["value"] for e in container(rendered, "serving")["environment"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://<mlflow-host>"


def test_placeholders_are_listed() -> None:
    placeholders = run(ecs_config()).placeholders()
    assert {"<registry>", "<execution-role-arn>", "<task-role-arn:mlflow>", "<subnet-id>", "<mlflow-host>"} <= set(
        placeholders
    )
    filled = run(
        ecs_config(),
        registry="r.example",
        region="eu-west-1",
        execution_role_arn="arn:aws:iam::123456789012:role/exec",
        task_role_arns=["arn:aws:iam::123456789012:role/app"],
        subnets=["subnet-1"],
        security_groups=["sg-1"],
        vpc_id="vpc-1",
        target_group_arns=[
            "mlflow=arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/m/0123456789abcdef",
            "serving=arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/s/0123456789abcdef",
        ],
    ).placeholders()
    assert filled == ["<account-id>", "<artifact-bucket>", "<mlflow-host>", "<region>"]  # from the Compose file


# --- deploy/README.md's example env file ---------------------------------------------------------------

# Any ARN, concrete: a partition, a service, an optional region and account, a resource; no whitespace, no '#'.
WELL_FORMED_ARN = re.compile(
    r"arn:(aws|aws-cn|aws-us-gov):[a-z0-9-]+:([a-z]{2}(-[a-z]+)+-[0-9]+)?:([0-9]{12})?:[^\s#]+"
)
_EXAMPLE_ENV_FILE = re.compile(r"example `deploy/prod\.env`.*?```[a-z]*\n(.*?)```", re.DOTALL)


def readme_env_file() -> str:
    """The fenced block after the README's example `deploy/prod.env`."""
    match = _EXAMPLE_ENV_FILE.search(README.read_text())
    assert match, "deploy/README.md: no fenced block after its example `deploy/prod.env`"
    return match.group(1)


def render_with_env_file(path: Path) -> Rendered:
    """As `devtools deploy render ecs --env-file PATH`, with the recorded x-ecs config; the process
    environment left out, so only the file speaks."""
    file = envfile.read(path)
    raw = ecs_config()
    # Compose interpolates ${DEVTOOLS_ECS_MLFLOW_BACKEND_STORE_URI_ARN} into x-ecs.secrets; the config
    # was recorded with it unset, so put the file's value where Compose would.
    # Every secret reference the same way: the file's ARN for the secret of that name (`secret:mlstack/NAME-`).
    given = [value for value in file.values.values() if value.startswith("arn:aws:secretsmanager:")]
    for service in raw["services"].values():
        secrets = (service.get("x-deploy") or {}).get("secrets") or {}
        for variable, default in secrets.items():
            name = str(default).rsplit("secret:", 1)[-1]
            secrets[variable] = next((arn for arn in given if f"secret:{name}-" in arn), default)
    return render(ComposeConfig(raw), resolve(Options(), {}, project="mlstack", tag="abc1234", env_file=file))


def test_the_readme_example_env_file_renders_well_formed_arns(tmp_path: Path) -> None:
    path = tmp_path / "prod.env"
    path.write_text(readme_env_file())
    rendered = render_with_env_file(path)
    found = [text for document in rendered.documents for text in strings(document.params) if "arn:" in text]
    assert found
    for text in found:
        assert WELL_FORMED_ARN.fullmatch(text), f"not a well-formed ARN: {text!r}"
    # Every ARN the file gives reaches a document, and nothing else does.
    given = {value for value in envfile.read(path).values.values() if value.startswith("arn:")}
    assert set(found) == given
    role = "arn:aws:iam::123456789012:role"
    assert doc(rendered, "mlflow.task-definition.json")["taskRoleArn"] == f"{role}/mlstack-mlflow"
    assert doc(rendered, "serving.task-definition.json")["taskRoleArn"] == f"{role}/mlstack-app"  # no comment
    assert not {p for p in rendered.placeholders() if "arn" in p}


def _break_account(arn: str) -> str:
    return arn.replace(":123456789012:", ":12345678901:", 1)


def _drop_target_group_id(arn: str) -> str:
    return arn.rsplit("/", 1)[0]


@pytest.mark.parametrize(
    ("key", "breaking"),
    [
        ("DEVTOOLS_ECS_TASK_ROLE_ARN", _break_account),
        ("DEVTOOLS_ECS_EXECUTION_ROLE_ARN", _break_account),
        ("DEVTOOLS_ECS_TARGET_GROUP_ARN_SERVING", _drop_target_group_id),
    ],
)
def test_the_readme_example_with_one_arn_broken_fails_naming_file_and_line(
    tmp_path: Path, key: str, breaking: Callable[[str], str]
) -> None:
    lines = readme_env_file().splitlines(keepends=True)
    number = next(n for n, line in enumerate(lines, start=1) if line.startswith(f"{key}="))
    name, _, rest = lines[number - 1].partition("=")
    value = rest.split()[0]  # the ARN, without the line's inline comment
    broken = breaking(value)
    assert broken != value
    lines[number - 1] = f"{name}={rest.replace(value, broken, 1)}"
    path = tmp_path / "prod.env"
    path.write_text("".join(lines))
    with pytest.raises(DevtoolsError) as caught:
        render_with_env_file(path)
    assert caught.value.code is ExitCode.USAGE
    assert caught.value.message.startswith(f"{path}:{number}: {key} '{broken}' is not an ")
    assert "\n" not in caught.value.message


# --- broken Compose files: one clear line, naming the service and the key -------------------------------


def test_missing_image_fails() -> None:
    raw = prod_config()
    del raw["services"]["serving"]["image"]
    assert failure(raw).message.startswith("serving: no image")


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("MLFLOW_BACKEND_STORE_URI", "postgresql://mlflow:hunter2@db.internal/mlflow", "a URI with a password"),
        ("MLFLOW_FLASK_SERVER_SECRET_KEY", "hunter2", "name contains SECRET"),
        ("AWS_SECRET_ACCESS_KEY", "hunter2", "name contains SECRET"),
    ],
)
def test_plaintext_secret_in_environment_fails(variable: str, value: str, reason: str) -> None:
    raw = prod_config()
    raw["services"]["mlflow"]["environment"][variable] = value
    message = failure(raw).message
    assert message.startswith(f"mlflow: environment variable {variable} looks like a secret")
    assert reason in message
    assert "x-deploy.secrets" in message
    assert "hunter2" not in message


def test_plaintext_secret_in_x_ecs_environment_fails() -> None:
    raw = ecs_config()
    raw["services"]["serving"]["x-deploy"]["environment"]["MLFLOW_TRACKING_PASSWORD"] = "hunter2"
    assert "serving: environment variable MLFLOW_TRACKING_PASSWORD" in failure(raw).message


def test_a_secret_reference_that_is_no_arn_fails_without_echoing_it() -> None:
    raw = ecs_config()
    raw["services"]["mlflow"]["x-deploy"]["secrets"]["MLFLOW_BACKEND_STORE_URI"] = "postgresql://u:hunter2@db/mlflow"
    message = failure(raw).message
    assert message.startswith("mlflow: x-deploy.secrets.MLFLOW_BACKEND_STORE_URI must be a Secrets Manager")
    assert "hunter2" not in message


def test_password_in_a_command_fails() -> None:
    raw = prod_config()
    raw["services"]["mlflow"]["command"] = ["--backend-store-uri", "postgresql://u:hunter2@db/mlflow"]
    message = failure(raw).message
    assert "mlflow: command contains a URI with a password" in message
    assert "hunter2" not in message


def test_invalid_cpu_memory_pair_fails() -> None:
    raw = prod_config()
    raw["services"]["serving"]["x-deploy"] = {"cpu": 256, "memory": 4096}
    message = failure(raw).message
    assert message.startswith("serving: task size: cpu 256 with memory 4096 MiB is not a Fargate size")
    assert "512, 1024, 2048" in message


def test_compose_resource_limits_round_up_to_a_fargate_size() -> None:
    raw = prod_config()
    raw["services"]["mlflow"]["deploy"] = {"resources": {"limits": {"cpus": 0.75, "memory": "1610612736"}}}
    task = doc(run(raw), "mlflow.task-definition.json")
    assert (task["cpu"], task["memory"]) == ("1024", "2048")


def test_stop_grace_period_over_ecs_maximum_fails() -> None:
    raw = prod_config()
    raw["services"]["mlflow"]["stop_grace_period"] = "2m1s"
    assert (
        "mlflow: stop_grace_period 2m1s is longer than ECS allows (stopTimeout at most 120 s)" in failure(raw).message
    )


def test_stop_grace_period_of_120_s_is_allowed() -> None:
    raw = prod_config()
    raw["services"]["mlflow"]["stop_grace_period"] = "2m0s"
    assert container(run(raw), "mlflow")["stopTimeout"] == 120


def test_serving_stop_timeout_must_exceed_uvicorns_graceful_timeout() -> None:
    raw = prod_config()
    raw["services"]["serving"]["stop_grace_period"] = "8s"
    assert (
        "serving: stop_grace_period 8 s must exceed the server's graceful-shutdown timeout (8 s" in failure(raw).message
    )
    raw["services"]["serving"]["environment"]["SERVING_GRACEFUL_TIMEOUT"] = "5"
    assert container(run(raw), "serving")["stopTimeout"] == 8


def test_health_check_values_are_clamped_to_ecs_limits() -> None:
    raw = prod_config()
    raw["services"]["mlflow"]["healthcheck"].update(interval="1s", timeout="2m0s", retries=20, start_period="10m0s")
    health = container(run(raw), "mlflow")["healthCheck"]
    assert (health["interval"], health["timeout"], health["retries"], health["startPeriod"]) == (5, 60, 10, 300)


def test_disabled_healthcheck_renders_none() -> None:
    raw = prod_config()
    raw["services"]["mlflow"]["healthcheck"] = {"disable": True}
    assert "healthCheck" not in container(run(raw), "mlflow")


@pytest.mark.parametrize(
    ("key", "block", "message"),
    [
        ("x-deploy", {"cpus": 1}, "serving: unknown x-deploy key 'cpus'"),
        ("x-deploy", {"kind": "daemon"}, "serving: x-deploy.kind 'daemon'"),
        ("x-deploy", {"autoscaling": {"min": 3, "max": 2}}, "need 1 <= min <= max"),
        ("x-deploy", {"desired-count": 9}, "desired count 9 is outside x-deploy.autoscaling min 2 / max 6"),
        ("x-deploy", {"autoscaling": {"metric": "memory"}}, "expected cpu or requests"),
        ("x-deploy", {"load-balancer": 9999}, "x-deploy.load-balancer must be"),
        ("x-deploy", {"ephemeral-storage": 40}, "serving: unknown x-deploy key 'ephemeral-storage'"),
        ("x-ecs", {"ephemeral-storage": 500}, "Fargate allows 21-200"),
        ("x-ecs", {"cpu": 512}, "serving: unknown x-ecs key 'cpu'"),
        ("x-ecs", {"capacity-provider": "gpus"}, "serving: x-ecs.capacity-provider applies to run-task jobs"),
    ],
)
def test_bad_extension_blocks_fail(key: str, block: dict[str, Any], message: str) -> None:
    """Target-neutral keys live in x-deploy, what only ECS has in x-ecs: each block knows its own keys."""
    raw = prod_config()
    raw["services"]["serving"][key] = block
    assert message in failure(raw).message


def test_service_only_keys_on_a_task_fail() -> None:
    raw = prod_config()
    raw["services"]["training"]["x-deploy"] = {"desired-count": 2}
    assert "training: x-deploy.desired-count applies to services only" in failure(raw).message


def test_bind_mounts_fail() -> None:
    raw = prod_config()
    raw["services"]["serving"]["volumes"] = [{"type": "bind", "source": "/repo/services", "target": "/app"}]
    assert "serving: bind mount of /repo/services cannot be deployed" in failure(raw).message


def test_x_ecs_can_skip_override_commands_and_size() -> None:
    raw = prod_config()
    raw["services"]["seed"]["x-deploy"] = {"kind": "skip"}
    raw["services"]["training"]["x-deploy"] = {"command": ["train", "--epochs", "3"], "cpu": "4 vCPU", "memory": "16GB"}
    raw["services"]["serving"]["x-deploy"] = {"autoscaling": False, "load-balancer": False}
    raw["services"]["serving"]["x-ecs"] = {"ephemeral-storage": 40}
    raw["services"]["mlflow"]["tmpfs"] = ["/run:size=1m"]
    rendered = run(raw, arch=Arch.ARM64)
    names = {d.filename for d in rendered.documents}
    assert "seed.task-definition.json" not in names
    assert not {"serving.scaling-policy.json", "serving.target-group.json"} & names
    assert "loadBalancers" not in doc(rendered, "serving.service.json")
    assert doc(rendered, "serving.task-definition.json")["ephemeralStorage"] == {"sizeInGiB": 40}
    training = doc(rendered, "training.task-definition.json")
    assert (training["cpu"], training["memory"]) == ("4096", "16384")
    assert training["containerDefinitions"][0]["command"] == ["train", "--epochs", "3"]
    assert training["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    assert "/run" in [m["containerPath"] for m in container(rendered, "mlflow")["mountPoints"]]
    assert validate.errors(rendered.documents) == []


def test_request_count_autoscaling() -> None:
    raw = prod_config()
    raw["services"]["serving"]["x-deploy"] = {"autoscaling": {"metric": "requests", "target": 200}}
    policy = doc(run(raw), "serving.scaling-policy.json")["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ALBRequestCountPerTarget",
        "ResourceLabel": "<alb-resource-label:serving>",
    }
    assert policy["TargetValue"] == 200


# --- the validator itself --------------------------------------------------------------------------------


def test_validation_failures_are_one_line_with_the_first_errors() -> None:
    documents = [
        Document("x.task-definition.json", "ecs", "RegisterTaskDefinition", {"family": "x", "bogus": 1}),
        Document("x.service.json", "ecs", "CreateService", {"serviceName": "x", "launchType": "Fargate"}),
        Document("x.policy.json", "application-autoscaling", "RegisterScalableTarget", {"ServiceNamespace": "ecs"}),
    ]
    with pytest.raises(DevtoolsError) as caught:
        validate.check(documents)
    message = caught.value.message
    assert "\n" not in message
    assert message.startswith("rendered documents fail AWS parameter validation: x.task-definition.json")
    assert 'Missing required parameter in input: "containerDefinitions"' in message
    assert "more)" in message
    problems = validate.errors(documents)
    assert any("launchType is 'Fargate', must be one of" in problem for problem in problems)
    assert any('"ResourceId"' in problem for problem in problems)


def test_validation_catches_values_above_a_maximum() -> None:
    params = {"Name": "x", "HealthCheckPath": "/" * 1025, "HealthCheckIntervalSeconds": 900}
    problems = validate.errors([Document("t.json", "elbv2", "CreateTargetGroup", params)])
    assert any("HealthCheckIntervalSeconds is 900, at most 300" in problem for problem in problems)
    assert any("HealthCheckPath is 1025 characters long, at most 1024" in problem for problem in problems)


@pytest.mark.parametrize(
    ("repository", "registry", "expected"),
    [
        ("mlstack/serving", None, "<registry>/mlstack/serving:t"),
        ("mlstack/serving", "r.example/team", "r.example/team/mlstack/serving:t"),
        ("old.example:5000/mlstack/serving", None, "old.example:5000/mlstack/serving:t"),
        ("old.example:5000/mlstack/serving", "r.example", "r.example/mlstack/serving:t"),
    ],
)
def test_image_reference(repository: str, registry: str | None, expected: str) -> None:
    settings = resolve(Options(registry=registry), {}, project="mlstack", tag="t")
    assert image_reference(repository, settings) == expected


def test_image_tag_and_digest_are_replaced() -> None:
    raw = prod_config()
    raw["services"]["mlflow"]["image"] = "registry.example:5000/mlstack/mlflow:1.2@sha256:" + "a" * 64
    assert container(run(raw), "mlflow")["image"] == "registry.example:5000/mlstack/mlflow:abc1234"


def test_rendering_is_deterministic() -> None:
    first = [d.text() for d in run(ecs_config()).documents]
    assert first == [d.text() for d in run(copy.deepcopy(ecs_config())).documents]


def test_volume_names_are_unique() -> None:
    from devtools.deploy.targets.ecs.aws_documents import volume_names

    assert volume_names(("/a-b", "/a/b", "/tmp")) == {"/a-b": "a-b", "/a/b": "a-b-2", "/tmp": "tmp"}


def test_environment_list_form_and_null_values() -> None:
    raw = prod_config()
    raw["services"]["mlflow"]["environment"] = ["MLFLOW_WORKERS=1", "EMPTY="]
    raw["services"]["serving"]["environment"]["FROM_HOST"] = None
    rendered = run(raw)
    assert container(rendered, "mlflow")["environment"] == [
        {"name": "EMPTY", "value": ""},
        {"name": "MLFLOW_WORKERS", "value": "1"},
    ]
    assert "FROM_HOST" not in json.dumps(container(rendered, "serving"))


def test_gpu_training_renders_for_ec2_capacity_and_a_batch_multinode_job() -> None:
    raw = ecs_config()
    assert doc(run(raw), "training.task-definition.json")["requiresCompatibilities"] == ["FARGATE"]  # gpus: 0
    raw["services"]["training"]["x-deploy"].update({"gpus": 8, "nodes": 4})
    raw["services"]["training"]["x-ecs"].update({"capacity-provider": "p4d-capacity"})
    rendered = run(raw)
    assert validate.errors(rendered.documents) == []
    task = doc(rendered, "training.task-definition.json")
    assert task["requiresCompatibilities"] == ["EC2"] and "ephemeralStorage" not in task
    assert container(rendered, "training")["resourceRequirements"] == [{"type": "GPU", "value": "8"}]
    run_task = doc(rendered, "training.run-task.json")
    assert run_task["capacityProviderStrategy"] == [{"capacityProvider": "p4d-capacity", "weight": 1}]
    assert run_task["taskDefinition"] == "mlstack-training" and "launchType" not in run_task
    nodes = doc(rendered, "training.job-definition.json")["nodeProperties"]
    assert nodes["numNodes"] == 4 and nodes["mainNode"] == 0
    [group] = nodes["nodeRangeProperties"]
    assert group["targetNodes"] == "0:" and group["container"]["command"] == [
        "train", "--nproc-per-node", "all", "--device", "cuda",
    ]  # fmt: skip
    assert {"type": "GPU", "value": "8"} in group["container"]["resourceRequirements"]
    # The CPU services stay on Fargate.
    assert doc(rendered, "serving.task-definition.json")["requiresCompatibilities"] == ["FARGATE"]


def test_gpu_keys_are_for_jobs_only() -> None:
    raw = ecs_config()
    raw["services"]["serving"]["x-deploy"]["gpus"] = 1
    assert (
        failure(raw).message == "serving: x-deploy.gpus applies to run-task jobs (training) only, and this is a service"
    )
