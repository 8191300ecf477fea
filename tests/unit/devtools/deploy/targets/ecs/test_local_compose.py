"""devtools deploy run-local, its pure half: rendered task definitions -> the Compose project that runs
them as Fargate would (devtools/deploy/local_compose.py). The Docker tier runs it for real
(tests/docker/test_deploy_run_local.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.deploy.targets.ecs import bundle, local_compose
from devtools.deploy.targets.ecs.documents import write
from devtools.deploy.targets.ecs.local_compose import Image
from devtools.deploy.targets.ecs.render import render
from devtools.deploy.targets.ecs.settings import Options, resolve
from devtools.errors import DevtoolsError, ExitCode
from devtools.stack.config import ComposeConfig
from testing.cli_harness import FIXTURES as UNIT_FIXTURES

FIXTURES = UNIT_FIXTURES
DECLARED = {  # what the prod images declare with VOLUME (docker/*/Dockerfile)
    "mlflow": frozenset({"/mlflow", "/tmp"}),
    "serving": frozenset({"/cache", "/tmp"}),
    "training": frozenset({"/data"}),  # /tmp left out here: the plan must then mount it root-owned
}


def rendered(tmp_path: Path, **options: Any) -> bundle.Bundle:
    raw = yaml.safe_load((FIXTURES / "compose_config_prod.yml").read_text().replace("@ROOT@", "/repo"))
    write(render(ComposeConfig(raw), resolve(Options(**options), {}, project="mlstack", tag="t1")).documents, tmp_path)
    return bundle.read(tmp_path, can_fill=lambda _name, _workload: True)


def images_of(documents: bundle.Bundle) -> dict[str, Image]:
    found = {}
    for workload in documents.workloads:
        for container in workload.task_definition["containerDefinitions"]:
            reference = container["image"]
            repository = local_compose.local_candidates(reference)[-1]
            found[reference] = Image(repository, DECLARED[repository.split("/")[1].split(":")[0]])
    return found


def planned(tmp_path: Path, **options: Any) -> local_compose.Plan:
    documents = rendered(tmp_path, **options)
    return local_compose.plan(documents.workloads, images_of(documents), region="eu-west-1", root="/repo")


def test_images_are_found_without_their_registry() -> None:
    ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlstack/serving:abc"
    assert local_compose.local_candidates(ecr) == [ecr, "mlstack/serving:abc"]
    assert local_compose.local_candidates("<registry>/mlstack/serving:abc") == ["mlstack/serving:abc"]
    assert local_compose.local_candidates("localhost:5001/mlstack/serving:abc")[-1] == "mlstack/serving:abc"
    assert local_compose.local_candidates("mlstack/serving:abc") == ["mlstack/serving:abc"]


def test_each_container_runs_as_its_task_definition_says(tmp_path: Path) -> None:
    plan = planned(tmp_path)
    serving = plan.document["services"]["serving"]
    assert serving["image"] == "mlstack/serving:t1" and serving["pull_policy"] == "never"
    assert serving["user"] == "10001:10001" and serving["read_only"] is True
    assert serving["cap_drop"] == ["ALL"]
    assert serving["healthcheck"]["test"] == ["CMD", "http-ok", "http://127.0.0.1:8080/health"]
    assert serving["healthcheck"]["start_period"] == "60s"
    assert serving["stop_grace_period"] == "10s"
    assert serving["cpus"] == 1.0 and serving["mem_limit"] == "2048m"  # the Fargate task size
    assert serving["ports"] == [{"target": 8080, "host_ip": "127.0.0.1", "protocol": "tcp"}]
    assert plan.services == ["mlflow", "serving"] and plan.tasks == ["mlflow-access", "seed", "training"]
    assert plan.document["services"]["seed"]["profiles"] == [local_compose.TASK_PROFILE]
    # ECS ignores an image's HEALTHCHECK: a task without a healthCheck gets none.
    assert plan.document["services"]["seed"]["healthcheck"] == {"disable": True}


def test_task_storage_is_root_owned_unless_the_image_declares_the_path(tmp_path: Path) -> None:
    services = planned(tmp_path).document["services"]
    mounts = {(name, m["target"]): m for name, s in services.items() for m in s.get("volumes", [])}
    assert "volume" not in mounts["serving", "/cache"] and "volume" not in mounts["serving", "/tmp"]
    assert mounts["training", "/data"].get("volume") is None
    assert mounts["training", "/tmp"]["volume"] == {"nocopy": True}  # not declared: Fargate's root-owned dir
    assert mounts["serving", "/cache"]["source"] == "serving-cache"  # per task, not shared across tasks


def test_aws_names_are_filled_with_the_stand_ins_and_secrets_stay_out_of_the_file(tmp_path: Path) -> None:
    plan = planned(tmp_path)
    services = plan.document["services"]
    serving_env = dict(item.split("=", 1) for item in services["serving"]["environment"] if "=" in item)
    assert serving_env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"  # the ALB: the service on the network
    assert serving_env["AWS_ENDPOINT_URL"] == "http://aws:5000"
    mlflow_env = services["mlflow"]["environment"]
    assert f"MLFLOW_ARTIFACTS_DESTINATION=s3://{local_compose.LOCAL_BUCKET}/mlartifacts" in mlflow_env
    # The secret by name only: Compose takes its value from its environment, never from the file.
    assert "MLFLOW_BACKEND_STORE_URI" in mlflow_env
    assert plan.secrets["MLFLOW_BACKEND_STORE_URI"] == ["mlflow"]
    # Each account's password by its own name: only the containers of that account, and the accounts job.
    assert plan.secrets["MLSTACK_SERVING_PASSWORD"] == ["mlflow-access", "serving"]
    assert "MLSTACK_SERVING_PASSWORD" in services["serving"]["environment"]
    assert not any(item.startswith("MLSTACK_SERVING_PASSWORD=") for item in services["serving"]["environment"])
    assert plan.buckets == [local_compose.LOCAL_BUCKET]
    assert local_compose.POSTGRES in services and local_compose.AWS in services


def test_a_placeholder_it_cannot_fill_is_a_usage_error(tmp_path: Path) -> None:
    documents = rendered(tmp_path)
    serving = next(w for w in documents.workloads if w.name == "serving")
    serving.task_definition["containerDefinitions"][0]["environment"].append({"name": "X", "value": "<vpc-id>"})
    with pytest.raises(DevtoolsError) as error:
        local_compose.plan(documents.workloads, images_of(documents), region="eu-west-1", root="/repo")
    assert error.value.code is ExitCode.USAGE
    assert "serving.task-definition.json: environment X has <vpc-id>" in error.value.message


def test_an_efs_volume_is_refused_not_faked(tmp_path: Path) -> None:
    documents = rendered(tmp_path)
    training = next(w for w in documents.workloads if w.name == "training")
    training.task_definition["volumes"][0]["efsVolumeConfiguration"] = {"fileSystemId": "fs-1"}
    with pytest.raises(DevtoolsError, match="uses efsVolumeConfiguration, which run-local does not stand in for"):
        local_compose.plan(documents.workloads, images_of(documents), region="eu-west-1", root="/repo")
