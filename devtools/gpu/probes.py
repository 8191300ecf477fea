"""Collects the raw facts GPU detection decides on: command outputs, files and device nodes, unparsed.

This is the only impure part of devtools.gpu: every process goes through devtools.proc, every read
is relative to HOST_ROOT, so a test can replay a recorded machine. The decisions live in layers.py.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from devtools import proc
from devtools.engine import facts

HOST_ROOT = Path("/")
GPU_QUERY_FIELDS = ("name", "driver_version", "memory.total", "compute_cap")
# Drivers older than ~510 reject the whole query when it names compute_cap; they get the rest.
GPU_QUERY_FIELDS_OLD_DRIVER = GPU_QUERY_FIELDS[:3]
WSL_NVIDIA_SMI = "usr/lib/wsl/lib/nvidia-smi"
# nvidia-container-runtime-hook is what dockerd needs on its PATH to serve `--gpus`; nvidia-ctk and
# nvidia-container-runtime come with the toolkit's base package, the hook with the full one.
TOOLKIT_PROGRAMS = ("nvidia-ctk", "nvidia-container-runtime-hook", "nvidia-container-runtime", "nvidia-container-cli")
CDI_SPEC_DIRS = ("etc/cdi", "var/run/cdi")
_CDI_KIND = re.compile(r"""["']?kind["']?\s*:\s*["']?([\w.-]+/[\w.-]+)""")


@dataclass(frozen=True)
class CdiSpec:
    path: str
    kind: str  # e.g. nvidia.com/gpu; "" when the file names none


@dataclass(frozen=True)
class GpuProbe:
    """What one machine showed. A None command result means the program was not found."""

    system: str = "linux"  # sys.platform
    kernel_release: str = ""  # uname -r
    nvidia_smi_query: proc.Completed | None = None  # nvidia-smi --query-gpu=... --format=csv,noheader
    nvidia_smi: proc.Completed | None = None  # plain nvidia-smi: the header has "CUDA Version"
    proc_driver_version: str | None = None  # /proc/driver/nvidia/version
    dev_nvidia: tuple[str, ...] = ()  # names of /dev/nvidia* entries
    dev_dxg: bool = False  # WSL2's paravirtual GPU device
    wsl_nvidia_smi: bool = False  # /usr/lib/wsl/lib/nvidia-smi, put there by the Windows driver
    toolkit_programs: tuple[str, ...] = ()  # those of TOOLKIT_PROGRAMS on PATH
    cdi_specs: tuple[CdiSpec, ...] = ()
    engine_probed: bool = False  # False: host checks only (no Docker questions asked)
    docker_endpoint: str = ""  # DOCKER_HOST, else the current context's endpoint
    docker_info: proc.Completed | None = None  # docker info --format '{{json .}}'
    compose_version: proc.Completed | None = None  # docker compose version --short
    smoke_images_tried: tuple[str, ...] = ()
    smoke_image: str | None = None
    smoke: proc.Completed | None = None  # docker run --gpus all ... nvidia-smi -L


def system() -> str:
    return sys.platform


def kernel_release() -> str:
    return platform.release()


def collect(*, engine: bool = True) -> GpuProbe:
    """Everything but the smoke test. engine=False asks Docker nothing (a machine without Docker)."""
    root = HOST_ROOT
    query, header = _nvidia_smi(root)
    probe = GpuProbe(
        system=system(),
        kernel_release=kernel_release(),
        nvidia_smi_query=query,
        nvidia_smi=header,
        proc_driver_version=_read(root / "proc/driver/nvidia/version"),
        dev_nvidia=tuple(sorted(path.name for path in (root / "dev").glob("nvidia*"))),
        dev_dxg=(root / "dev/dxg").exists(),
        wsl_nvidia_smi=(root / WSL_NVIDIA_SMI).is_file(),
        toolkit_programs=tuple(name for name in TOOLKIT_PROGRAMS if shutil.which(name)),
        cdi_specs=_cdi_specs(root),
    )
    if not engine:
        return probe
    # The engine's facts are asked once per run and shared with doctor and error mapping.
    docker = facts.current()
    if not docker.cli:
        return replace(probe, engine_probed=True)
    return replace(
        probe,
        engine_probed=True,
        docker_endpoint=docker.endpoint,
        docker_info=docker.info,
        compose_version=docker.compose_version,
    )


def smoke_image_candidates() -> tuple[str, ...]:
    """Local glibc images to run the toolkit's bind-mounted nvidia-smi in, best first; never pulled."""
    prefix = os.environ.get("DEVTOOLS_IMAGE_PREFIX") or "mlstack"
    python_image = os.environ.get("PYTHON_IMAGE") or "python:3.11-slim"
    return (f"{prefix}/training:dev-cuda", f"{prefix}/training:dev", python_image)


def smoke_argv(image: str) -> list[str]:
    return ["docker", "run", "--rm", "--pull", "never", "--gpus", "all", "--entrypoint", "nvidia-smi", image, "-L"]


def run_smoke(probe: GpuProbe, candidates: Sequence[str] | None = None) -> GpuProbe:
    """The probe plus the one conclusive check: a container started with --gpus all lists the GPUs."""
    tried: list[str] = []
    for image in candidates or smoke_image_candidates():
        tried.append(image)
        found = facts.ask(["docker", "image", "inspect", "--format", "{{.Id}}", image])
        if found is not None and found.returncode == 0:
            return replace(
                probe, smoke_images_tried=tuple(tried), smoke_image=image, smoke=facts.ask(smoke_argv(image))
            )
    return replace(probe, smoke_images_tried=tuple(tried))


def _nvidia_smi(root: Path) -> tuple[proc.Completed | None, proc.Completed | None]:
    wsl = root / WSL_NVIDIA_SMI
    # Under WSL2 the Windows driver's nvidia-smi is not always on PATH.
    program = "nvidia-smi" if shutil.which("nvidia-smi") else str(wsl) if wsl.is_file() else None
    if program is None:
        return None, None
    query = facts.ask([program, f"--query-gpu={','.join(GPU_QUERY_FIELDS)}", "--format=csv,noheader"])
    if query is not None and query.returncode != 0 and "compute_cap" in query.stdout + query.stderr:
        query = facts.ask([program, f"--query-gpu={','.join(GPU_QUERY_FIELDS_OLD_DRIVER)}", "--format=csv,noheader"])
    if query is None or query.returncode != 0:
        return query, None
    return query, facts.ask([program])


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _cdi_specs(root: Path) -> tuple[CdiSpec, ...]:
    specs = []
    for directory in CDI_SPEC_DIRS:
        for path in sorted((root / directory).glob("*")):
            if path.suffix in (".yaml", ".yml", ".json"):
                match = _CDI_KIND.search(_read(path) or "")
                specs.append(CdiSpec(f"/{directory}/{path.name}", match.group(1) if match else ""))
    return tuple(specs)
