"""Can containers of this stack use an NVIDIA GPU? Detection as a report of layers, each with its fix.

Layers, in order: host driver, WSL2, Docker engine, container toolkit, Compose GPU syntax, driver
CUDA (vs the training image's), and the smoke test (`docker run --gpus all ... nvidia-smi -L`), which
is the verdict; the others explain why it would fail. probes.py collects raw outputs, layers.py and
report.py decide over them without side effects.

For callers:
    report = detect(smoke=True)     # every layer; the smoke test only when no earlier layer fails
    require_gpu(report)             # `up --gpu`: DevtoolsError naming the first failing layer
    gpu_checks(report)              # `doctor`: Check rows (one "optional" row on a machine without NVIDIA)
    GPU_OVERRIDE_FILE               # the Compose file `up --gpu` appends (-f) after the dev override
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from devtools.errors import DevtoolsError, ExitCode
from devtools.gpu import probes
from devtools.gpu.layers import Gpu, Layer, Status
from devtools.gpu.report import GpuReport, assess, assess_before_smoke, render

if TYPE_CHECKING:
    from devtools.checks import Check

from devtools.project import GPU_FILE as GPU_OVERRIDE_FILE

__all__ = [
    "GPU_OVERRIDE_FILE",
    "Gpu",
    "GpuReport",
    "Layer",
    "Status",
    "assess",
    "detect",
    "gpu_checks",
    "render",
    "require_gpu",
]


def detect(smoke: bool = True) -> GpuReport:
    """Probe this machine and its Docker engine. smoke=True also runs the smoke test (a second or two,
    never pulls) unless an earlier layer already rules GPUs out."""
    probe = probes.collect()
    if smoke and all(layer.status is not Status.MISSING for layer in assess_before_smoke(probe)):
        probe = probes.run_smoke(probe)
    return assess(probe, smoke_requested=smoke)


def require_gpu(report: GpuReport, option: str = "--gpu") -> None:
    """Raise when the report rules GPUs out: `--gpu: no usable GPU: <layer>: <evidence>; fix: <fix>`."""
    failing = report.missing_layer()
    if failing is not None:
        raise DevtoolsError(
            f"{option}: no usable GPU: {failing.title}: {failing.evidence}; fix: {failing.fix}", ExitCode.FAILURE
        )


def gpu_checks(report: GpuReport) -> list[Check]:
    """Doctor rows. A GPU is optional: without any sign of NVIDIA here, one passing row says so;
    otherwise a passing summary when usable, or one failing row per failing layer, plus warnings."""
    from devtools.checks import Check  # devtools.checks may import this package: no cycle at import time

    if not report.nvidia_present:
        return [Check("GPU (optional)", True, f"none ({report.layer('driver').evidence}); training runs on CPU")]
    rows = []
    if report.usable:
        rows.append(Check("GPU", True, report.summary().removeprefix("GPU usable: ")))
    for layer in report.layers:
        if layer.status is Status.MISSING:
            rows.append(Check(f"GPU {layer.title}", False, layer.evidence, layer.fix))
        elif layer.status is Status.WARNING:
            rows.append(Check(f"GPU {layer.title}", True, f"warning: {layer.evidence} (fix: {layer.fix})"))
    return rows
