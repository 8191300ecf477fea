"""The GPU report: every layer's verdict over one GpuProbe, the GPUs seen, and how to print it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from devtools.gpu import layers
from devtools.gpu.layers import Gpu, Layer, Status
from devtools.gpu.probes import GpuProbe

MARKS = {Status.OK: "ok  ", Status.MISSING: "FAIL", Status.WARNING: "warn", Status.NOT_APPLICABLE: " -- "}


@dataclass(frozen=True)
class GpuReport:
    layers: list[Layer]  # in order: driver, wsl2, docker, toolkit, compose, cuda, smoke
    gpus: list[Gpu]  # as the host's nvidia-smi lists them
    cuda_version: str | None  # the newest CUDA the host driver runs
    nvidia_present: bool  # any sign of NVIDIA here: a driver, a toolkit-configured engine, a GPU in a container
    host: str = ""  # the machine the layers are about: "" this one, else the remote engine's (over SSH)

    @property
    def usable(self) -> bool:
        """No layer rules GPUs out. Conclusive only when the smoke test ran (layer 'smoke' is ok)."""
        return self.missing_layer() is None

    def missing_layer(self) -> Layer | None:
        """The first failing layer: the one to fix first."""
        return next((layer for layer in self.layers if layer.status is Status.MISSING), None)

    def layer(self, name: str) -> Layer:
        return next(layer for layer in self.layers if layer.name == name)

    def summary(self) -> str:
        """One line: the GPUs and the driver when usable, else the first failing layer and its fix."""
        failing = self.missing_layer()
        if failing is not None:
            return f"no usable GPU: {failing.title}: {failing.evidence}; fix: {failing.fix}"
        if not self.gpus:
            return "GPU usable (" + self.layer("smoke").evidence + ")"
        names = ", ".join(gpu.name for gpu in self.gpus)
        cuda = f", CUDA {self.cuda_version}" if self.cuda_version else ""
        return f"GPU usable: {names} (driver {self.gpus[0].driver}{cuda})"

    def to_dict(self) -> dict[str, Any]:
        failing = self.missing_layer()
        return {
            "usable": self.usable,
            "host": self.host or "this machine",
            "missing_layer": failing.name if failing else None,
            "gpus": [asdict(gpu) for gpu in self.gpus],
            "cuda_version": self.cuda_version,
            "nvidia_present": self.nvidia_present,
            "layers": [{**asdict(layer), "status": layer.status.value} for layer in self.layers],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def assess(probe: GpuProbe) -> GpuReport:
    """Decide every layer from the probe (pure); the smoke layer from probe.smoke, when it ran."""
    before_smoke = assess_before_smoke(probe)
    blocker = next((layer for layer in before_smoke if layer.status is Status.MISSING), None)
    smoke = layers.smoke_layer(probe, blocked_by=blocker)
    cuda = layers.driver_cuda(probe)
    return GpuReport(
        layers=[*before_smoke, smoke],
        gpus=layers.gpus_of(probe),
        cuda_version=f"{cuda[0]}.{cuda[1]}" if cuda else None,
        nvidia_present=_nvidia_present(probe, smoke),
        host=probe.host,
    )


def assess_before_smoke(probe: GpuProbe) -> list[Layer]:
    """Every layer but the smoke test: when one of these is missing, the smoke test is not worth running."""
    return [
        layers.driver_layer(probe),
        layers.wsl2_layer(probe),
        layers.docker_layer(probe),
        layers.toolkit_layer(probe),
        layers.compose_layer(probe),
        layers.cuda_layer(probe),
    ]


def _nvidia_present(probe: GpuProbe, smoke: Layer) -> bool:
    """Signs of NVIDIA hardware, not of intent: a toolkit alone (common in CPU-only cloud images) is none."""
    info = layers.engine_info(probe) or {}
    remote_runtime = layers.remote_endpoint(probe) is not None and "nvidia" in (info.get("Runtimes") or {})
    return bool(
        probe.nvidia_smi_query is not None
        or probe.proc_driver_version
        or probe.dev_nvidia
        or probe.wsl_nvidia_smi
        or layers.cdi_devices(info)
        or remote_runtime
        or smoke.status is Status.OK
    )


def render(report: GpuReport) -> list[str]:
    """The report as text: one line per layer, its fix under it, then the verdict."""
    width = max(len(layer.title) for layer in report.layers)
    lines = [f"GPU layers of {report.host}, the Docker engine's machine (asked over SSH)"] if report.host else []
    for layer in report.layers:
        lines.append(f"[{MARKS[layer.status]}] {layer.title.ljust(width)}  {layer.evidence}")
        if layer.fix and layer.status in (Status.MISSING, Status.WARNING):
            lines.append(f"       {' ' * width}  fix: {layer.fix}")
    failing = report.missing_layer()
    if failing is None:
        lines.append(report.summary())
    else:
        lines.append(f"no usable GPU: first failing layer: {failing.title}")
    return lines
