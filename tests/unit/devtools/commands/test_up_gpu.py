"""`devtools up --gpu`: the exact compose argv, from detection to `up --wait`, with the override last."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools import gpu
from devtools.gpu import Gpu, GpuReport, Layer, Status
from testing.cli_harness import FakeDocker, compose_prefix


@pytest.fixture(autouse=True)
def _allowed(docker: FakeDocker) -> None:
    """`up` builds what is stale and starts the stack: both succeed silently here."""
    docker.allow(["build"], ["up"])


DEV_FILES = ("docker-compose.yml", "docker-compose.dev.yml")
GPU_FILES = (*DEV_FILES, "docker-compose.gpu.yml")
UP = ["up", "--detach", "--wait", "--wait-timeout", "300"]
BUILD_ALL = ["--progress", "json", "build", "base", "mlflow", "serving", "training"]


def _usable() -> GpuReport:
    smoke = Layer("smoke", "smoke test", Status.OK, "a container sees 1 GPU(s): NVIDIA H100 80GB HBM3")
    return GpuReport([smoke], [Gpu("NVIDIA H100 80GB HBM3", "580.159.04", 81559, "9.0")], "13.0", True)


def _unusable() -> GpuReport:
    driver = Layer("driver", "host driver", Status.MISSING, "no NVIDIA driver: nvidia-smi not found", "install it")
    return GpuReport([driver], [], None, False)


@pytest.mark.parametrize("args", [["up", "--gpu"], ["up", "--gpu", "require"], ["up", "--gpu", "auto"]])
def test_up_gpu_appends_the_override_to_every_compose_call(
    docker: FakeDocker, stack_root: Path, cli, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setattr(gpu, "detect", lambda smoke=True: _usable())
    result = cli(*args)
    assert result.exit_code == 0, result.output
    prefix = compose_prefix(stack_root, *GPU_FILES)
    assert docker.changing_calls() == [[*prefix, "config"], [*prefix, *BUILD_ALL], [*prefix, *UP]]
    assert "GPU usable: NVIDIA H100 80GB HBM3 (driver 580.159.04, CUDA 13.0)" in result.stderr


def test_up_gpu_then_a_service_name_is_not_taken_as_the_mode(
    docker: FakeDocker, stack_root: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gpu, "detect", lambda smoke=True: _usable())
    result = cli("up", "--gpu", "training", "--no-build")
    assert result.exit_code == 0, result.output
    prefix = compose_prefix(stack_root, *GPU_FILES)
    assert docker.changing_calls() == [[*prefix, "config"], [*prefix, *UP, "--no-build", "training"]]


def test_up_gpu_without_a_gpu_fails_before_any_compose_call(
    docker: FakeDocker, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gpu, "detect", lambda smoke=True: _unusable())
    result = cli("up", "--gpu")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "devtools: --gpu: no usable GPU: host driver: no NVIDIA driver: nvidia-smi not found; fix: install it"
    )
    assert docker.calls == []


def test_up_gpu_auto_without_a_gpu_starts_the_cpu_stack_and_says_so(
    docker: FakeDocker, stack_root: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gpu, "detect", lambda smoke=True: _unusable())
    result = cli("up", "--gpu", "auto")
    assert result.exit_code == 0, result.output
    prefix = compose_prefix(stack_root, *DEV_FILES)
    assert docker.changing_calls() == [[*prefix, "config"], [*prefix, *BUILD_ALL], [*prefix, *UP]]
    assert "--gpu auto: no usable GPU: host driver" in result.stderr and "starting on CPU" in result.stderr


def test_up_prod_refuses_gpu(docker: FakeDocker, cli) -> None:
    result = cli("up", "--prod", "--gpu")
    assert result.exit_code == 2 and "cannot be combined with --gpu" in result.stderr
    assert docker.calls == []
