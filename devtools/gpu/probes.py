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
from devtools.engine import facts, inspect
from devtools.engine.ssh import SshTarget
from devtools.errors import DevtoolsError

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
    engine_remote: str = ""  # the endpoint when the engine runs on another machine (facts.Engine.remote)
    host: str = ""  # whose driver, devices and toolkit these are: "" this machine, else user@host of the
    #                 remote engine, asked over SSH (its facts, not this machine's, decide then)
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
    probe = replace(
        probe,
        engine_probed=True,
        engine_remote=docker.remote or "",
        docker_info=docker.info,
        compose_version=docker.compose_version,
    )
    # The engine on another machine reached over SSH: its host's driver and toolkit are what matter.
    target = SshTarget.parse(docker.remote or "")
    return host_over_ssh(probe, target) if target is not None else probe


# One ssh call gathers what collect() reads on this machine: `@@NAME RC` then the command's output.
_HOST_SCRIPT = f"""
section() {{ name=$1; shift; out=$("$@" 2>/dev/null); printf '@@%s %s\n%s\n' "$name" "$?" "$out"; }}
section uname uname -r
smi=""
if command -v nvidia-smi >/dev/null 2>&1; then smi=nvidia-smi
elif [ -x /{WSL_NVIDIA_SMI} ]; then smi=/{WSL_NVIDIA_SMI}; fi
if [ -n "$smi" ]; then
  section query "$smi" --query-gpu={",".join(GPU_QUERY_FIELDS)} --format=csv,noheader
  section query_old "$smi" --query-gpu={",".join(GPU_QUERY_FIELDS_OLD_DRIVER)} --format=csv,noheader
  section smi "$smi"
fi
section procver cat /proc/driver/nvidia/version
section dev sh -c 'ls /dev | grep "^nvidia"'
section dxg test -e /dev/dxg
section wsl test -f /{WSL_NVIDIA_SMI}
section toolkit sh -c 'for p in {" ".join(TOOLKIT_PROGRAMS)}; do command -v "$p" >/dev/null 2>&1 && echo "$p"; done'
for spec in /{CDI_SPEC_DIRS[0]}/* /{CDI_SPEC_DIRS[1]}/*; do [ -f "$spec" ] && section "cdi $spec" cat "$spec"; done
true
"""


def host_over_ssh(probe: GpuProbe, target: SshTarget) -> GpuProbe:
    """The probe with the host facts of the engine's machine, asked over SSH (one call). When SSH
    does not answer, the probe keeps this machine's facts and no host (the layers then say the host
    is not visible from here)."""
    done = facts.ask(target.argv(command=["sh", "-c", _HOST_SCRIPT]))
    if done is None or done.returncode != 0:
        return probe
    return replace(with_host_sections(probe, done.stdout), host=target.name)


def with_host_sections(probe: GpuProbe, text: str) -> GpuProbe:
    """`probe` with the host facts of _HOST_SCRIPT's output in place of this machine's."""
    sections: dict[str, tuple[int, str]] = {}
    name, code, lines = "", 0, list[str]()
    for line in [*text.splitlines(), "@@end 0"]:
        if line.startswith("@@"):
            if name:
                sections[name] = (code, "\n".join(lines).strip())
            name, _, rc = line[2:].rpartition(" ")
            code, lines = int(rc) if rc.lstrip("-").isdigit() else 1, []
        else:
            lines.append(line)

    def completed(key: str, argv: str) -> proc.Completed | None:
        if key not in sections:
            return None
        rc, out = sections[key]
        return proc.Completed(("ssh", argv), rc, out + "\n" if out else "", "")

    query = completed("query", "nvidia-smi --query-gpu")
    if query is not None and query.returncode != 0 and "query_old" in sections:
        query = completed("query_old", "nvidia-smi --query-gpu")
    smi = completed("smi", "nvidia-smi") if query is not None and query.returncode == 0 else None
    procver = sections.get("procver", (1, ""))
    specs = []
    for key, (_, body) in sections.items():
        if key.startswith("cdi ") and key.endswith((".yaml", ".yml", ".json")):
            match = _CDI_KIND.search(body)
            specs.append(CdiSpec(key[4:], match.group(1) if match else ""))
    return replace(
        probe,
        system="linux",
        kernel_release=sections.get("uname", (1, ""))[1],
        nvidia_smi_query=query,
        nvidia_smi=smi,
        proc_driver_version=procver[1] + "\n" if procver[0] == 0 else None,
        dev_nvidia=tuple(sorted(line for line in sections.get("dev", (1, ""))[1].splitlines() if line)),
        dev_dxg=sections.get("dxg", (1, ""))[0] == 0,
        wsl_nvidia_smi=sections.get("wsl", (1, ""))[0] == 0,
        toolkit_programs=tuple(line for line in sections.get("toolkit", (1, ""))[1].splitlines() if line),
        cdi_specs=tuple(specs),
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
        if _have_image(image):
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


def _have_image(image: str) -> bool:
    """Whether the engine has `image` locally (the smoke test never pulls); False without a docker CLI."""
    try:
        return inspect.image(image) is not None
    except (DevtoolsError, OSError):
        return False
