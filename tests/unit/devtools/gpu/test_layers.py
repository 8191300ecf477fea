"""The pure half of GPU detection: parsers and per-layer decisions over hand-built GpuProbes."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from devtools import proc
from devtools.engine import facts
from devtools.gpu import Gpu, Status, layers, probes
from devtools.gpu.probes import CdiSpec, GpuProbe
from devtools.gpu.report import assess, render
from testing.cli_harness import FIXTURES as UNIT_FIXTURES

OUTPUTS = UNIT_FIXTURES / "gpu" / "outputs"
H100_ROW = "NVIDIA H100 80GB HBM3, 580.159.04, 81559 MiB, 9.0\n"
H100_HEADER = (OUTPUTS / "nvidia-smi-h100.txt").read_text()


def done(stdout: str = "", stderr: str = "", returncode: int = 0) -> proc.Completed:
    return proc.Completed((), returncode, stdout, stderr)


def info(**fields: object) -> proc.Completed:
    base: dict[str, object] = {
        "ServerVersion": "28.3.3",
        "OperatingSystem": "Ubuntu 24.04.3 LTS",
        "KernelVersion": "6.8.0-79-generic",
        "Runtimes": {"runc": {"path": "runc"}, "nvidia": {"path": "nvidia-container-runtime"}},
        "DefaultRuntime": "runc",
        "CDISpecDirs": ["/etc/cdi", "/var/run/cdi"],
        "SecurityOptions": ["name=seccomp,profile=builtin"],
    }
    return done(json.dumps({**base, **fields}) + "\n")


def gpu_host(**fields: object) -> GpuProbe:
    """A Linux host with one H100, driver 580 and the toolkit, with Docker and Compose answering."""
    probe = GpuProbe(
        system="linux",
        kernel_release="6.8.0-79-generic",
        nvidia_smi_query=done(H100_ROW),
        nvidia_smi=done(H100_HEADER),
        dev_nvidia=("nvidia0", "nvidiactl"),
        toolkit_programs=("nvidia-ctk", "nvidia-container-runtime-hook"),
        engine_probed=True,
        docker_info=info(),
        compose_version=done("2.40.3\n"),
    )
    return GpuProbe(**{**probe.__dict__, **fields})


# --- parsers ---------------------------------------------------------------------------------------


def test_parse_gpu_csv() -> None:
    rows = "NVIDIA H100 80GB HBM3, 580.159.04, 81559 MiB, 9.0\nNVIDIA GB10, 580.95.05, [N/A], 12.1\n"
    assert layers.parse_gpu_csv(rows) == [
        Gpu("NVIDIA H100 80GB HBM3", "580.159.04", 81559, "9.0"),
        Gpu("NVIDIA GB10", "580.95.05", None, "12.1"),
    ]
    assert layers.parse_gpu_csv("Tesla K80, 470.256.02, 11441 MiB\n") == [Gpu("Tesla K80", "470.256.02", 11441, None)]
    assert layers.parse_gpu_csv("") == []


def test_parse_versions() -> None:
    assert layers.parse_version("580.159.04") == (580, 159, 4)
    assert layers.parse_version("v2.40.3-desktop.1") == (2, 40, 3)
    assert layers.parse_version("2.39.1-desktop.1\n") == (2, 39, 1)
    assert layers.parse_version("[N/A]") is None
    assert layers.parse_cuda_version(H100_HEADER) == (13, 0)
    assert layers.parse_cuda_version("no header") is None
    for name, version in (("580", "580.159.04"), ("535", "535.230.02")):
        text = (OUTPUTS / f"proc-driver-nvidia-version-{name}.txt").read_text()
        assert layers.parse_kernel_module_version(text) == version


def test_parse_gpu_list() -> None:
    text = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-3c54a1f2)\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-77aa)\n"
    assert layers.parse_gpu_list(text) == ["NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"]
    assert layers.parse_gpu_list("No devices found.\n") == []


# --- layers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.20.0", "2.29.7", "2.40.3", "v2.33.0-desktop.1"])
def test_every_compose_the_stack_runs_on_takes_the_long_syntax(version: str) -> None:
    assert layers.compose_layer(gpu_host(compose_version=done(version))).status is Status.OK


@pytest.mark.parametrize("version", ["2.0.0", "2.19.1"])
def test_compose_older_than_the_stack_needs_is_the_same_rule_as_doctor(version: str) -> None:
    """The GPU syntax works on every v2, but the stack's own minimum (doctor's) decides: one rule."""
    layer = layers.compose_layer(gpu_host(compose_version=done(version)))
    assert layer.status is Status.MISSING
    assert layer.evidence == f"{version} is older than 2.20" and layer.fix == "upgrade Docker Compose to 2.20 or newer"


@pytest.mark.parametrize("version", ["1.29.2", "unknown"])
def test_compose_that_is_not_v2(version: str) -> None:
    layer = layers.compose_layer(gpu_host(compose_version=done(version)))
    assert layer.status is Status.MISSING and "Compose v2 plugin" in layer.fix


def test_gpu_below_turing_cannot_run_cuda_13() -> None:
    pascal = "NVIDIA GeForce GTX 1080, 580.95.05, 8192 MiB, 6.1\n"
    layer = layers.cuda_layer(gpu_host(nvidia_smi_query=done(pascal)))
    assert layer.status is Status.MISSING
    assert "compute capability 6.1" in layer.evidence and "7.5" in layer.fix
    mixed = layers.cuda_layer(gpu_host(nvidia_smi_query=done(H100_ROW + pascal)))
    assert mixed.status is Status.WARNING


def test_minor_version_compatibility_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CUDA 12.6 image on driver 525 (CUDA 12.0) runs, with a limited feature set.
    monkeypatch.setattr(layers, "TRAINING_IMAGE_CUDA", (12, 6))
    probe = gpu_host(
        nvidia_smi_query=done("Tesla T4, 525.147.05, 15360 MiB, 7.5\n"),
        nvidia_smi=done("| NVIDIA-SMI 525.147.05   Driver Version: 525.147.05   CUDA Version: 12.0     |\n"),
    )
    layer = layers.cuda_layer(probe)
    assert layer.status is Status.WARNING and "minor-version compatibility" in layer.evidence


def test_wsl1_and_wsl2_without_the_windows_driver() -> None:
    wsl1 = layers.wsl2_layer(gpu_host(kernel_release="4.4.0-22621-Microsoft"))
    assert wsl1.status is Status.MISSING and "wsl --set-version" in wsl1.fix
    wsl2 = gpu_host(kernel_release="6.6.87.2-microsoft-standard-WSL2", nvidia_smi_query=None, nvidia_smi=None)
    assert layers.wsl2_layer(wsl2).evidence == "WSL2 without /dev/dxg: no GPU paravirtualization"
    driver = layers.driver_layer(wsl2)
    assert driver.evidence == "no NVIDIA driver: nvidia-smi not found"
    assert "driver on Windows" in driver.fix and "do not install a Linux driver" in driver.fix


def test_kernel_module_without_nvidia_smi() -> None:
    module = (OUTPUTS / "proc-driver-nvidia-version-580.txt").read_text()
    layer = layers.driver_layer(gpu_host(nvidia_smi_query=None, nvidia_smi=None, proc_driver_version=module))
    assert layer.status is Status.MISSING
    assert layer.evidence == "kernel module 580.159.04 is loaded but nvidia-smi is not on PATH"


def test_driver_library_mismatch_says_reboot() -> None:
    failed = done("Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 580.159\n", "", 18)
    layer = layers.driver_layer(gpu_host(nvidia_smi_query=failed))
    assert layer.evidence == "nvidia-smi failed: Failed to initialize NVML: Driver/library version mismatch"
    assert layer.fix.startswith("reboot")


def test_runtime_registered_without_the_hook_is_a_warning() -> None:
    layer = layers.toolkit_layer(gpu_host(toolkit_programs=("nvidia-ctk",)))
    assert layer.status is Status.WARNING and "hook is not on PATH" in layer.evidence


def test_cdi_spec_without_cdi_in_docker() -> None:
    probe = gpu_host(
        docker_info=info(Runtimes={"runc": {}}, CDISpecDirs=None),
        toolkit_programs=("nvidia-ctk",),
        cdi_specs=(CdiSpec("/etc/cdi/nvidia.yaml", "nvidia.com/gpu"),),
    )
    layer = layers.toolkit_layer(probe)
    assert layer.status is Status.MISSING and "reads no CDI specs" in layer.evidence
    assert layer.fix == layers.CONFIGURE_TOOLKIT


def test_docker_unreachable() -> None:
    down = done(
        stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
        returncode=1,
    )
    report = assess(gpu_host(docker_info=down))
    docker = report.layer("docker")
    assert docker.status is Status.MISSING and docker.fix.startswith("start Docker")
    assert report.layer("toolkit").status is Status.NOT_APPLICABLE
    assert report.missing_layer() == docker
    no_cli = assess(gpu_host(docker_info=None, compose_version=None))
    assert no_cli.layer("docker").evidence == "docker CLI not found"


def test_podman_behind_the_docker_command() -> None:
    podman = done(json.dumps({"host": {"os": "linux"}, "version": {"Version": "5.4.2"}}))
    report = assess(gpu_host(docker_info=podman))
    assert report.layer("docker").evidence == "Podman 5.4.2 behind the docker command"
    assert report.missing_layer() == report.layer("toolkit")


def test_remote_engine_trusts_only_the_smoke_test() -> None:
    remote = gpu_host(
        engine_remote="ssh://ci@gpu-box",
        nvidia_smi_query=None,
        nvidia_smi=None,
        dev_nvidia=(),
        toolkit_programs=(),
    )
    report = assess(remote)
    assert report.layer("driver").status is Status.NOT_APPLICABLE
    assert report.layer("cuda").status is Status.NOT_APPLICABLE
    assert report.layer("toolkit").status is Status.OK  # the remote engine registers the nvidia runtime
    assert report.missing_layer() == report.layer("smoke") and not report.usable
    seen = remote.__dict__ | {"smoke_image": "python:3.11-slim", "smoke": done("GPU 0: NVIDIA L4 (UUID: GPU-1)\n")}
    assert assess(GpuProbe(**seen)).usable


@pytest.mark.parametrize(
    ("endpoint", "engine_host", "remote"),
    [
        ("unix:///var/run/docker.sock", "elsewhere", False),  # a socket is this machine's
        ("npipe:////./pipe/docker_engine", "elsewhere", False),
        ("tcp://localhost:2375", "this-box", False),  # this machine's engine over TCP
        ("ssh://me@127.0.0.1:2222", "this-box", False),  # ... or over SSH
        ("ssh://me@127.0.0.1:2222", "gpu-box", True),  # another engine behind a tunnel
        ("tcp://10.0.0.7:2376", "gpu-box", True),
        ("ssh://me@gpu-box", None, True),  # the engine did not say: over the network, assume remote
    ],
)
def test_an_engine_is_remote_when_its_host_is_another_machine(
    endpoint: str, engine_host: str | None, remote: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEVTOOLS_REMOTE", raising=False)
    assert facts.is_remote(endpoint, engine_host, "this-box") is remote
    monkeypatch.setenv("DEVTOOLS_REMOTE", "0" if remote else "1")
    assert facts.is_remote(endpoint, engine_host, "this-box") is not remote


def test_smoke_outcomes() -> None:
    no_image = assess(gpu_host(smoke_images_tried=("mlstack/training:dev", "python:3.11-slim")))
    assert no_image.layer("smoke").status is Status.WARNING and "never pulled" in no_image.layer("smoke").evidence
    empty = assess(gpu_host(smoke_image="python:3.11-slim", smoke=done("")))
    assert empty.layer("smoke").status is Status.MISSING and "listed no GPU" in empty.layer("smoke").evidence
    too_old = done(
        stderr="docker: Error response from daemon: failed to create task for container: OCI runtime create failed: "
        "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=13.0, please update your driver\n",
        returncode=125,
    )
    layer = assess(gpu_host(smoke_image="x", smoke=too_old)).layer("smoke")
    assert layer.fix.startswith("upgrade the NVIDIA driver")
    rootless = done(
        stderr="nvidia-container-cli: mount error: failed to set cgroup: permission denied\n", returncode=125
    )
    probe = gpu_host(docker_info=info(SecurityOptions=["name=rootless"]), smoke_image="x", smoke=rootless)
    assert "no-cgroups" in assess(probe).layer("smoke").fix


def test_host_only_probe_decides_on_host_layers() -> None:
    probe = gpu_host(engine_probed=False, docker_info=None, compose_version=None)
    report = assess(probe)
    assert [layer.status for layer in report.layers if layer.name in ("docker", "toolkit", "compose", "smoke")] == [
        Status.NOT_APPLICABLE
    ] * 4
    assert report.usable


def test_render_marks_and_fix_lines() -> None:
    report = assess(gpu_host(nvidia_smi_query=None, nvidia_smi=None, dev_nvidia=()))
    lines = render(report)
    assert lines[0].startswith("[FAIL] host driver")
    assert lines[1].lstrip().startswith("fix: ")
    assert any(line.startswith("[ -- ] WSL2") for line in lines)
    assert lines[-1] == "no usable GPU: first failing layer: host driver"
    parsed = json.loads(report.to_json())
    assert parsed["missing_layer"] == "driver" and parsed["layers"][0]["status"] == "missing"


def test_a_remote_engines_host_is_probed_over_ssh_and_named() -> None:
    """The engine's machine answers _HOST_SCRIPT over SSH (its sections as the script prints them);
    every layer then reads that machine's facts, and the report says whose they are."""
    spec = "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices: []\n"
    said = (
        "@@uname 0\n6.8.0-79-generic\n"
        f"@@query 0\n{H100_ROW.strip()}\n@@query_old 0\nignored\n@@smi 0\n{H100_HEADER.strip()}\n"
        "@@procver 0\nNVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04\n"
        "@@dev 0\nnvidia0\nnvidiactl\n@@dxg 1\n\n@@wsl 1\n\n"
        "@@toolkit 0\nnvidia-ctk\nnvidia-container-runtime-hook\n"
        f"@@cdi /etc/cdi/nvidia.yaml 0\n{spec}"
    )
    here = gpu_host(nvidia_smi_query=None, nvidia_smi=None, dev_nvidia=(), toolkit_programs=(), system="darwin")
    remote = probes.with_host_sections(replace(here, engine_remote="ssh://me@gpu-box"), said)
    probed = replace(remote, host="me@gpu-box")
    assert probed.kernel_release == "6.8.0-79-generic" and probed.dev_nvidia == ("nvidia0", "nvidiactl")
    assert probed.toolkit_programs == ("nvidia-ctk", "nvidia-container-runtime-hook") and not probed.dev_dxg
    assert probed.cdi_specs == (CdiSpec("/etc/cdi/nvidia.yaml", "nvidia.com/gpu"),)
    report = assess(probed)
    assert report.layer("driver").status is Status.OK  # gpu-box's driver, not "remote: not visible"
    assert report.layer("cuda").status is not Status.NOT_APPLICABLE
    assert report.host == "me@gpu-box" and report.to_dict()["host"] == "me@gpu-box"
    assert render(report)[0] == "GPU layers of me@gpu-box, the Docker engine's machine (asked over SSH)"
    # Without SSH (a tcp:// engine) this machine's facts say nothing about the engine's: not applicable.
    assert assess(replace(here, engine_remote="tcp://gpu-box:2376")).layer("driver").status is Status.NOT_APPLICABLE
