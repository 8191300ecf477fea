"""The ECS view of a workload: the target-neutral one (devtools.deploy.workload) under ECS's own rules,
plus the service's `x-ecs` keys.

ECS's rules: a task size Fargate offers (jobs with GPUs or several nodes run on EC2, which has none),
health checks within ECS's bounds, secrets as Secrets Manager or SSM parameter ARNs, at most 120 s to
stop. `x-ecs` holds what only ECS has: the task role, Fargate's ephemeral storage, the load balancer's
grace period, and the capacity provider of the EC2 GPU instances.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, NoReturn

from devtools.deploy import units
from devtools.deploy.targets.ecs import fargate
from devtools.deploy.targets.ecs.secret_arns import is_secret_reference
from devtools.deploy.workload import (
    EXTENSION,
    HealthCheck,
    Kind,
    Size,
    Workload,
    extension,
    read_workload,
    whole_number,
)
from devtools.errors import DevtoolsError, ExitCode

ECS_EXTENSION = "x-ecs"
KEYS = ("task-role-arn", "ephemeral-storage", "health-check-grace-period", "capacity-provider")
_SERVICE_ONLY_KEYS = ("health-check-grace-period",)
_JOB_ONLY_KEYS = ("capacity-provider",)
# ECS container health check limits (HealthCheck in the ECS API reference).
_INTERVAL_S = (5, 300)
_TIMEOUT_S = (2, 60)
_RETRIES = (1, 10)
_START_PERIOD_S = (0, 300)
_EPHEMERAL_STORAGE_GIB = (21, 200)
MAX_STOP_TIMEOUT_S = 120


@dataclass(frozen=True)
class EcsWorkload(Workload):
    task_role_arn: str | None = None
    ephemeral_storage_gib: int | None = None
    health_check_grace_period: int = 60
    capacity_provider: str | None = None  # the ECS capacity provider of the EC2 GPU instances

    @property
    def on_ec2(self) -> bool:
        """GPUs: ECS on EC2 capacity (Fargate offers none), or AWS Batch on EC2 for several nodes."""
        return self.gpus > 0 or self.nodes > 1


def read_ecs_workload(name: str, service: Mapping[str, Any], *, base_images: set[str]) -> EcsWorkload | None:
    """The ECS view of one Compose service, or None when it is not deployed."""
    workload = read_workload(name, service, base_images=base_images)
    if workload is None:
        return None
    return _EcsReader(name, service).read(workload)


class _EcsReader:
    def __init__(self, name: str, service: Mapping[str, Any]) -> None:
        self.name = name
        self.service = service
        self.ext = extension(name, service, ECS_EXTENSION, KEYS)

    def fail(self, message: str) -> NoReturn:
        raise DevtoolsError(f"{self.name}: {message}", ExitCode.FAILURE)

    def read(self, workload: Workload) -> EcsWorkload:
        if workload.kind is Kind.TASK and (misplaced := [key for key in _SERVICE_ONLY_KEYS if key in self.ext]):
            self.fail(f"{ECS_EXTENSION}.{misplaced[0]} applies to services only, and this is a run-task job")
        if workload.kind is Kind.SERVICE and (misplaced := [key for key in _JOB_ONLY_KEYS if key in self.ext]):
            self.fail(f"{ECS_EXTENSION}.{misplaced[0]} applies to run-task jobs (training) only, and this is a service")
        self._check_secrets(workload.secrets)
        if workload.stop_timeout > MAX_STOP_TIMEOUT_S:
            self.fail(
                f"stop_grace_period {self.service.get('stop_grace_period')} is longer than ECS allows (stopTimeout "
                f"at most {MAX_STOP_TIMEOUT_S} s); shorten it"
            )
        on_fargate = not (workload.gpus or workload.nodes > 1)
        health = _within_ecs_bounds(workload.health)
        neutral = {field.name: getattr(workload, field.name) for field in fields(Workload)}
        return EcsWorkload(
            **{**neutral, "size": self._size(workload.size, on_fargate), "health": health},
            task_role_arn=str(self.ext["task-role-arn"]) if self.ext.get("task-role-arn") else None,
            ephemeral_storage_gib=self._ephemeral_storage(),
            health_check_grace_period=self._grace_period(health),
            capacity_provider=str(self.ext["capacity-provider"]) if self.ext.get("capacity-provider") else None,
        )

    def _size(self, size: Size, on_fargate: bool) -> Size:
        """A Fargate task size: written ones must be one, limits are rounded up to the smallest that fits."""
        try:
            if size.from_limits:
                cpu, memory = fargate.smallest_fitting(size.cpu, size.memory)
                return replace(size, cpu=cpu, memory=memory)
            if size.explicit and on_fargate:
                fargate.check(size.cpu, size.memory)
        except ValueError as exc:
            self.fail(f"task size: {exc}")
        return size

    def _check_secrets(self, secrets: Mapping[str, str]) -> None:
        for key, reference in secrets.items():
            if not is_secret_reference(reference):
                # The value may be the plaintext secret itself: never echo it.
                self.fail(
                    f"{EXTENSION}.secrets.{key} must be a Secrets Manager secret or SSM parameter ARN "
                    "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME or arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)"
                )

    def _ephemeral_storage(self) -> int | None:
        if "ephemeral-storage" not in self.ext:
            return None
        low, high = _EPHEMERAL_STORAGE_GIB
        size = whole_number(self.name, ECS_EXTENSION, self.ext, "ephemeral-storage", low, minimum=low)
        if size > high:
            self.fail(f"{ECS_EXTENSION}.ephemeral-storage {size} GiB: Fargate allows {low}-{high}")
        return size

    def _grace_period(self, health: HealthCheck | None) -> int:
        default = health.start_period if health and health.start_period else 60
        if "health-check-grace-period" not in self.ext:
            return default
        try:
            return units.whole_seconds(self.ext["health-check-grace-period"])
        except ValueError as exc:
            self.fail(f"{ECS_EXTENSION}.health-check-grace-period: {exc}")


def _within_ecs_bounds(health: HealthCheck | None) -> HealthCheck | None:
    if health is None:
        return None
    return replace(
        health,
        interval=_clamp(health.interval, _INTERVAL_S),
        timeout=_clamp(health.timeout, _TIMEOUT_S),
        retries=_clamp(health.retries, _RETRIES),
        start_period=_clamp(health.start_period, _START_PERIOD_S),
    )


def _clamp(value: int, bounds: tuple[int, int]) -> int:
    return max(bounds[0], min(bounds[1], value))
