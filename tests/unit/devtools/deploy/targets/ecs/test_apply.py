"""`devtools deploy apply` against a real moto server, through the CLI and the real boto3 client.

What this proves: the call sequence, idempotency (every step reads before it writes), and the
request and response shapes of ECS, ELBv2, Application Auto Scaling and CloudWatch Logs as botocore
models them and moto answers them. What it cannot prove: AWS itself (IAM as AWS evaluates it, tasks
starting, deployments and circuit-breaker rollbacks happening). deploy/README.md lists moto's gaps.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from typer.testing import CliRunner

from devtools.cli import app
from devtools.deploy.targets.ecs.compare import differing_fields
from devtools.deploy.targets.ecs.documents import write
from devtools.deploy.targets.ecs.render import render
from devtools.deploy.targets.ecs.settings import Options, resolve
from devtools.stack.config import ComposeConfig
from testing.cli_harness import FIXTURES as UNIT_FIXTURES
from testing.moto_server import MotoServer, free_port, running

FIXTURES = UNIT_FIXTURES
REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account
REGISTRY = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com"
# moto reports this many running tasks for every service it creates (MOTO_ECS_SERVICE_RUNNING), so
# a service that desires as many is stable at once, and one that desires fewer never is.
RUNNING_TASKS = 2
# The recorded prod config's own x-deploy / x-ecs placeholders, filled as an operator's env file would.
COMPOSE_VALUES = {
    "<artifact-bucket>": "mlstack-artifacts",
    "<mlflow-host>": "mlflow.mlstack.internal",
    "<region>": REGION,
    "<account-id>": ACCOUNT_ID,
}
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    # Nothing from the developer's own AWS setup, and no instance-metadata lookups.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    # One retry: an unreachable endpoint fails in about a second, not after five backoffs.
    "AWS_RETRY_MODE": "standard",
    "AWS_MAX_ATTEMPTS": "2",
    "NO_PROXY": "127.0.0.1,localhost",
}
UNSET_AWS_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")
SERVICES = ["mlstack/mlflow", "mlstack/serving"]
TASK_FAMILIES = ["mlstack-mlflow", "mlstack-mlflow-access", "mlstack-seed", "mlstack-serving", "mlstack-training"]


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_AWS_ENV.items():
            env.setenv(name, value)
        for name in UNSET_AWS_ENV:
            env.delenv(name, raising=False)
        with running({"MOTO_ECS_SERVICE_RUNNING": str(RUNNING_TASKS)}) as server:
            yield server


def client(moto: MotoServer, service: str) -> Any:
    return boto3.client(service, endpoint_url=moto.url, region_name=REGION)


@dataclass(frozen=True)
class Account:
    """What a real account has before the first apply: network, roles, a cluster and an ALB."""

    vpc_id: str
    subnets: tuple[str, ...]
    security_group: str
    execution_role_arn: str
    task_role_arn: str
    listener_arn: str


@pytest.fixture
def account(moto: MotoServer) -> Account:
    moto.reset()
    ec2 = client(moto, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in ((1, "a"), (2, "b"))
    )
    group = ec2.create_security_group(GroupName="mlstack-tasks", Description="tasks", VpcId=vpc)["GroupId"]
    iam = client(moto, "iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    roles = [
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        for name in ("mlstack-ecs-execution", "mlstack-app")
    ]
    client(moto, "ecs").create_cluster(clusterName="mlstack")
    elbv2 = client(moto, "elbv2")
    balancer = elbv2.create_load_balancer(
        Name="mlstack", Subnets=list(subnets), SecurityGroups=[group], Scheme="internal", Type="application"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    return Account(vpc, subnets, group, roles[0], roles[1], listener)


def render_into(
    out: Path,
    account: Account,
    *,
    tag: str = "t1",
    mlflow_tasks: int = RUNNING_TASKS,
    change: Callable[[dict[str, Any]], None] = lambda raw: None,
) -> Path:
    """`deploy render ecs` of the recorded prod config, for this account (no placeholder left); `change`
    edits the configuration first."""
    text = (FIXTURES / "compose_config_prod.yml").read_text().replace("@ROOT@", "/repo")
    for placeholder, value in COMPOSE_VALUES.items():
        text = text.replace(placeholder, value)
    raw = yaml.safe_load(text)
    raw["services"]["mlflow"]["x-deploy"]["desired-count"] = mlflow_tasks
    change(raw)
    options = Options(
        registry=REGISTRY,
        region=REGION,
        execution_role_arn=account.execution_role_arn,
        task_role_arns=[account.task_role_arn],
        subnets=list(account.subnets),
        security_groups=[account.security_group],
        vpc_id=account.vpc_id,
    )
    write(render(ComposeConfig(raw), resolve(options, {}, project="mlstack", tag=tag)).documents, out)
    return out


def apply(moto: MotoServer | None, out: Path, *args: str) -> Any:
    endpoint = ["--endpoint-url", moto.url] if moto is not None else []
    return CliRunner().invoke(app, ["deploy", "apply", "--from", str(out), *endpoint, *args])


def attach_target_groups(moto: MotoServer, account: Account) -> None:
    """The operator's step between the first two applies: an ALB listener rule for each target group."""
    elbv2 = client(moto, "elbv2")
    for priority, name in enumerate(("mlstack-mlflow", "mlstack-serving"), start=1):
        arn = elbv2.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
        elbv2.create_rule(
            ListenerArn=account.listener_arn,
            Priority=priority,
            Conditions=[{"Field": "host-header", "Values": [f"{name}.internal"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": arn}],
        )


def deploy(moto: MotoServer, account: Account, out: Path, *args: str) -> Any:
    """A fresh account's two applies: target groups first, then (once they are behind the ALB) the rest."""
    first = apply(moto, out, *args)
    assert first.exit_code == 1, first.output
    attach_target_groups(moto, account)
    return apply(moto, out, *args)


def resource_lines(result: Any) -> list[str]:
    lines: list[str] = result.stdout.splitlines()
    return lines[:-1]


def summary(result: Any) -> str:
    return str(result.stdout.splitlines()[-1])


def revisions(moto: MotoServer, family: str) -> list[int]:
    arns = client(moto, "ecs").list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    return sorted(int(arn.rsplit(":", 1)[1]) for arn in arns if arn.rsplit("/", 1)[1].rsplit(":", 1)[0] == family)


def service(moto: MotoServer, name: str) -> dict[str, Any]:
    described: dict[str, Any] = client(moto, "ecs").describe_services(cluster="mlstack", services=[name])["services"][0]
    return described


def test_a_fresh_account_gets_its_target_groups_then_stops_until_they_are_behind_the_alb(
    moto: MotoServer, account: Account, tmp_path: Path
) -> None:
    result = apply(moto, render_into(tmp_path / "ecs", account))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:10] == [
        "created log group /ecs/mlstack/mlflow",
        "created log group /ecs/mlstack/mlflow-access",
        "created log group /ecs/mlstack/seed",
        "created log group /ecs/mlstack/serving",
        "created log group /ecs/mlstack/training",
        "registered task definition mlstack-mlflow:1 (new family)",
        "registered task definition mlstack-mlflow-access:1 (new family)",
        "registered task definition mlstack-seed:1 (new family)",
        "registered task definition mlstack-serving:1 (new family)",
        "registered task definition mlstack-training:1 (new family)",
    ]
    assert [line.split(" (arn:aws:elasticloadbalancing:")[0] for line in lines[10:]] == [
        "created target group mlstack-mlflow",
        "created target group mlstack-serving",
    ]
    # What was applied is on screen before the one error line, which says so.
    assert result.output.splitlines()[:-1] == lines
    assert result.stderr == (
        "devtools: target groups mlstack-mlflow, mlstack-serving not attached to a load balancer: ECS cannot put "
        "a service behind it; forward an ALB listener rule to it (its ARN is above or in `aws elbv2 "
        "describe-target-groups`), then apply again (12 changes made before this, listed above)\n"
    )
    assert client(moto, "ecs").list_services(cluster="mlstack")["serviceArns"] == []
    groups = client(moto, "logs").describe_log_groups(logGroupNamePrefix="/ecs/mlstack/")["logGroups"]
    assert len(groups) == 5


def test_the_first_apply_creates_everything_with_the_circuit_breaker_on(
    moto: MotoServer, account: Account, tmp_path: Path
) -> None:
    result = deploy(moto, account, render_into(tmp_path / "ecs", account))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert resource_lines(result)[-4:] == [
        "created service mlstack/mlflow (mlstack-mlflow:1)",
        "created service mlstack/serving (mlstack-serving:1)",
        "created scalable target service/mlstack/serving (2-6 tasks)",
        "created scaling policy serving-cpu-target-tracking",
    ]
    assert all(line.startswith("unchanged ") for line in resource_lines(result)[:-4])
    assert summary(result) == f"applied 4 changes in {REGION} (12 unchanged); services stable: {', '.join(SERVICES)}"

    assert {family: revisions(moto, family) for family in TASK_FAMILIES} == {family: [1] for family in TASK_FAMILIES}
    target_group = client(moto, "elbv2").describe_target_groups(Names=["mlstack-serving"])["TargetGroups"][0]
    assert target_group["HealthCheckPath"] == "/ready"
    for name in ("mlflow", "serving"):
        described = service(moto, name)
        assert described["launchType"] == "FARGATE"
        assert described["deploymentController"] == {"type": "ECS"}
        assert described["deploymentConfiguration"] == {
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        }
        assert described["taskDefinition"].endswith(f":task-definition/mlstack-{name}:1")
        assert described["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == list(account.subnets)
    [balancer] = service(moto, "serving")["loadBalancers"]
    assert balancer == {
        "targetGroupArn": target_group["TargetGroupArn"],
        "containerName": "serving",
        "containerPort": 8080,
    }
    autoscaling = client(moto, "application-autoscaling")
    [target] = autoscaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == ("service/mlstack/serving", 2, 6)
    [policy] = autoscaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    metric = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert metric == {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}


def test_a_second_apply_with_nothing_changed_changes_nothing(
    moto: MotoServer, account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = render_into(tmp_path / "ecs", account)
    assert deploy(moto, account, out).exit_code == 0
    # AWS_ENDPOINT_URL (boto3 reads it) does what --endpoint-url does.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    again = apply(None, out)
    assert again.exit_code == 0, again.output
    assert again.stderr == ""
    lines = resource_lines(again)
    assert len(lines) == 16
    assert all(line.startswith("unchanged ") for line in lines), lines
    assert summary(again) == (
        f"nothing to change in {REGION}: all 16 resources unchanged; services stable: {', '.join(SERVICES)}"
    )
    assert {family: revisions(moto, family) for family in TASK_FAMILIES} == {family: [1] for family in TASK_FAMILIES}


def test_a_new_image_in_one_task_definition_registers_one_revision_and_updates_one_service(
    moto: MotoServer, account: Account, tmp_path: Path
) -> None:
    out = render_into(tmp_path / "ecs", account)
    assert deploy(moto, account, out).exit_code == 0
    path = out / "serving.task-definition.json"
    task = json.loads(path.read_text())
    task["containerDefinitions"][0]["image"] = f"{REGISTRY}/mlstack/serving:t2"
    path.write_text(json.dumps(task))

    result = apply(moto, out, "--no-wait")
    assert result.exit_code == 0, result.output
    changed = [line for line in resource_lines(result) if not line.startswith("unchanged ")]
    assert changed == [
        "registered task definition mlstack-serving:2 (containerDefinitions differ from mlstack-serving:1)",
        "updated service mlstack/serving (task definition mlstack-serving:2)",
    ]
    assert summary(result) == f"applied 2 changes in {REGION} (14 unchanged); did not wait for the services (--no-wait)"
    assert revisions(moto, "mlstack-serving") == [1, 2]
    assert revisions(moto, "mlstack-mlflow") == [1]
    assert service(moto, "serving")["taskDefinition"].endswith("/mlstack-serving:2")
    assert service(moto, "mlflow")["taskDefinition"].endswith("/mlstack-mlflow:1")
    # Autoscaling owns serving's count: the update left it out.
    assert service(moto, "serving")["desiredCount"] == 2
    assert all(line.startswith("unchanged ") for line in resource_lines(apply(moto, out, "--no-wait")))


def test_a_documents_own_deployment_configuration_is_kept_with_the_breaker_turned_on(
    moto: MotoServer, account: Account, tmp_path: Path
) -> None:
    out = render_into(tmp_path / "ecs", account)
    assert deploy(moto, account, out).exit_code == 0
    path = out / "mlflow.service.json"
    document = json.loads(path.read_text())
    document["deploymentConfiguration"] = {"maximumPercent": 150, "minimumHealthyPercent": 50}
    path.write_text(json.dumps(document))

    result = apply(moto, out)
    assert result.exit_code == 0, result.output
    assert [line for line in resource_lines(result) if not line.startswith("unchanged ")] == [
        "updated service mlstack/mlflow (deploymentConfiguration)"
    ]
    assert service(moto, "mlflow")["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 150,
        "minimumHealthyPercent": 50,
    }


def test_target_groups_given_by_arn_are_used_as_given(moto: MotoServer, account: Account, tmp_path: Path) -> None:
    out = render_into(tmp_path / "ecs", account)
    assert deploy(moto, account, out, "--no-wait").exit_code == 0
    path = out / "serving.service.json"
    document = json.loads(path.read_text())
    arn = client(moto, "elbv2").describe_target_groups(Names=["mlstack-serving"])["TargetGroups"][0]["TargetGroupArn"]
    document["loadBalancers"][0]["targetGroupArn"] = arn  # what DEVTOOLS_ECS_TARGET_GROUP_ARN_SERVING renders
    path.write_text(json.dumps(document))
    result = apply(moto, out, "--no-wait")
    assert result.exit_code == 0, result.output
    assert "unchanged target group mlstack-serving (given by the service document)" in resource_lines(result)
    assert all(line.startswith("unchanged ") for line in resource_lines(result))


def test_services_not_stable_in_time_exit_7_naming_them(moto: MotoServer, account: Account, tmp_path: Path) -> None:
    # One mlflow task desired, two "running" (moto's fixed count): never stable.
    out = render_into(tmp_path / "ecs", account, mlflow_tasks=1)
    started = time.monotonic()
    result = deploy(moto, account, out, "--wait-timeout", "2")
    assert time.monotonic() - started < 60
    assert result.exit_code == 7
    assert "created service mlstack/mlflow (mlstack-mlflow:1)" in result.stdout
    assert result.stderr == (
        "devtools: services not stable within 2 s: mlstack/mlflow (2 of 1 tasks running, 1 deployment); "
        "see `aws ecs describe-services` (4 changes made before this, listed above)\n"
    )


def test_an_unreachable_endpoint_is_one_line_and_exit_1(moto: MotoServer, account: Account, tmp_path: Path) -> None:
    out = render_into(tmp_path / "ecs", account)
    port = free_port()  # nothing listens there
    result = CliRunner().invoke(
        app, ["deploy", "apply", "--from", str(out), "--endpoint-url", f"http://127.0.0.1:{port}"]
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "devtools: cannot reach AWS for ecs:DescribeClusters: Could not connect to the endpoint URL: "
        f'"http://127.0.0.1:{port}/" (nothing was changed)\n'
    )


@pytest.mark.parametrize(
    ("allowed", "refused", "applied"),
    [
        # ELBv2 answers in XML, which botocore parses as it parses AWS's own refusals.
        (["ecs:*", "logs:*", "elasticloadbalancing:Describe*"], "elasticloadbalancing:CreateTargetGroup", 10),
        # moto refuses JSON APIs (ECS) with an XML body that botocore cannot parse: still one line.
        (["ecs:Describe*", "ecs:List*", "logs:*"], "ecs:RegisterTaskDefinition", 5),
    ],
)
def test_an_iam_refusal_is_one_line_after_what_was_already_applied(
    moto: MotoServer,
    account: Account,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    allowed: list[str],
    refused: str,
    applied: int,
) -> None:
    out = render_into(tmp_path / "ecs", account)
    iam = client(moto, "iam")
    iam.create_user(UserName="deployer")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": allowed, "Resource": "*"}]}
    iam.put_user_policy(UserName="deployer", PolicyName="deploy", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    moto.enforce_iam(True)
    try:
        result = apply(moto, out)
    finally:
        moto.enforce_iam(False)
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == applied
    assert result.output.startswith(result.stdout)  # what was applied comes first
    assert result.stderr == (
        f"devtools: AWS refused {refused}: AccessDenied: User: arn:aws:iam::{ACCOUNT_ID}:user/deployer is not "
        f"authorized to perform: {refused} ({applied} changes made before this, listed above)\n"
    )


def test_no_credentials_is_one_line(
    moto: MotoServer, account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = render_into(tmp_path / "ecs", account)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = apply(moto, out)
    assert result.exit_code == 1
    assert result.stderr == (
        "devtools: ecs:DescribeClusters: no AWS credentials found; set AWS_PROFILE or "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (the chain the aws CLI uses) (nothing was changed)\n"
    )


def test_a_missing_cluster_stops_before_any_change(moto: MotoServer, account: Account, tmp_path: Path) -> None:
    out = render_into(tmp_path / "ecs", account)
    client(moto, "ecs").delete_cluster(cluster="mlstack")
    result = apply(moto, out)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"devtools: ECS cluster mlstack not found (or not ACTIVE) in {REGION}: create it first "
        "(aws ecs create-cluster --cluster-name mlstack) (nothing was changed)\n"
    )


def test_documents_with_placeholders_are_refused_before_any_call(tmp_path: Path) -> None:
    out = tmp_path / "ecs"
    raw = yaml.safe_load((FIXTURES / "compose_config_prod.yml").read_text().replace("@ROOT@", "/repo"))
    write(render(ComposeConfig(raw), resolve(Options(region=REGION), {}, project="mlstack", tag="t1")).documents, out)
    # An endpoint nothing listens on: a call would fail with "cannot reach AWS".
    result = CliRunner().invoke(
        app, ["deploy", "apply", "--from", str(out), "--endpoint-url", f"http://127.0.0.1:{free_port()}"]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"devtools: the documents in {out} still have placeholders: <account-id> ")
    assert "<execution-role-arn>" in result.stderr and "<registry>" in result.stderr
    assert "<target-group-arn:" not in result.stderr  # apply fills those itself
    assert result.stderr.count("\n") == 1


def test_documents_for_another_region_are_refused(moto: MotoServer, account: Account, tmp_path: Path) -> None:
    out = render_into(tmp_path / "ecs", account)
    result = apply(moto, out, "--region", "us-east-1")
    assert result.exit_code == 2
    assert result.stderr == (
        f"devtools: the documents were rendered for {REGION} (awslogs-region) but the AWS region is us-east-1: "
        f"apply with --region {REGION}, or render again with --region us-east-1\n"
    )


def test_without_documents_it_says_to_render_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    monkeypatch.setenv("DEVTOOLS_ROOT", str(tmp_path))
    result = CliRunner().invoke(app, ["deploy", "apply"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"devtools: no ECS documents in {tmp_path / 'build' / 'ecs'}: run `devtools deploy render ecs` first "
        "(or pass --from DIR)\n"
    )


def test_a_wait_timeout_below_one_second_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["deploy", "apply", "--from", str(tmp_path), "--wait-timeout", "0"])
    assert result.exit_code == 2


def test_comparison_ignores_what_aws_adds_and_the_order_of_sets() -> None:
    wanted = {
        "cpu": "1024",
        "containerDefinitions": [
            {
                "name": "serving",
                "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "command": ["serve", "--port", "8080"],
                "mountPoints": [],
                "readonlyRootFilesystem": True,
            }
        ],
        "volumes": [{"name": "cache"}],
        "target": 60,
    }
    described = {
        "cpu": "1024",
        "revision": 3,
        "containerDefinitions": [
            {
                "name": "serving",
                "cpu": 0,
                "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
                "command": ["serve", "--port", "8080"],
                "volumesFrom": [],
                "readonlyRootFilesystem": True,
            }
        ],
        "volumes": [{"name": "cache", "host": {}}],
        "target": 60.0,
    }
    assert differing_fields(wanted, described) == []
    reordered = {**described, "containerDefinitions": [{**described["containerDefinitions"][0], "command": ["x"]}]}
    assert differing_fields(wanted, reordered) == ["containerDefinitions"]
    assert differing_fields({"desiredCount": 2}, {"desiredCount": 3}) == ["desiredCount"]
    assert differing_fields({"subnets": ["a", "b"]}, {"subnets": ["b", "a"]}) == []


def render_gpu_training(out: Path, account: Account) -> Path:
    """The documents with training as a 2-node job of 4 GPUs each (x-deploy gpus / nodes, x-ecs
    capacity-provider)."""

    def gpu_training(raw: dict[str, Any]) -> None:
        raw["services"]["training"]["x-deploy"].update({"gpus": 4, "nodes": 2})
        raw["services"]["training"]["x-ecs"].update({"capacity-provider": "mlstack-gpu"})

    return render_into(out, account, change=gpu_training)


def test_a_gpu_job_on_a_cluster_without_ec2_capacity_is_one_line_and_changes_nothing(
    moto: MotoServer, account: Account, tmp_path: Path
) -> None:
    ecs = client(moto, "ecs")
    ecs.put_cluster_capacity_providers(
        cluster="mlstack", capacityProviders=["FARGATE"], defaultCapacityProviderStrategy=[]
    )
    result = apply(moto, render_gpu_training(tmp_path / "ecs", account))
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("devtools: training needs EC2 GPU capacity, but ECS cluster mlstack has FARGATE:")
    assert "ECS GPU-optimized AMI" in last and last.endswith("(nothing was changed)")
    assert not ecs.list_task_definitions()["taskDefinitionArns"]


def test_a_gpu_job_registers_its_ec2_task_and_its_batch_multinode_job(
    moto: MotoServer, account: Account, tmp_path: Path
) -> None:
    ecs = client(moto, "ecs")
    group = f"arn:aws:autoscaling:{REGION}:{ACCOUNT_ID}:autoScalingGroup:1:autoScalingGroupName/mlstack-gpu"
    ecs.create_capacity_provider(name="mlstack-gpu", autoScalingGroupProvider={"autoScalingGroupArn": group})
    ecs.put_cluster_capacity_providers(
        cluster="mlstack", capacityProviders=["mlstack-gpu", "FARGATE"], defaultCapacityProviderStrategy=[]
    )
    apply(moto, render_gpu_training(tmp_path / "ecs", account))  # stops later, at the target groups
    training = ecs.describe_task_definition(taskDefinition="mlstack-training")["taskDefinition"]
    assert training["requiresCompatibilities"] == ["EC2"]
    assert training["containerDefinitions"][0]["resourceRequirements"] == [{"type": "GPU", "value": "4"}]
    [job] = client(moto, "batch").describe_job_definitions(jobDefinitionName="mlstack-training", status="ACTIVE")[
        "jobDefinitions"
    ]
    assert job["type"] == "multinode" and job["platformCapabilities"] == ["EC2"]
    # What moto keeps of it stops there (it drops nodeProperties from descriptions, so a second apply
    # cannot be shown to change nothing here): the request itself is botocore-validated at render.
