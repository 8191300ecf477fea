"""`devtools deploy run-local`: the rendered ECS documents, run on the real engine as Fargate would, reach
healthy with the real stand-ins (PostgreSQL for RDS, moto's S3 for the artifact store, secrets from a
local file); serving loads the model and swaps under load; a broken task definition fails naming the
container and the reason."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from dotenv import dotenv_values

from devtools.models import signing
from devtools.models.mlflow_api import MlflowApi
from testing.serving_load import LoadClient
from testing.stack_harness import PROD_TAG, REPO, Stack, basic_auth, get_json, wait_for

PROJECT = "mlstack-ecstest"
LOCAL = f"{PROJECT}-ecs-local"  # the Compose project run-local uses
BUCKET = "mlstack-artifacts-local"
# The local stand-ins' secret values (what ECS would read from Secrets Manager).
SECRETS = {key: value or "" for key, value in dotenv_values(REPO / "deploy" / "local-secrets.env").items()}
PROMOTER = ("promoter", SECRETS["MLSTACK_PROMOTER_PASSWORD"])
HEALTHY = re.compile(r"^(\S+): healthy\s+(http://127\.0\.0\.1:\d+)$", re.M)


@dataclass(frozen=True)
class EcsLocal:
    stack: Stack
    documents: Path
    urls: dict[str, str]
    first_output: str

    def run_local(self, *args: str, documents: Path | None = None) -> subprocess.CompletedProcess[str]:
        where = str(documents or self.documents)
        return self.stack.devtools("deploy", "run-local", "--from", where, *args, check=False, timeout=1200)

    def container(self, service: str) -> dict[str, Any]:
        done = subprocess.run(["docker", "inspect", f"{LOCAL}-{service}-1"], capture_output=True, text=True, check=True)
        found: dict[str, Any] = json.loads(done.stdout)[0]
        return found


@pytest.fixture(scope="module")
def ecs_local(prod_images: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EcsLocal]:
    """The prod images' documents, rendered with placeholders for every AWS-side name, run to healthy."""
    stack = Stack({**os.environ, "COMPOSE_PROJECT_NAME": PROJECT})
    documents = tmp_path_factory.mktemp("ecs")
    stack.devtools("deploy", "render", "ecs", "--out", str(documents), "--tag", PROD_TAG)
    stack.devtools("deploy", "run-local", "--down", check=False)
    first = EcsLocal(stack, documents, {}, "")
    done = first.run_local("--wait-timeout", "600")
    assert done.returncode == 0, f"run-local exited {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"
    yield EcsLocal(stack, documents, dict(HEALTHY.findall(done.stdout)), done.stdout)
    stack.devtools("deploy", "run-local", "--down", check=False)


def test_every_service_is_healthy_and_serving_loaded_the_seeded_model(ecs_local: EcsLocal) -> None:
    assert set(ecs_local.urls) == {"mlflow", "serving"}, ecs_local.first_output
    assert "task seed: exit 0" in ecs_local.first_output
    # The accounts before the seed (it writes as training); the seeded version signed before serving waits.
    assert "task mlflow-access: exit 0" in ecs_local.first_output
    assert "signed the seeded digits-classifier version 1" in ecs_local.first_output
    assert "serving: ready: GET /ready answered 200" in ecs_local.first_output
    model = get_json(ecs_local.urls["serving"] + "/model")
    assert model["version"] == "1" and model["alias"] == "champion"


def test_containers_run_as_the_task_definitions_say(ecs_local: EcsLocal) -> None:
    task = json.loads((ecs_local.documents / "serving.task-definition.json").read_text())
    definition = task["containerDefinitions"][0]
    attrs = ecs_local.container("serving")
    host = attrs["HostConfig"]
    assert attrs["Config"]["User"] == definition["user"] == "10001:10001"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["Memory"] == int(task["memory"]) * 2**20 and host["NanoCpus"] == int(task["cpu"]) * 10**9 // 1024
    assert attrs["Config"]["StopTimeout"] == definition["stopTimeout"]
    assert attrs["Config"]["Healthcheck"]["Test"] == definition["healthCheck"]["command"]
    assert attrs["Config"]["Image"] == f"mlstack/serving:{PROD_TAG}"
    mounts = {m["Destination"] for m in attrs["Mounts"]}
    assert mounts == {point["containerPath"] for point in definition["mountPoints"]}
    # The secret reached the container by name, from the local file, and is not in the generated file.
    compose_file = (REPO / "build" / LOCAL / "docker-compose.yml").read_text()
    assert "MLFLOW_BACKEND_STORE_URI" in compose_file and "postgresql://" not in compose_file
    mlflow_env = ecs_local.container("mlflow")["Config"]["Env"]
    assert any(e.startswith("MLFLOW_BACKEND_STORE_URI=postgresql://") for e in mlflow_env)


def test_mlflow_keeps_runs_in_postgres_and_artifacts_in_the_s3_stand_in(ecs_local: EcsLocal) -> None:
    """The stand-ins are really used: the model's files are objects in moto's S3 (through MLflow's proxy
    and boto3 inside the image), the registry rows are in PostgreSQL."""
    port = subprocess.run(
        ["docker", "port", f"{LOCAL}-aws-1", "5000"], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    s3 = boto3.client(
        "s3", endpoint_url=f"http://{port}", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="mlartifacts/").get("Contents", [])]
    assert any(key.endswith("/MLmodel") for key in keys), keys[:10]
    rows = postgres_query("select count(*) from model_versions").strip()
    assert int(rows) >= 1


def test_a_new_champion_swaps_under_load_with_no_failed_or_stale_answer(ecs_local: EcsLocal) -> None:
    """The prod swap check against the ECS-parity run: the seed task again (`seed --force`, as a run-task
    command override, with training's account) registers a new version and moves the alias while clients
    keep asking. Unsigned, serving refuses it and keeps answering; signed by the promoter, it swaps."""
    serving = ecs_local.urls["serving"]
    old = get_json(serving + "/model")["version"]
    with LoadClient(serving + "/invocations", threads=4) as load:
        done = ecs_local.run_local("--task", "seed=seed --force")
        assert done.returncode == 0, done.stderr[-2000:]
        new = get_json(
            ecs_local.urls["mlflow"] + "/api/2.0/mlflow/registered-models/alias?name=digits-classifier&alias=champion",
            auth=PROMOTER,
        )["model_version"]["version"]
        assert new != old
        refused = wait_for(lambda: (s := get_json(serving + "/model"))["last_swap_error_version"] == new and s, 60)
        assert refused["version"] == old and "not signed" in refused["last_swap_error"], refused
        api = MlflowApi(ecs_local.urls["mlflow"], account=PROMOTER[0], password=PROMOTER[1])
        signing.sign_version(api, "digits-classifier", new, signing.key_path(REPO))
        wait_for(lambda: any(r.version == new for r in load.results[-8:]), timeout=60)
    assert load.failures() == [], load.failures()[:5]
    assert len(load.results) > 50
    assert load.stale_after(old, new) == []


def test_mlflow_refuses_anonymous_calls_and_each_account_gets_only_its_grants(ecs_local: EcsLocal) -> None:
    mlflow = ecs_local.urls["mlflow"]
    search = mlflow + "/api/2.0/mlflow/registered-models/search"
    assert urllib.request.urlopen(mlflow + "/health", timeout=10).status == 200
    for auth in (None, ("promoter", "wrong")):
        with pytest.raises(urllib.error.HTTPError) as refused:
            get_json(search, auth=auth)
        assert refused.value.code == 401
    serving = ("serving", SECRETS["MLSTACK_SERVING_PASSWORD"])
    assert get_json(mlflow + "/api/2.0/mlflow/registered-models/get?name=digits-classifier", auth=serving)
    body = json.dumps({"name": "digits-classifier", "alias": "champion", "version": "1"}).encode()
    request = urllib.request.Request(
        mlflow + "/api/2.0/mlflow/registered-models/alias",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **basic_auth(serving)},
    )
    with pytest.raises(urllib.error.HTTPError) as forbidden:
        urllib.request.urlopen(request, timeout=10)
    assert forbidden.value.code == 403
    # The users live in PostgreSQL beside the runs (MLFLOW_AUTH_DATABASE_URI), not on the task's disk.
    users = postgres_query("select username from users").split()
    assert {"admin", "training", "serving", "promoter"} <= set(users), users


def test_the_migration_task_checks_the_database_the_server_uses(ecs_local: EcsLocal) -> None:
    """mlflow-migrate (`mlflow-store upgrade`) against the running server's PostgreSQL: it is at this
    MLflow's schema, so nothing to do, exit 0 (an older one would be migrated; tests/integration)."""
    done = ecs_local.run_local("--task", "mlflow-migrate")
    assert done.returncode == 0, done.stderr[-2000:]
    output = done.stdout + done.stderr
    assert "task mlflow-migrate: exit 0" in output and "nothing to do" in output, output[-2000:]


def postgres_query(sql: str) -> str:
    """One query in the RDS stand-in's database, as its `mlflow` user: the rows, one per line."""
    argv = ["docker", "exec", f"{LOCAL}-postgres-1", "psql", "-h", "/tmp", "-U", "mlflow", "-tAc", sql]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def broken_copy(ecs_local: EcsLocal, tmp_path: Path, workload: str, change: Any) -> Path:
    documents = tmp_path / "ecs"
    shutil.copytree(ecs_local.documents, documents)
    path = documents / f"{workload}.task-definition.json"
    task = json.loads(path.read_text())
    change(task["containerDefinitions"][0])
    path.write_text(json.dumps(task))
    return documents


def test_a_missing_secret_is_named_before_anything_starts(ecs_local: EcsLocal, tmp_path: Path) -> None:
    empty = tmp_path / "secrets.env"
    empty.write_text("# nothing\n")
    done = ecs_local.run_local("--secrets", str(empty))
    assert done.returncode == 2
    # every workload that reads it is named (the server and its migration task)
    assert "mlflow, mlflow-access: secret MLFLOW_AUTH_ADMIN_PASSWORD (arn:aws:secretsmanager:" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unwritable_path_fails_naming_the_container_and_the_reason(ecs_local: EcsLocal, tmp_path: Path) -> None:
    """mlflow's /tmp task volume mounted read-only: under a read-only root, Python finds no temporary
    directory, a mistake ECS would only show as a task's stopped reason."""

    def read_only_tmp(container: dict[str, Any]) -> None:
        for point in container["mountPoints"]:
            point["readOnly"] = point["containerPath"] == "/tmp" or point["readOnly"]

    done = ecs_local.run_local("--task", "", documents=broken_copy(ecs_local, tmp_path, "mlflow", read_only_tmp))
    assert done.returncode == 7, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"devtools: mlflow (container {LOCAL}-mlflow-1): exited 1: "), last
    assert "No usable temporary directory" in last


def test_a_failing_health_check_fails_naming_the_container_and_its_answer(ecs_local: EcsLocal, tmp_path: Path) -> None:
    def probe_nothing(container: dict[str, Any]) -> None:
        container["healthCheck"] = {
            "command": ["CMD", "http-ok", "http://127.0.0.1:9/health"],
            "interval": 5,
            "timeout": 2,
            "retries": 1,
            "startPeriod": 0,
        }

    documents = broken_copy(ecs_local, tmp_path, "serving", probe_nothing)
    done = ecs_local.run_local("--task", "", "--wait-timeout", "60", documents=documents)
    assert done.returncode == 7, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"devtools: serving (container {LOCAL}-serving-1): unhealthy: health check "), last
    assert "http://127.0.0.1:9/health" in last and "Connection refused" in last
