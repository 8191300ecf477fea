"""Rendered ECS task definitions -> one Compose project that runs them on the local engine as Fargate
would (`devtools deploy run-local`). Pure: no engine, no files; run_local.py does the rest.

What is kept from each container definition, and how Fargate's behaviour is reproduced:

- image (the local tag of the same repository), user, readonlyRootFilesystem, entryPoint, command,
  workingDirectory, environment, capabilities, initProcessEnabled, dependsOn within the task;
- healthCheck as the container's only health check: ECS ignores an image's HEALTHCHECK, so a
  container without one in its definition gets none here either;
- stopTimeout (Fargate's default 30 s when absent) as the grace period before SIGKILL;
- the task size as hard limits (cpu units / 1024 CPUs, memory MiB);
- task volumes as fresh per-task volumes that Fargate creates owned by root (0755): Docker would copy
  the image's directory, owner included, into an empty volume, so that copy is switched off
  (`nocopy`) except where the image declares the path with VOLUME, which is the one case where
  Fargate copies the image's content and ownership too;
- awsvpc: the task's containers share one network namespace (the first container's).

What stands in for AWS: secrets (values from a local file, injected under the same names), the
task role (moto's test credentials in the environment, with AWS_ENDPOINT_URL pointing at the moto
stand-in, so the real boto3 inside the image talks to it), the ALB (`<service-host>` is the service's
own name and port on the Compose network) and RDS (a PostgreSQL container). Not reproduced: IAM
policies, awslogs (logs stay in `docker logs`), the ALB's routing, EFS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from devtools.deploy.targets.ecs.bundle import Workload
from devtools.deploy.targets.ecs.settings import PLACEHOLDER
from devtools.errors import DevtoolsError, ExitCode

# The stand-in services, and what the containers are told about them.
POSTGRES = "postgres"
AWS = "aws"
AWS_PORT = 5000
POSTGRES_USER = "mlflow"
POSTGRES_PASSWORD = "mlflow-local"  # local-only; deploy/local-secrets.env names it in its URI
LOCAL_ACCOUNT_ID = "000000000000"
LOCAL_BUCKET = "mlstack-artifacts-local"
LOCAL_CREDENTIAL = "run-local"  # moto accepts any key pair
STANDIN_DOCKERFILE = "docker/ecs-local/Dockerfile"
# A one-off task (kind `task`) starts only when run-local runs it, as `aws ecs run-task` would.
TASK_PROFILE = "ecs-tasks"
# run-local's own Compose project: `<project>-ecs-local`, beside the dev stack.
PROJECT_SUFFIX = "ecs-local"

_FARGATE_DEFAULT_STOP_TIMEOUT_S = 30
# ECS's health check defaults, for fields a definition leaves out.
_HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}
_DEPENDS_ON = {
    "START": "service_started",
    "HEALTHY": "service_healthy",
    "COMPLETE": "service_completed_successfully",
    "SUCCESS": "service_completed_successfully",
}
_S3_BUCKET = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])")


@dataclass(frozen=True)
class Image:
    """A task definition's image as found on the local engine."""

    reference: str  # the local reference that is run
    volumes: frozenset[str]  # the paths the image declares with VOLUME


@dataclass(frozen=True)
class Plan:
    document: dict[str, Any]  # the Compose file, as data
    services: list[str]  # long-running workloads' Compose services, started together
    tasks: list[str]  # one-off workloads, run on demand
    secrets: dict[str, list[str]]  # secret name -> the containers that read it
    buckets: list[str]  # S3 buckets the environment names, to create in the stand-in


def local_candidates(reference: str) -> list[str]:
    """Where a rendered image reference may be found locally: as written, then without its registry
    (`123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlstack/serving:abc` -> `mlstack/serving:abc`, the
    tag `devtools build --target prod` gives). A `<registry>` placeholder is never a reference."""
    first, slash, rest = reference.partition("/")
    registry_like = bool(slash) and ("." in first or ":" in first or first == "localhost" or first.startswith("<"))
    candidates = [] if PLACEHOLDER.search(first) else [reference]
    if registry_like:
        candidates.append(rest)
    return candidates


def service_name(workload: Workload, container: Mapping[str, Any]) -> str:
    containers = workload.task_definition.get("containerDefinitions", [])
    return workload.name if len(containers) == 1 else f"{workload.name}-{container['name']}"


def fills(workloads: Sequence[Workload], region: str) -> dict[str, str]:
    """The placeholders run-local fills with its stand-ins."""
    values = {"<region>": region, "<account-id>": LOCAL_ACCOUNT_ID, "<artifact-bucket>": LOCAL_BUCKET}
    for workload in workloads:
        for container in workload.task_definition.get("containerDefinitions", []):
            ports = container.get("portMappings") or []
            if ports:  # the ALB in front of it: its own name and first port on the Compose network
                values[f"<{workload.name}-host>"] = f"{service_name(workload, container)}:{ports[0]['containerPort']}"
    return values


def plan(
    workloads: Sequence[Workload],
    images: Mapping[str, Image],
    *,
    region: str,
    root: str,
) -> Plan:
    """The Compose project for `workloads`; `images` maps each rendered image reference to its local one.
    Raises DevtoolsError (USAGE) for what run-local cannot stand in for."""
    known = fills(workloads, region)
    services: dict[str, Any] = {
        POSTGRES: _postgres(root),
        AWS: _aws(root),
    }
    volumes: dict[str, Any] = {f"{POSTGRES}-data": {}}
    long_running: list[str] = []
    tasks: list[str] = []
    secrets: dict[str, list[str]] = {}
    buckets: set[str] = set()
    for workload in workloads:
        task = workload.task_definition
        file = f"{workload.name}.task-definition.json"
        task_volumes = _task_volumes(task, file)
        containers = task.get("containerDefinitions", [])
        owner = service_name(workload, containers[0]) if containers else ""
        for container in containers:
            name = service_name(workload, container)
            if name in (POSTGRES, AWS):
                raise DevtoolsError(f"{file}: container '{name}' has the name of a run-local stand-in", ExitCode.USAGE)
            environment, named = _environment(container, known, region, file)
            buckets.update(_S3_BUCKET.findall(" ".join(str(v) for v in environment.values())))
            for secret in container.get("secrets", []):
                secrets.setdefault(str(secret["name"]), []).append(name)
            service = _service(workload, task, container, images[str(container["image"])], environment, named)
            service["volumes"] = _mounts(workload, container, task_volumes, images[str(container["image"])], file)
            for volume in service["volumes"]:
                volumes[volume["source"]] = {}
            if name != owner:  # awsvpc: one network namespace per task, the first container's
                service["network_mode"] = f"service:{owner}"
                service.pop("ports", None)
            services[name] = service
            if workload.service is None:
                service["profiles"] = [TASK_PROFILE]
                tasks.append(name)
            else:
                long_running.append(name)
    document = {"services": services, "volumes": volumes}
    return Plan(document, long_running, tasks, secrets, sorted(buckets))


def _service(
    workload: Workload,
    task: Mapping[str, Any],
    container: Mapping[str, Any],
    image: Image,
    environment: dict[str, str],
    secret_names: list[str],
) -> dict[str, Any]:
    file = f"{workload.name}.task-definition.json"
    service: dict[str, Any] = {
        "image": image.reference,
        "pull_policy": "never",  # the image is the one built here; a missing one is reported before
        "read_only": bool(container.get("readonlyRootFilesystem", False)),
        # Values from this file, then the secrets by name only: Compose takes their values from its
        # own environment, so no secret is ever written into the generated file.
        "environment": [*(f"{k}={v}" for k, v in sorted(environment.items())), *sorted(secret_names)],
        "stop_grace_period": f"{int(container.get('stopTimeout', _FARGATE_DEFAULT_STOP_TIMEOUT_S))}s",
        "restart": "no",  # a stopped task is reported, not restarted out of sight
        "labels": {"devtools.ecs.family": str(task.get("family", "")), "devtools.ecs.container": container["name"]},
        "healthcheck": _healthcheck(container.get("healthCheck")),
    }
    for ecs_key, compose_key in (
        ("user", "user"),
        ("entryPoint", "entrypoint"),
        ("command", "command"),
        ("workingDirectory", "working_dir"),
    ):
        if ecs_key in container:
            value = container[ecs_key]
            service[compose_key] = _argv(value, file) if isinstance(value, list) else str(value)
    linux = container.get("linuxParameters") or {}
    capabilities = linux.get("capabilities") or {}
    if capabilities.get("drop"):
        service["cap_drop"] = list(capabilities["drop"])
    if capabilities.get("add"):
        service["cap_add"] = list(capabilities["add"])
    if linux.get("initProcessEnabled"):
        service["init"] = True
    if "cpu" in task:
        service["cpus"] = int(str(task["cpu"])) / 1024
    memory = container.get("memory") or task.get("memory")
    if memory:
        service["mem_limit"] = f"{int(str(memory))}m"
    ports = [
        {"target": int(port["containerPort"]), "host_ip": "127.0.0.1", "protocol": port.get("protocol", "tcp")}
        for port in container.get("portMappings") or []
    ]
    if ports:
        service["ports"] = ports
    depends = {
        service_name(workload, {"name": dep["containerName"]}): {"condition": _DEPENDS_ON[dep["condition"]]}
        for dep in container.get("dependsOn") or []
    }
    if depends:
        service["depends_on"] = depends
    return service


def _environment(
    container: Mapping[str, Any], known: Mapping[str, str], region: str, file: str
) -> tuple[dict[str, str], list[str]]:
    environment = {
        str(pair["name"]): _filled(str(pair["value"]), known, file, f"environment {pair['name']}")
        for pair in container.get("environment", [])
    }
    # The task role's stand-in: credentials moto accepts, and every AWS call sent to moto.
    environment.update(
        {
            "AWS_ENDPOINT_URL": f"http://{AWS}:{AWS_PORT}",
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIAL,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }
    )
    secret_names = [str(secret["name"]) for secret in container.get("secrets", [])]
    return environment, secret_names


def _filled(text: str, known: Mapping[str, str], file: str, where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(0)
        if name not in known:
            raise DevtoolsError(
                f"{file}: {where} has {name}, which run-local cannot fill (it fills "
                f"{' '.join(sorted(known))}); set it and render again",
                ExitCode.USAGE,
            )
        return known[name]

    return PLACEHOLDER.sub(replace, text)


def _argv(items: Iterable[Any], file: str) -> list[str]:
    argv = [str(item) for item in items]
    for text in argv:
        if PLACEHOLDER.search(text):
            raise DevtoolsError(f"{file}: a command argument has a placeholder ({text}); render again", ExitCode.USAGE)
    return argv


def _healthcheck(check: Mapping[str, Any] | None) -> dict[str, Any]:
    if not check:
        return {"disable": True}  # ECS ignores the image's HEALTHCHECK
    merged = {**_HEALTH_DEFAULTS, **check}
    return {
        "test": list(check["command"]),
        "interval": f"{merged['interval']}s",
        "timeout": f"{merged['timeout']}s",
        "retries": int(merged["retries"]),
        "start_period": f"{merged['startPeriod']}s",
    }


def _task_volumes(task: Mapping[str, Any], file: str) -> set[str]:
    names = set()
    for volume in task.get("volumes", []):
        extra = sorted(set(volume) - {"name", "host"})
        if extra or (volume.get("host") or {}).get("sourcePath"):
            kind = extra[0] if extra else "host.sourcePath"
            raise DevtoolsError(
                f"{file}: volume '{volume['name']}' uses {kind}, which run-local does not stand in for "
                "(only task storage, as the renderer writes it)",
                ExitCode.USAGE,
            )
        names.add(str(volume["name"]))
    return names


def _mounts(
    workload: Workload, container: Mapping[str, Any], task_volumes: set[str], image: Image, file: str
) -> list[dict[str, Any]]:
    mounts = []
    for point in container.get("mountPoints", []):
        source = str(point["sourceVolume"])
        if source not in task_volumes:
            raise DevtoolsError(
                f"{file}: mount point {point['containerPath']} names no task volume '{source}'", ExitCode.USAGE
            )
        path = str(point["containerPath"])
        mount: dict[str, Any] = {
            "type": "volume",
            "source": f"{workload.name}-{source}",  # task storage: per task, shared by its containers
            "target": path,
            "read_only": bool(point.get("readOnly", False)),
        }
        if path not in image.volumes:
            mount["volume"] = {"nocopy": True}  # root-owned and empty, as Fargate creates it
        mounts.append(mount)
    return mounts


def _postgres(root: str) -> dict[str, Any]:
    return {
        "build": {"context": root, "dockerfile": STANDIN_DOCKERFILE, "target": "postgres"},
        "image": "mlstack/ecs-local-postgres:latest",
        "environment": [f"POSTGRES_USER={POSTGRES_USER}", f"POSTGRES_PASSWORD={POSTGRES_PASSWORD}"],
        "volumes": [{"type": "volume", "source": f"{POSTGRES}-data", "target": "/var/lib/postgresql/data"}],
        "labels": {"devtools.ecs.standin": "RDS PostgreSQL"},
    }


def _aws(root: str) -> dict[str, Any]:
    return {
        "build": {"context": root, "dockerfile": STANDIN_DOCKERFILE, "target": "moto"},
        "image": "mlstack/ecs-local-moto:latest",
        "ports": [{"target": AWS_PORT, "host_ip": "127.0.0.1", "protocol": "tcp"}],
        "labels": {"devtools.ecs.standin": "AWS APIs (moto server mode)"},
    }
