"""The deploy targets, registered in one place (as pre-commit lists its languages in one plain dict).

Each is a package here whose `commands` module is a devtools.deploy.target.DeployTarget. Adding a
target is a new package and one line in TARGETS; nothing outside its package names it.

    ecs/    AWS ECS (Fargate; EC2 GPU capacity and AWS Batch for GPU and multi-node jobs): render,
            validate against botocore's models, apply with boto3, run-local with AWS stand-ins
"""

from __future__ import annotations

import importlib
from typing import cast

from devtools.deploy.target import DeployTarget

# Name -> the module of its commands; imported when the CLI is built (keep those modules light).
TARGETS: dict[str, str] = {
    "ecs": "devtools.deploy.targets.ecs.commands",
}
# The target `deploy apply` and `deploy run-local` serve.
DEFAULT = "ecs"


def load(name: str) -> DeployTarget:
    return cast(DeployTarget, importlib.import_module(TARGETS[name]))


def every() -> list[DeployTarget]:
    return [load(name) for name in TARGETS]
