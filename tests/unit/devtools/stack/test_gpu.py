"""docker-compose.gpu.yml: what `up --gpu` appends after the dev override."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from devtools.stack.project import GPU_FILE as GPU_OVERRIDE_FILE
from testing.cli_harness import REPO as REPO_ROOT

REPO = REPO_ROOT
FILES = ("docker-compose.yml", "docker-compose.dev.yml", GPU_OVERRIDE_FILE)
RESERVATION = {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}


def _override() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / GPU_OVERRIDE_FILE).read_text())
    return loaded


def test_override_builds_cuda_training_under_its_own_tag_and_reserves_gpus() -> None:
    services = _override()["services"]
    training = services["training"]
    assert training["build"]["args"]["TORCH_VARIANT"] == "cuda"
    assert training["image"] == "${DEVTOOLS_IMAGE_PREFIX:-mlstack}/training:dev-cuda"
    # Explicit driver and count: an omitted count meant zero GPUs before Compose 2.30.
    assert training["deploy"]["resources"]["reservations"]["devices"] == [RESERVATION]
    assert training["shm_size"] == "8gb"  # NCCL between GPUs goes through /dev/shm
    assert services["seed"]["image"] == training["image"]  # seed runs the image training builds


def test_override_only_touches_services_the_stack_has() -> None:
    base = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert set(_override()["services"]) <= set(base["services"])


@pytest.mark.skipif(not shutil.which("docker"), reason="no docker CLI (compose config needs no engine)")
def test_compose_merges_the_override_last() -> None:
    argv = ["docker", "compose", "--project-directory", str(REPO), "-p", "mlstack-gpu-config"]
    for name in FILES:
        argv += ["-f", str(REPO / name)]
    env = {k: v for k, v in os.environ.items() if k not in ("DEVTOOLS_IMAGE_PREFIX", "TORCH_VARIANT")}
    done = subprocess.run([*argv, "config", "--format", "json"], capture_output=True, text=True, env=env, check=False)
    if "unknown flag: --format" in done.stderr:
        pytest.skip("this Compose has no 'config --format json'")
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    training = services["training"]
    assert training["image"] == "mlstack/training:dev-cuda"
    assert training["build"]["target"] == "dev" and training["build"]["args"]["TORCH_VARIANT"] == "cuda"
    assert training["deploy"]["resources"]["reservations"]["devices"] == [{**RESERVATION, "count": -1}]
    assert int(training["shm_size"]) == 8 * 1024**3
    assert services["seed"]["image"] == "mlstack/training:dev-cuda"
    assert "deploy" not in services["serving"] and services["serving"]["image"] == "mlstack/serving:dev"
