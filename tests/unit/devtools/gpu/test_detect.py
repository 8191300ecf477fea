"""GPU detection end to end over recorded machines: each scenario in fixtures/gpu/scenarios.json replays
one machine (files under a fake root, PATH, command outputs) through probes.collect -> assess, and
through the `devtools gpu` command."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from devtools import gpu, proc
from devtools.checks import gpu_checks
from devtools.commands.gpu import gpu as gpu_command
from devtools.errors import DevtoolsError, ExitCode
from devtools.gpu import Gpu, Status, probes
from devtools.stack.gpu import require_usable
from testing.cli_harness import FIXTURES as UNIT_FIXTURES

FIXTURES = UNIT_FIXTURES / "gpu"
SCENARIOS: dict[str, dict[str, Any]] = json.loads((FIXTURES / "scenarios.json").read_text())
SMOKE_RUN = ["docker", "run", "--rm", "--pull", "never", "--gpus", "all", "--entrypoint", "nvidia-smi"]


def recorded(value: str) -> str:
    """A literal, or "@name": the recorded output in fixtures/gpu/outputs/name."""
    return (FIXTURES / "outputs" / value[1:]).read_text() if value.startswith("@") else value


@dataclass
class RecordedMachine:
    """Stands in for devtools.proc.run and the host: answers each command from the scenario."""

    spec: dict[str, Any]
    calls: list[list[str]] = field(default_factory=list)

    def run(
        self, argv: Sequence[str], *, capture: bool = False, check: bool = True, env: object = None
    ) -> proc.Completed:
        argv = list(argv)
        self.calls.append(argv)
        words = [Path(argv[0]).name, *argv[1:]]
        if words[:3] == ["docker", "image", "inspect"]:
            image = words[-1]
            if image in self.spec["images"]:
                return proc.Completed(tuple(argv), 0, '[{"Id": "sha256:5f0e1c3d"}]\n', "")
            return proc.Completed(tuple(argv), 1, "", f"Error response from daemon: No such image: {image}\n")
        line = " ".join(words)
        keys = [key for key in self.spec["commands"] if line.startswith(key)]
        assert keys, f"the probe ran a command this machine has no recording for: {line}"
        answer = self.spec["commands"][max(keys, key=len)]
        return proc.Completed(
            tuple(argv),
            answer.get("returncode", 0),
            recorded(answer.get("stdout", "")),
            recorded(answer.get("stderr", "")),
        )

    def commands(self, *prefix: str) -> list[list[str]]:
        return [call for call in self.calls if [Path(call[0]).name, *call[1:]][: len(prefix)] == list(prefix)]


def replay(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> RecordedMachine:
    spec = SCENARIOS[name]
    machine = RecordedMachine(spec)
    root = tmp_path / "host"
    root.mkdir()
    for path, content in spec["files"].items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(recorded(content))
    on_path = set(spec["on_path"])
    monkeypatch.setattr(proc, "run", machine.run)
    monkeypatch.setattr(probes, "HOST_ROOT", root)
    monkeypatch.setattr(probes, "system", lambda: spec["system"])
    monkeypatch.setattr(probes, "kernel_release", lambda: spec["kernel_release"])
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}" if name in on_path else None)
    for variable in ("DOCKER_HOST", "DEVTOOLS_IMAGE_PREFIX", "PYTHON_IMAGE"):
        monkeypatch.delenv(variable, raising=False)
    return machine


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_layers(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    machine = replay(name, monkeypatch, tmp_path)
    expect = SCENARIOS[name]["expect"]
    report = gpu.detect(smoke=True)
    assert {layer.name: layer.status.value for layer in report.layers} == expect["statuses"]
    failing = report.missing_layer()
    assert (failing.name if failing else None) == expect["missing_layer"]
    assert report.usable is (expect["missing_layer"] is None)
    assert report.nvidia_present is expect["nvidia_present"]
    for layer in report.layers:
        if layer.status in (Status.MISSING, Status.WARNING):
            assert layer.fix, f"{layer.name} fails without a fix"
    smoke_runs = machine.commands("docker", "run")
    if "smoke_image" in expect:
        assert smoke_runs == [[*SMOKE_RUN, expect["smoke_image"], "-L"]]
    else:
        assert smoke_runs == []  # an earlier layer already ruled GPUs out


def test_no_gpu_names_the_driver_and_its_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    replay("no_gpu", monkeypatch, tmp_path)
    report = gpu.detect(smoke=True)
    driver = report.layer("driver")
    assert driver.evidence == "no NVIDIA driver: nvidia-smi not found, no /proc/driver/nvidia/version, no /dev/nvidia*"
    toolkit = report.layer("toolkit")
    assert "runtimes io.containerd.runc.v2, io.containerd.runtime.v1.linux, runc (default runc)" in toolkit.evidence
    assert "nvidia-ctk runtime configure --runtime=docker" in toolkit.fix
    assert report.layer("smoke").evidence == "skipped: host driver failed"
    with pytest.raises(DevtoolsError) as raised:
        require_usable(report)
    assert raised.value.code is ExitCode.FAILURE
    assert raised.value.message == f"--gpu: no usable GPU: host driver: {driver.evidence}; fix: {driver.fix}"
    [check] = gpu_checks(report)
    assert check.ok and check.name == "GPU (optional)" and "training runs on CPU" in check.detail


def test_usable_h100(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    machine = replay("h100_usable", monkeypatch, tmp_path)
    report = gpu.detect(smoke=True)
    assert report.gpus == [Gpu("NVIDIA H100 80GB HBM3", "580.159.04", 81559, "9.0")]
    assert report.cuda_version == "13.0"
    assert report.layer("driver").evidence == (
        "NVIDIA H100 80GB HBM3 (81559 MiB); driver 580.159.04, CUDA 13.0; /dev/nvidia0 /dev/nvidiactl"
    )
    assert (
        report.layer("smoke").evidence
        == "a container from mlstack/training:dev-cuda sees 1 GPU(s): NVIDIA H100 80GB HBM3"
    )
    assert report.summary() == "GPU usable: NVIDIA H100 80GB HBM3 (driver 580.159.04, CUDA 13.0)"
    require_usable(report)
    assert [(check.name, check.ok) for check in gpu_checks(report)] == [("GPU", True)]
    # The CUDA image is tried first: it is the one `up --gpu` runs.
    assert machine.commands("docker", "image", "inspect")[0][-1] == "mlstack/training:dev-cuda"


def test_without_smoke_no_container_is_started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    machine = replay("h100_usable", monkeypatch, tmp_path)
    report = gpu.detect(smoke=False)
    assert report.usable
    assert report.layer("smoke").status is Status.NOT_APPLICABLE
    assert machine.commands("docker", "run") == [] and machine.commands("docker", "image") == []


def test_wsl2_finds_nvidia_smi_outside_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    machine = replay("wsl2_docker_engine", monkeypatch, tmp_path)
    report = gpu.detect(smoke=True)
    assert machine.calls[0][0] == str(tmp_path / "host/usr/lib/wsl/lib/nvidia-smi")
    assert report.layer("wsl2").evidence.startswith("kernel 6.6.87.2-microsoft-standard-WSL2; /dev/dxg")
    assert report.gpus[0].name == "NVIDIA GeForce RTX 4090"
    # WSL2 has no /proc/driver/nvidia/version: its absence is not reported as a problem there.
    assert "/proc" not in report.layer("driver").evidence


def test_docker_desktop_on_wsl2_needs_no_nvidia_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    machine = replay("docker_desktop_wsl2", monkeypatch, tmp_path)
    report = gpu.detect(smoke=True)
    toolkit = report.layer("toolkit")
    assert toolkit.status is Status.OK and "WSL2 backend serves --gpus without an nvidia runtime" in toolkit.evidence
    assert (
        report.layer("docker").evidence == "Docker Desktop (engine 28.3.2, VM kernel 6.6.87.2-microsoft-standard-WSL2)"
    )
    assert report.layer("compose").status is Status.OK  # "2.39.1-desktop.1"
    tried = [call[-1] for call in machine.commands("docker", "image", "inspect")]
    assert tried == ["mlstack/training:dev-cuda", "mlstack/training:dev", "python:3.11-slim"]


def test_docker_desktop_on_mac(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    replay("docker_desktop_mac", monkeypatch, tmp_path)
    report = gpu.detect(smoke=True)
    assert report.layer("driver").evidence.startswith("macOS: containers get no NVIDIA GPU")
    assert "6.10.14-linuxkit VM" in report.layer("toolkit").evidence
    assert gpu_checks(report)[0].ok  # a Mac without NVIDIA is not a doctor failure


def test_cdi_only_warns_and_the_smoke_test_decides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    replay("cdi_only", monkeypatch, tmp_path)
    report = gpu.detect(smoke=True)
    toolkit = report.layer("toolkit")
    assert toolkit.evidence.startswith("CDI only:")
    assert "nvidia.com/gpu=all" in toolkit.evidence and "/var/run/cdi/nvidia.yaml" in toolkit.evidence
    assert "on PATH: nvidia-ctk, nvidia-container-runtime" in toolkit.evidence
    smoke = report.layer("smoke")
    assert smoke.evidence == (
        "docker run --rm --gpus all --entrypoint nvidia-smi mlstack/training:dev -L failed: "
        'docker: Error response from daemon: could not select device driver "" with capabilities: [[gpu]]'
    )
    assert smoke.fix.startswith("Docker has no nvidia device driver: install the NVIDIA Container Toolkit")
    with pytest.raises(DevtoolsError, match="--gpu: no usable GPU: smoke test: "):
        require_usable(report)
    checks = gpu_checks(report)
    assert [(check.name, check.ok) for check in checks] == [("GPU container toolkit", True), ("GPU smoke test", False)]


def test_driver_too_old_for_the_training_image(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    replay("driver_too_old", monkeypatch, tmp_path)
    report = gpu.detect(smoke=True)
    cuda = report.layer("cuda")
    assert cuda.evidence == (
        "driver 535.230.02 (CUDA 12.2) is older than 580, the oldest that runs CUDA 13.x; "
        "the training image's torch needs CUDA 13.0"
    )
    assert cuda.fix.startswith("upgrade the NVIDIA driver to 580 or newer")


def test_driver_not_loaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    replay("driver_not_loaded", monkeypatch, tmp_path)
    driver = gpu.detect(smoke=True).layer("driver")
    assert driver.evidence.startswith("nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate")
    assert driver.fix.startswith("load the driver: reboot")


def test_compose_v1_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    replay("compose_v1_only", monkeypatch, tmp_path)
    compose = gpu.detect(smoke=True).layer("compose")
    assert compose.evidence == "'docker compose' is not available: docker: 'compose' is not a docker command."
    assert "Compose v2 plugin" in compose.fix


def test_old_driver_without_compute_cap_gets_the_three_field_query(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    machine = replay("driver_without_toolkit", monkeypatch, tmp_path)
    machine.spec = {
        **machine.spec,
        "commands": {
            **machine.spec["commands"],
            "nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap": {
                "stdout": 'Field "compute_cap" is not a valid field to query.\n\n',
                "returncode": 2,
            },
            "nvidia-smi": {
                "stdout": "| NVIDIA-SMI 470.256.02   Driver Version: 470.256.02   CUDA Version: 11.4     |\n"
            },
            "nvidia-smi --query-gpu=name,driver_version,memory.total --format": {
                "stdout": "Tesla V100-SXM2-16GB, 470.256.02, 16384 MiB\n"
            },
        },
    }
    report = gpu.detect(smoke=False)
    queries = [arg for call in machine.calls for arg in call[1:2] if arg.startswith("--query-gpu=")]
    assert queries == [
        "--query-gpu=name,driver_version,memory.total,compute_cap",
        "--query-gpu=name,driver_version,memory.total",
    ]
    assert report.gpus == [Gpu("Tesla V100-SXM2-16GB", "470.256.02", 16384, None)]
    assert report.layer("cuda").status is Status.MISSING


# --- the command -----------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A group, so `gpu` stays a subcommand as in devtools."""

    app.command("gpu")(gpu_command)
    return app


def test_command_on_this_machine_exits_1_naming_the_missing_layer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    replay("no_gpu", monkeypatch, tmp_path)
    result = CliRunner().invoke(_app(), ["gpu"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("[FAIL] host driver ")
    assert lines[1].strip().startswith("fix: install the NVIDIA driver")
    assert "[ -- ] WSL2" in result.stdout and "[ok  ] Docker engine" in result.stdout
    assert "[FAIL] container toolkit" in result.stdout and "[ -- ] smoke test" in result.stdout
    assert lines[-1] == "no usable GPU: first failing layer: host driver"


def test_command_json_parses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    replay("no_gpu", monkeypatch, tmp_path)
    result = CliRunner().invoke(_app(), ["gpu", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["usable"] is False and report["missing_layer"] == "driver"
    names = [layer["name"] for layer in report["layers"]]
    assert names == ["driver", "wsl2", "docker", "toolkit", "compose", "cuda", "smoke"]
    assert report["layers"][0]["status"] == "missing" and report["layers"][0]["fix"]


def test_command_usable_exits_0(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    replay("h100_usable", monkeypatch, tmp_path)
    result = CliRunner().invoke(_app(), ["gpu"])
    assert result.exit_code == 0, result.output
    assert "[ok  ] smoke test" in result.stdout
    assert result.stdout.splitlines()[-1] == "GPU usable: NVIDIA H100 80GB HBM3 (driver 580.159.04, CUDA 13.0)"
    result = CliRunner().invoke(_app(), ["gpu", "--json", "--no-smoke"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["gpus"] == [
        {"name": "NVIDIA H100 80GB HBM3", "driver": "580.159.04", "memory_mib": 81559, "compute_capability": "9.0"}
    ]
