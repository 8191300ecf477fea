"""What has to be true for a container to use an NVIDIA GPU, one layer at a time, decided from a GpuProbe.

Pure: parsing and decisions over recorded outputs, no processes and no file reads. Each layer says
what it saw and, when it fails, the one fix. Host layers only explain; the smoke test is the verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from devtools import fixes
from devtools.engine import facts
from devtools.engine.facts import last_line
from devtools.fixes import dotted, parse_version
from devtools.gpu.probes import GpuProbe

# torch==2.13.0 from PyPI, which docker/training/install-torch installs for TORCH_VARIANT=cuda, depends
# on cuda-toolkit==13.0.3: the training image's CUDA. Change it with services/training/requirements-torch.txt.
TRAINING_IMAGE_CUDA = (13, 0)
# NVIDIA's minor-version compatibility: the oldest driver branch that runs every release of a CUDA major.
MIN_DRIVER_FOR_CUDA_MAJOR = {11: 450, 12: 525, 13: 580}
# CUDA 13 removed Maxwell, Pascal and Volta: its builds carry no code for GPUs below Turing.
MIN_COMPUTE_CAPABILITY_FOR_CUDA_MAJOR = {13: (7, 5)}

INSTALL_DRIVER = "install the NVIDIA driver (https://www.nvidia.com/drivers), reboot, and check that nvidia-smi works"
WSL_DRIVER = (
    "install the NVIDIA driver on Windows (it provides /usr/lib/wsl/lib/nvidia-smi) and run 'wsl --update'; "
    "do not install a Linux driver inside WSL"
)
CONFIGURE_TOOLKIT = "'sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker'"
TOOLKIT_GUIDE = "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html"
INSTALL_TOOLKIT = f"install the NVIDIA Container Toolkit ({TOOLKIT_GUIDE}), then {CONFIGURE_TOOLKIT}"


class Status(str, Enum):
    OK = "ok"
    MISSING = "missing"
    WARNING = "warning"
    NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True)
class Layer:
    name: str  # stable key (JSON): driver, wsl2, docker, toolkit, compose, cuda, smoke
    title: str
    status: Status
    evidence: str
    fix: str = ""


@dataclass(frozen=True)
class Gpu:
    name: str
    driver: str
    memory_mib: int | None
    compute_capability: str | None  # "9.0"; None when the driver cannot report it


# --- parsing -------------------------------------------------------------------------------------


def parse_gpu_csv(text: str) -> list[Gpu]:
    """Rows of `nvidia-smi --query-gpu=name,driver_version,memory.total[,compute_cap] --format=csv,noheader`."""
    gpus = []
    for line in text.splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) < 3:
            continue
        # A name could hold a comma; the numeric fields after it never do.
        tail = 2 if len(fields) == 3 else 3
        name = ", ".join(fields[:-tail])
        driver, memory = fields[-tail], fields[-tail + 1]
        capability = fields[-1] if tail == 3 and parse_version(fields[-1]) else None
        memory_match = re.match(r"(\d+)\s*MiB", memory)
        gpus.append(Gpu(name, driver, int(memory_match.group(1)) if memory_match else None, capability))
    return gpus


def parse_cuda_version(nvidia_smi_output: str) -> tuple[int, int] | None:
    """The newest CUDA the driver runs, from the nvidia-smi header ("CUDA Version: 13.0")."""
    match = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", nvidia_smi_output)
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_kernel_module_version(proc_driver_version: str) -> str | None:
    """From /proc/driver/nvidia/version: "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04 ..."."""
    match = re.search(r"NVRM version:.*?\s(\d+\.\d+(?:\.\d+)?)\s", proc_driver_version)
    return match.group(1) if match else None


def parse_gpu_list(nvidia_smi_l: str) -> list[str]:
    """`nvidia-smi -L` lines: "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)" -> ["NVIDIA H100 80GB HBM3"]."""
    return re.findall(r"^GPU \d+: (.+?)(?: \(UUID: [^)]*\))?\s*$", nvidia_smi_l, re.MULTILINE)


def gpus_of(probe: GpuProbe) -> list[Gpu]:
    query = probe.nvidia_smi_query
    return parse_gpu_csv(query.stdout) if query is not None and query.returncode == 0 else []


def driver_cuda(probe: GpuProbe) -> tuple[int, int] | None:
    return parse_cuda_version(probe.nvidia_smi.stdout) if probe.nvidia_smi is not None else None


def remote_endpoint(probe: GpuProbe) -> str | None:
    """The engine's address when it runs on another machine whose host facts are not known here (not
    reached over SSH): this machine's driver says nothing then. Over SSH the probe holds that host's
    facts (probe.host), and every layer reads them as it reads this machine's."""
    return (probe.engine_remote or None) if probe.engine_probed and not probe.host else None


def is_wsl(probe: GpuProbe) -> bool:
    return "microsoft" in probe.kernel_release.lower()


def engine_info(probe: GpuProbe) -> dict[str, Any] | None:
    """docker info as a dict, when the engine answered."""
    return facts.docker_info(probe.docker_info)


def is_podman(info: dict[str, Any]) -> bool:
    return "host" in info and "ServerVersion" not in info


def is_docker_desktop(info: dict[str, Any]) -> bool:
    return str(info.get("OperatingSystem", "")).startswith("Docker Desktop")


def is_rootless(info: dict[str, Any]) -> bool:
    return any("name=rootless" in str(option) for option in info.get("SecurityOptions") or [])


def cdi_devices(info: dict[str, Any]) -> list[str]:
    """NVIDIA devices the engine discovered from CDI specs (newer engines list them in docker info)."""
    ids = []
    for device in info.get("DiscoveredDevices") or []:
        name = device.get("ID", "") if isinstance(device, dict) else str(device)
        if name.startswith("nvidia.com/"):
            ids.append(name)
    return ids


# --- layers --------------------------------------------------------------------------------------


def driver_layer(probe: GpuProbe) -> Layer:
    def layer(status: Status, evidence: str, fix: str = "") -> Layer:
        return Layer("driver", "host driver", status, evidence, fix)

    if remote := remote_endpoint(probe):
        return layer(Status.NOT_APPLICABLE, f"the Docker engine is remote ({remote}); the smoke test checks its GPUs")
    if probe.system == "darwin":
        return layer(
            Status.MISSING,
            "macOS: containers get no NVIDIA GPU (and no Metal): Docker Desktop has no GPU passthrough on Mac",
            "train on CPU here, or point DOCKER_HOST at a Linux machine with an NVIDIA GPU",
        )
    gpus = gpus_of(probe)
    if gpus:
        cuda = driver_cuda(probe)
        names = ", ".join(f"{gpu.name} ({gpu.memory_mib} MiB)" if gpu.memory_mib else gpu.name for gpu in gpus)
        seen = [f"/dev/{node}" for node in probe.dev_nvidia if node == "nvidiactl" or node[6:].isdigit()]
        evidence = f"{names}; driver {gpus[0].driver}" + (f", CUDA {dotted(cuda)}" if cuda else "")
        return layer(Status.OK, evidence + (f"; {' '.join(seen)}" if seen else ""))
    install = WSL_DRIVER if is_wsl(probe) else INSTALL_DRIVER
    query = probe.nvidia_smi_query
    if query is None:
        module = parse_kernel_module_version(probe.proc_driver_version or "")
        if module:
            return layer(
                Status.MISSING,
                f"kernel module {module} is loaded but nvidia-smi is not on PATH",
                f"install the driver's utilities matching {module} (e.g. the nvidia-utils package), or reinstall it",
            )
        absent = "nvidia-smi not found"
        if probe.system == "linux" and not is_wsl(probe):
            absent += ", no /proc/driver/nvidia/version" + ("" if probe.dev_nvidia else ", no /dev/nvidia*")
        return layer(Status.MISSING, f"no NVIDIA driver: {absent}", install)
    said = last_line(query.stdout, query.stderr) or f"exit code {query.returncode}"
    if query.returncode == 0:
        return layer(Status.MISSING, "nvidia-smi lists no GPU", install)
    if "mismatch" in said:
        fix = "reboot: the loaded kernel module is older than the driver libraries (a driver upgrade without reboot)"
    elif "couldn't communicate" in said or "NVIDIA-SMI has failed" in said:
        fix = "load the driver: reboot; if that fails, reinstall it for the running kernel (DKMS)"
    else:
        fix = install
    return layer(Status.MISSING, f"nvidia-smi failed: {said}", fix)


def wsl2_layer(probe: GpuProbe) -> Layer:
    def layer(status: Status, evidence: str, fix: str = "") -> Layer:
        return Layer("wsl2", "WSL2", status, evidence, fix)

    if remote_endpoint(probe) or not is_wsl(probe):
        where = f"kernel {probe.kernel_release}" if probe.system == "linux" else probe.system
        return layer(Status.NOT_APPLICABLE, f"not WSL ({where})")
    if "wsl2" not in probe.kernel_release.lower():
        return layer(
            Status.MISSING,
            f"WSL1 (kernel {probe.kernel_release}) has no GPU support",
            "convert the distro to WSL2: 'wsl --set-version <distro> 2' in Windows",
        )
    if not probe.dev_dxg:
        return layer(Status.MISSING, "WSL2 without /dev/dxg: no GPU paravirtualization", WSL_DRIVER)
    if not probe.wsl_nvidia_smi:
        return layer(Status.MISSING, "/dev/dxg present but no /usr/lib/wsl/lib/nvidia-smi", WSL_DRIVER)
    return layer(Status.OK, f"kernel {probe.kernel_release}; /dev/dxg and /usr/lib/wsl/lib/nvidia-smi present")


def docker_layer(probe: GpuProbe) -> Layer:
    def layer(status: Status, evidence: str, fix: str = "") -> Layer:
        return Layer("docker", "Docker engine", status, evidence, fix)

    if not probe.engine_probed:
        return layer(Status.NOT_APPLICABLE, "not checked (host checks only)")
    done = probe.docker_info
    if done is None:
        return layer(Status.MISSING, "docker CLI not found", fixes.INSTALL_DOCKER)
    info = engine_info(probe)
    if info is None:
        said = last_line(done.stderr) or last_line(done.stdout)
        fix = fixes.daemon_fix(said) or "make 'docker info' work, then rerun 'devtools gpu'"
        return layer(Status.MISSING, f"docker info failed: {said or f'exit code {done.returncode}'}", fix)
    if is_podman(info):
        version = info.get("version", {}).get("Version", "?") if isinstance(info.get("version"), dict) else "?"
        return layer(Status.OK, f"Podman {version} behind the docker command")
    version, kernel = info.get("ServerVersion", "?"), info.get("KernelVersion", "?")
    if is_docker_desktop(info):
        evidence = f"Docker Desktop (engine {version}, VM kernel {kernel})"
    else:
        evidence = f"Docker Engine {version} on {info.get('OperatingSystem', '?')} (kernel {kernel})"
    if is_rootless(info):
        evidence += ", rootless"
    if remote := remote_endpoint(probe):
        evidence += f", remote at {remote}"
    elif probe.host:
        evidence += f", on {probe.host} (over SSH)"
    return layer(Status.OK, evidence)


def toolkit_layer(probe: GpuProbe) -> Layer:
    def layer(status: Status, evidence: str, fix: str = "") -> Layer:
        return Layer("toolkit", "container toolkit", status, evidence, fix)

    if not probe.engine_probed:
        return layer(Status.NOT_APPLICABLE, "not checked (host checks only)")
    info = engine_info(probe)
    if info is None:
        return layer(Status.NOT_APPLICABLE, "needs a reachable Docker engine")
    if is_podman(info):
        return layer(
            Status.MISSING,
            "the engine is Podman, which does not honour Compose's 'driver: nvidia' GPU reservation",
            "use Docker Engine with the NVIDIA Container Toolkit (Podman needs CDI 'devices: [nvidia.com/gpu=all]')",
        )
    runtimes = sorted(info.get("Runtimes") or {})
    remote = remote_endpoint(probe)
    programs = () if remote else probe.toolkit_programs
    hook = "nvidia-container-runtime-hook" in programs
    devices = cdi_devices(info)
    spec_dirs = [str(d) for d in info.get("CDISpecDirs") or []]
    specs = [] if remote else [spec.path for spec in probe.cdi_specs if spec.kind.startswith("nvidia.com/")]
    facts = [f"runtimes {', '.join(runtimes) or 'none'} (default {info.get('DefaultRuntime', '?')})"]
    if devices:
        facts.append(f"CDI devices {', '.join(devices)}")
    else:
        facts.append(f"CDI spec dirs {', '.join(spec_dirs)}" if spec_dirs else "CDI off")
    if specs:
        facts.append(f"CDI specs {', '.join(specs)}")
    if not remote:
        facts.append(f"on PATH: {', '.join(programs)}" if programs else "no nvidia-ctk or hook on PATH")
    seen = "; ".join(facts)

    if is_docker_desktop(info):
        if "microsoft" in str(info.get("KernelVersion", "")).lower():
            return layer(Status.OK, f"Docker Desktop's WSL2 backend serves --gpus without an nvidia runtime; {seen}")
        return layer(
            Status.MISSING,
            f"Docker Desktop on a {info.get('KernelVersion', '?')} VM: it passes GPUs through only on Windows "
            "with the WSL2 backend",
            "on Windows, turn on the WSL2 backend; elsewhere use Docker Engine on a Linux host with an NVIDIA GPU "
            "and the NVIDIA Container Toolkit (Linux: 'docker context use default')",
        )
    if hook:
        return layer(Status.OK, seen)
    if "nvidia" in runtimes:
        if remote:
            return layer(Status.OK, seen)
        # moby serves --gpus / `driver: nvidia` only when the hook is on dockerd's PATH.
        return layer(
            Status.WARNING,
            f"nvidia runtime registered but nvidia-container-runtime-hook is not on PATH; {seen}",
            "install the full toolkit package (nvidia-container-toolkit), then 'sudo systemctl restart docker'",
        )
    if remote:
        return layer(
            Status.WARNING,
            f"no nvidia runtime registered on the remote engine; {seen}",
            f"on the engine's host: {INSTALL_TOOLKIT}",
        )
    if devices or (spec_dirs and specs):
        return layer(
            Status.WARNING,
            f"CDI only: --gpus and Compose's 'driver: nvidia' need nvidia-container-runtime-hook "
            f"(newer engines may route them through CDI; the smoke test decides); {seen}",
            f"install the full toolkit package (nvidia-container-toolkit), then {CONFIGURE_TOOLKIT}",
        )
    if specs:
        return layer(
            Status.MISSING,
            f"a CDI spec exists but this engine reads no CDI specs and has no nvidia runtime; {seen}",
            CONFIGURE_TOOLKIT,
        )
    if "nvidia-ctk" in programs:
        return layer(
            Status.MISSING, f"the toolkit is installed but Docker is not set up for it; {seen}", CONFIGURE_TOOLKIT
        )
    return layer(Status.MISSING, f"no NVIDIA Container Toolkit: {seen}", INSTALL_TOOLKIT)


def compose_layer(probe: GpuProbe) -> Layer:
    """Any Compose v2 takes the override's syntax: `deploy.resources.reservations.devices` with `driver`,
    `count: all` and `capabilities` has worked since Compose 1.28. Only an omitted `count` (read as 0
    before 2.30) and the `gpus:` shorthand (2.30; `gpus: all` 2.33) depend on the version; neither is used.
    The version rule is the stack's own (fixes.MIN_COMPOSE), the one `doctor` applies: an older Compose
    takes the GPU syntax but cannot start the stack it belongs to.
    """

    def layer(status: Status, evidence: str, fix: str = "") -> Layer:
        return Layer("compose", "Compose GPU syntax", status, evidence, fix)

    if not probe.engine_probed:
        return layer(Status.NOT_APPLICABLE, "not checked (host checks only)")
    done = probe.compose_version
    if done is None or done.returncode != 0:
        said = last_line(done.stderr, done.stdout) if done else "docker CLI not found"
        return layer(Status.MISSING, f"'docker compose' is not available: {said}", fixes.INSTALL_COMPOSE)
    text = done.stdout.strip()
    if problem := fixes.compose_problem(text):
        return layer(Status.MISSING, *problem)
    return layer(
        Status.OK,
        f"Compose {text}: deploy.resources.reservations.devices (driver: nvidia, count: all) works on every v2",
    )


def cuda_layer(probe: GpuProbe) -> Layer:
    def layer(status: Status, evidence: str, fix: str = "") -> Layer:
        return Layer("cuda", "driver CUDA", status, evidence, fix)

    need_major, need_minor = TRAINING_IMAGE_CUDA
    need = f"CUDA {need_major}.{need_minor}"
    if remote_endpoint(probe):
        return layer(Status.NOT_APPLICABLE, "the engine is remote: its driver version is not visible from here")
    gpus = gpus_of(probe)
    driver = parse_version(gpus[0].driver) if gpus else None
    if driver is None:
        return layer(Status.NOT_APPLICABLE, "no driver to compare")
    cuda = driver_cuda(probe)
    has = f"driver {gpus[0].driver}" + (f" (CUDA {dotted(cuda)})" if cuda else "")
    min_driver = MIN_DRIVER_FOR_CUDA_MAJOR[need_major]
    if driver[0] < min_driver:
        return layer(
            Status.MISSING,
            f"{has} is older than {min_driver}, the oldest that runs CUDA {need_major}.x; "
            f"the training image's torch needs {need}",
            f"upgrade the NVIDIA driver to {min_driver} or newer, then reboot (or train on CPU)",
        )
    min_capability = MIN_COMPUTE_CAPABILITY_FOR_CUDA_MAJOR.get(need_major)
    too_old = [
        gpu
        for gpu in gpus
        if min_capability and gpu.compute_capability and (parse_version(gpu.compute_capability) or ()) < min_capability
    ]
    if too_old:
        listed = ", ".join(f"{gpu.name} (compute capability {gpu.compute_capability})" for gpu in too_old)
        floor = dotted(min_capability or ())
        fix = f"use a GPU of compute capability {floor} or newer (Turing and later), or train on CPU"
        if len(too_old) == len(gpus):
            return layer(Status.MISSING, f"{listed}: CUDA {need_major} builds need compute capability {floor}+", fix)
        return layer(Status.WARNING, f"{has}; but {listed} is below compute capability {floor}", fix)
    if cuda and cuda < TRAINING_IMAGE_CUDA:
        return layer(
            Status.WARNING,
            f"{has} is below {need}: it runs under minor-version compatibility (no PTX JIT)",
            f"upgrade the NVIDIA driver to one that reports {need} or newer",
        )
    return layer(Status.OK, f"{has} runs the training image's {need} (needs driver {min_driver}+)")


def smoke_layer(probe: GpuProbe, *, blocked_by: Layer | None) -> Layer:
    def layer(status: Status, evidence: str, fix: str = "") -> Layer:
        return Layer("smoke", "smoke test", status, evidence, fix)

    if blocked_by is not None:
        return layer(Status.NOT_APPLICABLE, f"skipped: {blocked_by.title} failed")
    if not probe.engine_probed:
        return layer(Status.NOT_APPLICABLE, "not run (host checks only)")
    remote = remote_endpoint(probe)
    done = probe.smoke
    if done is None:
        if probe.smoke_images_tried:
            return layer(
                Status.MISSING if remote else Status.WARNING,
                f"not run: no local image to run it in (tried {', '.join(probe.smoke_images_tried)}; never pulled)",
                "build the training image ('devtools build training') or 'docker pull python:3.11-slim'",
            )
        if remote:
            return layer(
                Status.MISSING,
                "not run; with a remote engine only the smoke test can confirm a GPU",
                "run 'devtools gpu' with the smoke test",
            )
        return layer(Status.NOT_APPLICABLE, "not run")
    image = probe.smoke_image or "?"
    listed = parse_gpu_list(done.stdout)
    if done.returncode == 0 and listed:
        return layer(Status.OK, f"a container from {image} sees {len(listed)} GPU(s): {', '.join(listed)}")
    command = f"docker run --rm --gpus all --entrypoint nvidia-smi {image} -L"
    if done.returncode == 0:
        return layer(Status.MISSING, f"{command} listed no GPU", INSTALL_TOOLKIT)
    said = last_line(done.stderr, done.stdout) or f"exit code {done.returncode}"
    return layer(Status.MISSING, f"{command} failed: {said}", smoke_fix(said, probe, command))


def smoke_fix(said: str, probe: GpuProbe, command: str) -> str:
    """The fix for a failed smoke test, from the last line docker printed."""
    info = engine_info(probe) or {}
    if "could not select device driver" in said:
        return f"Docker has no nvidia device driver: {INSTALL_TOOLKIT}"
    if "unsatisfied condition" in said or "requirement error" in said:
        return "upgrade the NVIDIA driver on the engine's host (or set NVIDIA_DISABLE_REQUIRE=true for the image)"
    if "cgroup" in said and is_rootless(info):
        return (
            "rootless Docker: 'sudo nvidia-ctk config --set nvidia-container-cli.no-cgroups --in-place', "
            "then 'systemctl --user restart docker'"
        )
    if "libnvidia-ml" in said or "initialization error" in said:
        return "the engine's host has no working NVIDIA driver for the toolkit: install or reload it there"
    if "executable file not found" in said:
        return f"the GPU driver was not injected into the container: {CONFIGURE_TOOLKIT}"
    return f"run '{command}' and fix what it reports"
