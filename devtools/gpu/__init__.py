"""Can containers of this stack use an NVIDIA GPU? Detection as a report of layers, each with its fix.

Layers, in order: host driver, WSL2, Docker engine, container toolkit, Compose GPU syntax, driver
CUDA (vs the training image's), and the smoke test (`docker run --gpus all ... nvidia-smi -L`), which
is the verdict; the others explain why it would fail. probes.py collects raw outputs (the engine's
through devtools.engine.facts, shared with doctor), layers.py and report.py decide over them without
side effects. This package only detects: what a command does with the report (fail `up --gpu`, add
doctor rows) lives with that command's policy (devtools.stack.gpu, devtools.checks).

    report = detect(smoke=True)     # every layer; the smoke test only when no earlier layer fails
"""

from __future__ import annotations

from devtools.gpu import probes
from devtools.gpu.layers import Gpu, Layer, Status
from devtools.gpu.report import GpuReport, assess, assess_before_smoke, render

__all__ = ["Gpu", "GpuReport", "Layer", "Status", "assess", "detect", "render"]


def detect(smoke: bool = True) -> GpuReport:
    """Probe this machine and its Docker engine. smoke=True also runs the smoke test (a second or two,
    never pulls) unless an earlier layer already rules GPUs out."""
    probe = probes.collect()
    if smoke and all(layer.status is not Status.MISSING for layer in assess_before_smoke(probe)):
        probe = probes.run_smoke(probe)
    return assess(probe)
