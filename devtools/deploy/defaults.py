"""This stack's deployment defaults, used where a service's `x-deploy` block says nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The image's fixed non-root user (docker/*/Dockerfile, `prod` targets).
IMAGE_USER = "10001:10001"

# Compose's own default stop_grace_period, so a service stops the same way on both.
STOP_TIMEOUT_S = 10

# python -m serving passes SERVING_GRACEFUL_TIMEOUT (default 8 s) to uvicorn's
# --timeout-graceful-shutdown (services/serving/__main__.py).
SERVING_GRACEFUL_TIMEOUT_ENV = "SERVING_GRACEFUL_TIMEOUT"

# With a read-only root filesystem every writable path must be a volume; /tmp is the images' HOME and
# where Python and MLflow put temporary files.
ALWAYS_WRITABLE = ("/tmp",)

# An entrypoint that only keeps a workspace container alive; a run-task runs the image's own instead.
KEEP_ALIVE_COMMANDS = (("sleep", "infinity"), ("tail", "-f", "/dev/null"))


@dataclass(frozen=True)
class Defaults:
    cpu: int = 512
    memory: int = 1024
    desired_count: int = 1
    # Same keys as `x-deploy.autoscaling`; None: no autoscaling unless x-deploy asks for it.
    autoscaling: Mapping[str, object] | None = None
    # Seconds the app itself drains after SIGTERM; the stop timeout must exceed it.
    graceful_timeout: int | None = None


STACK_DEFAULTS: Mapping[str, Defaults] = {
    # Idle MLflow servers take 400-700 MiB; one worker per task (3.17 hangs on SIGTERM with more).
    "mlflow": Defaults(cpu=512, memory=1024, desired_count=1),
    # torch + one uvicorn process (one server per task: one alias decision, one /metrics); capacity
    # scales with the task count, never fewer than two so a deployment or a lost task never stops predictions.
    "serving": Defaults(
        cpu=1024,
        memory=2048,
        desired_count=2,
        autoscaling={"min": 2, "max": 6, "metric": "cpu", "target": 60},
        graceful_timeout=8,
    ),
    "training": Defaults(cpu=2048, memory=8192),
    "seed": Defaults(cpu=2048, memory=4096),
}

GENERIC = Defaults()


def for_service(name: str) -> Defaults:
    return STACK_DEFAULTS.get(name, GENERIC)
