"""The Compose project a command runs when GPUs are asked for: one more -f file, or a clear error.

Shared by `up --gpu` and `train --gpus`. Stays cheap to import (the commands' --help imports it);
detection itself (devtools.gpu) is imported only when GPUs are asked for.
"""

from enum import Enum

import typer

from devtools import proc
from devtools.compose import ComposeProject
from devtools.errors import DevtoolsError, ExitCode


class GpuMode(str, Enum):
    require = "require"
    auto = "auto"


def with_gpu(project: ComposeProject, mode: GpuMode | None, option: str = "--gpu") -> ComposeProject:
    """`require`: fail before starting anything unless a GPU is usable; `auto`: use one if there is.

    Either way the only change to the stack is one more -f file."""
    if mode is None:
        return project
    from devtools import gpu

    report = gpu.detect(smoke=True)
    if mode is GpuMode.require:
        gpu.require_gpu(report, option)
    elif not report.usable:
        typer.echo(f"--gpu auto: {report.summary()}; starting on CPU", err=True)
        return project
    typer.echo(report.summary(), err=True)
    return project.with_file(project.root / gpu.GPU_OVERRIDE_FILE)


def requests_gpus(device_requests_json: str) -> bool:
    """Whether `docker inspect`'s HostConfig.DeviceRequests (JSON) reserves GPUs for the container."""
    import json  # not at the top: every command's --help imports this module

    requests = json.loads(device_requests_json or "null") or []
    return any(
        request.get("Driver") == "nvidia" or any("gpu" in caps for caps in request.get("Capabilities") or [])
        for request in requests
    )


def require_running_gpus(project: ComposeProject, service: str, option: str) -> None:
    """A running container keeps the devices it started with: fail when `service` started without GPUs."""
    ids = project.run("ps", "-q", service, capture=True).stdout.split()
    if not ids:
        return
    done = proc.run(["docker", "inspect", "--format", "{{json .HostConfig.DeviceRequests}}", ids[0]], capture=True)
    if not requests_gpus(done.stdout.strip()):
        raise DevtoolsError(
            f"{option}: the running {service} container has no GPUs (the stack was started without --gpu); "
            "restart it with `devtools up --gpu`",
            ExitCode.FAILURE,
        )
