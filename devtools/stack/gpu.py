"""The GPU policy of `up --gpu` and `train --gpus`: detection decides, the stack gets one more -f file.

Returns values and raises DevtoolsError; the commands print. Cheap to import (every command's --help
imports it): detection itself (devtools.gpu) is imported only when GPUs are asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from contract import gpus

from devtools.errors import DevtoolsError, ExitCode
from devtools.stack.project import ComposeProject

if TYPE_CHECKING:
    from devtools.gpu import GpuReport

# `train --gpus all`: every GPU the container sees, spelled as the training image takes it.
ALL_GPUS = gpus.ALL_GPUS


class GpuMode(str, Enum):
    REQUIRE = "require"  # bare --gpu: fail before starting anything unless a GPU is usable
    AUTO = "auto"  # --gpu auto: use one if there is one, else start on CPU


@dataclass(frozen=True)
class GpuChoice:
    project: ComposeProject  # with the GPU override when a GPU is used
    note: str | None  # what detection found, for the command to print (None: GPUs were not asked for)


def require_usable(report: GpuReport, option: str = "--gpu") -> None:
    """Raise `--gpu: no usable GPU: <layer>: <evidence>; fix: <fix>`, naming the first failing layer."""
    if not report.usable:
        raise DevtoolsError(f"{option}: {report.summary()}", ExitCode.FAILURE)


def choose_gpu(project: ComposeProject, mode: GpuMode | None, option: str = "--gpu") -> GpuChoice:
    """The project to run for `mode`: the GPU override appended when detection says a GPU is usable;
    with `require`, a DevtoolsError (before anything starts) when it is not."""
    if mode is None:
        return GpuChoice(project, None)
    from devtools import gpu  # probes and parsing: only when GPUs are asked for

    report = gpu.detect(smoke=True)
    if mode is GpuMode.REQUIRE:
        require_usable(report, option)
    elif not report.usable:
        return GpuChoice(project, f"{option} auto: {report.summary()}; starting on CPU")
    return GpuChoice(project.with_gpu(), report.summary())


def require_running_gpus(project: ComposeProject, service: str, option: str) -> None:
    """A running container keeps the devices it started with: fail when `service` started without GPUs."""
    ids = project.run("ps", "-q", service, capture=True).stdout.split()
    if not ids:
        return
    from devtools.engine import inspect  # json: not for every command's --help

    container = inspect.container(ids[0])
    if container is not None and not container.gpu_requested:
        raise DevtoolsError(
            f"{option}: the running {service} container has no GPUs (the stack was started without --gpu); "
            "restart it with `devtools up --gpu`",
            ExitCode.FAILURE,
        )
