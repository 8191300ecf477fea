"""The documents one `devtools deploy render ecs` wrote, read back from its directory and grouped by
workload: `<workload>.<kind>.json`, the names devtools.deploy.targets.ecs.aws_documents gives them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.deploy.targets.ecs import validate
from devtools.deploy.targets.ecs.documents import Document, strings
from devtools.deploy.targets.ecs.settings import PLACEHOLDER
from devtools.errors import DevtoolsError, ExitCode

# File kind -> (botocore service, operation): what ecs.documents writes for each.
KINDS: Mapping[str, tuple[str, str]] = {
    "task-definition": ("ecs", "RegisterTaskDefinition"),
    "service": ("ecs", "CreateService"),
    "target-group": ("elbv2", "CreateTargetGroup"),
    "scalable-target": ("application-autoscaling", "RegisterScalableTarget"),
    "scaling-policy": ("application-autoscaling", "PutScalingPolicy"),
    # GPU jobs (x-ecs.gpus / nodes): how to run one on EC2 GPU capacity (apply checks the cluster has
    # such capacity; the run itself is `aws ecs run-task --cli-input-json file://...`), and the AWS
    # Batch multi-node job definition apply registers.
    "run-task": ("ecs", "RunTask"),
    "job-definition": ("batch", "RegisterJobDefinition"),
}

# Placeholders apply itself can fill: the ARN of the target group it finds or creates, and the ALB
# resource label made from that target group and its load balancer.
TARGET_GROUP_ARN = "target-group-arn"
ALB_RESOURCE_LABEL = "alb-resource-label"


@dataclass(frozen=True)
class Workload:
    """One Compose service's documents (parameters only); a run-task job has a task definition alone."""

    name: str
    task_definition: dict[str, Any]
    service: dict[str, Any] | None = None
    target_group: dict[str, Any] | None = None
    scalable_target: dict[str, Any] | None = None
    scaling_policy: dict[str, Any] | None = None
    run_task: dict[str, Any] | None = None
    job_definition: dict[str, Any] | None = None

    @property
    def family(self) -> str:
        return str(self.task_definition["family"])


@dataclass(frozen=True)
class Bundle:
    directory: Path
    documents: list[Document]
    workloads: list[Workload]

    @property
    def regions(self) -> list[str]:
        """The regions the task definitions log to (`awslogs-region`): the one they were rendered for."""
        found = {
            str(container["logConfiguration"]["options"]["awslogs-region"])
            for workload in self.workloads
            for container in workload.task_definition.get("containerDefinitions", [])
            if "awslogs-region" in container.get("logConfiguration", {}).get("options", {})
        }
        return sorted(found)


def fillable(name: str, workload: Workload) -> bool:
    """`<target-group-arn:serving>` and `<alb-resource-label:serving>` where serving has a target group
    document: apply fills them once it has the target group, so one render is enough."""
    kind, _, service = name.strip("<>").partition(":")
    fillable_kinds = (TARGET_GROUP_ARN, ALB_RESOURCE_LABEL)
    return workload.target_group is not None and service == workload.name and kind in fillable_kinds


def read(directory: Path, *, can_fill: Callable[[str, Workload], bool] = fillable) -> Bundle:
    """Every `<workload>.<kind>.json` in `directory`, validated against botocore's models and free of
    placeholders the reader cannot fill (`can_fill`: apply's by default); raises DevtoolsError (USAGE)
    before anything reaches AWS."""
    if not directory.is_dir():
        raise DevtoolsError(
            f"no ECS documents in {directory}: run `devtools deploy render ecs` first (or pass --from DIR)",
            ExitCode.USAGE,
        )
    documents: list[Document] = []
    by_workload: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(directory.glob("*.json")):
        split = _split_name(path.name)
        if split is None:
            continue  # not a document the renderer writes
        name, kind = split
        service_model, operation = KINDS[kind]
        params = _load(path)
        documents.append(Document(path.name, service_model, operation, params))
        by_workload.setdefault(name, {})[kind] = params
    if not documents:
        raise DevtoolsError(
            f"no ECS documents in {directory}: run `devtools deploy render ecs` first (or pass --from DIR)",
            ExitCode.USAGE,
        )
    workloads = [_workload(name, kinds) for name, kinds in sorted(by_workload.items())]
    bundle = Bundle(directory, documents, workloads)
    _check_placeholders(bundle, can_fill)
    try:
        validate.check(documents)
    except DevtoolsError as exc:  # hand-edited since the render: an input problem, found before any call
        raise DevtoolsError(exc.message, ExitCode.USAGE) from exc
    return bundle


def _split_name(filename: str) -> tuple[str, str] | None:
    for kind in KINDS:
        suffix = f".{kind}.json"
        if filename.endswith(suffix) and len(filename) > len(suffix):
            return filename[: -len(suffix)], kind
    return None


def _load(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except OSError as exc:
        raise DevtoolsError(f"cannot read {path}: {exc.strerror}", ExitCode.USAGE) from exc
    except json.JSONDecodeError as exc:
        raise DevtoolsError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})", ExitCode.USAGE) from exc
    if not isinstance(loaded, dict):
        raise DevtoolsError(f"{path}: expected a JSON object of request parameters", ExitCode.USAGE)
    return loaded


def _workload(name: str, kinds: dict[str, dict[str, Any]]) -> Workload:
    if "task-definition" not in kinds:
        others = ", ".join(f"{name}.{kind}.json" for kind in sorted(kinds))
        raise DevtoolsError(f"{others} without {name}.task-definition.json: render again", ExitCode.USAGE)
    workload = Workload(
        name,
        kinds["task-definition"],
        service=kinds.get("service"),
        target_group=kinds.get("target-group"),
        scalable_target=kinds.get("scalable-target"),
        scaling_policy=kinds.get("scaling-policy"),
        run_task=kinds.get("run-task"),
        job_definition=kinds.get("job-definition"),
    )
    if workload.service is not None and workload.service.get("taskDefinition") != workload.family:
        raise DevtoolsError(
            f"{name}.service.json: taskDefinition is '{workload.service.get('taskDefinition')}', expected the "
            f"family '{workload.family}' of {name}.task-definition.json",
            ExitCode.USAGE,
        )
    if (workload.scalable_target or workload.scaling_policy) and workload.service is None:
        raise DevtoolsError(f"{name}: autoscaling documents without {name}.service.json: render again", ExitCode.USAGE)
    return workload


def _check_placeholders(bundle: Bundle, can_fill: Callable[[str, Workload], bool]) -> None:
    left: dict[str, set[str]] = {}
    for workload in bundle.workloads:
        for kind, params in _documents_of(workload):
            for text in strings(params):
                for name in PLACEHOLDER.findall(text):
                    if not can_fill(name, workload):
                        left.setdefault(name, set()).add(f"{workload.name}.{kind}.json")
    if left:
        names = " ".join(sorted(left))
        files = ", ".join(sorted({file for found in left.values() for file in found}))
        raise DevtoolsError(
            f"the documents in {bundle.directory} still have placeholders: {names} (in {files}); "
            "set them (deploy/README.md, Render) and render again",
            ExitCode.USAGE,
        )


def _documents_of(workload: Workload) -> Iterable[tuple[str, dict[str, Any]]]:
    for kind, params in (
        ("task-definition", workload.task_definition),
        ("service", workload.service),
        ("target-group", workload.target_group),
        ("scalable-target", workload.scalable_target),
        ("scaling-policy", workload.scaling_policy),
        ("run-task", workload.run_task),
        ("job-definition", workload.job_definition),
    ):
        if params is not None:
            yield kind, params
