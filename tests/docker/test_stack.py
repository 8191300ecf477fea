"""The foundation end to end: up, health, cross-service HTTP, non-root dev shell, a second `up` that does
nothing, `--gpu` without a GPU. (The prod images: test_prod_images.py; `down -v`: the session's `stack`
fixture, which fails the session when anything of the project is left.)"""

from __future__ import annotations

import re
import subprocess

import pytest

from testing.stack_harness import PROJECT, Stack, get_json, nvidia_gpu_here, running_stack_output


def test_up_brings_mlflow_and_serving_to_healthy(stack: Stack) -> None:
    assert stack.url("mlflow", "/") in running_stack_output[0]
    assert stack.url("serving", "/docs") in running_stack_output[0]
    rows = {}
    for line in stack.devtools("ps").stdout.splitlines()[1:]:
        cells = line.split()
        rows[cells[0]] = cells[1:]
    assert rows["mlflow"][:2] == ["running", "healthy"]
    assert rows["serving"][:2] == ["running", "healthy"]
    assert rows["training"][0] == "running"


def test_serving_health_answers_from_the_host(stack: Stack) -> None:
    assert get_json(stack.url("serving", "/health")) == {"status": "ok"}


def test_mlflow_rest_api_answers_from_the_host(stack: Stack) -> None:
    body = get_json(stack.url("mlflow", "/api/2.0/mlflow/experiments/search?max_results=10"))
    assert any(exp["name"] == "Default" for exp in body["experiments"])


def test_mlflow_rest_api_answers_from_serving_by_service_name(stack: Stack) -> None:
    # Host header "mlflow:5000" must pass MLflow's DNS-rebinding check (--allowed-hosts).
    script = (
        "import json, urllib.request;"
        "r = urllib.request.urlopen('http://mlflow:5000/api/2.0/mlflow/experiments/search?max_results=1', timeout=10);"
        "print(r.status, len(json.load(r)['experiments']))"
    )
    done = stack.devtools("shell", "serving", "--", "python", "-c", script)
    assert done.stdout.split() == ["200", "1"]


def test_dev_shell_is_not_root(stack: Stack) -> None:
    uid = stack.devtools("shell", "serving", "--", "id", "-u").stdout.strip()
    assert uid.isdigit() and int(uid) != 0


def test_shell_passes_the_exit_code_through(stack: Stack) -> None:
    done = stack.devtools("shell", "training", "--", "sh", "-c", "exit 7", check=False)
    assert done.returncode == 7


# What `up` prints per image when it builds or pulls one (`mlflow: built (4 steps, 3 cached)`, `mlflow:
# building: [3/4] COPY ...`, `base: pulled REGISTRY/...`): a line that starts with the image's service.
IMAGE_PROGRESS = re.compile(r"^(base|mlflow|serving|training|seed): ", re.M)


def test_second_up_rebuilds_nothing_and_keeps_containers(stack: Stack) -> None:
    containers = {c: cid for c, cid in _container_ids().items() if not c.endswith("base-1")}
    images = _image_ids(stack)
    done = stack.devtools("up")
    assert not IMAGE_PROGRESS.search(done.stderr), done.stderr  # no image built or pulled, not even from cache
    assert _image_ids(stack) == images  # each service still runs the very same image
    assert {c: cid for c, cid in _container_ids().items() if not c.endswith("base-1")} == containers


def _image_ids(stack: Stack) -> dict[str, str]:
    """Each image the stack's services use (by the name Compose gives it) -> the image id it is now."""
    names = sorted(set(stack.compose("config", "--images").stdout.split()))
    assert names, "the stack names no images"
    found = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", *names], capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    return dict(zip(names, found.stdout.split(), strict=True))


def _container_ids() -> dict[str, str]:
    import docker

    client = docker.from_env()
    return {
        c.name: c.id
        for c in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={PROJECT}"})
    }


@pytest.mark.needs_no_gpu
@pytest.mark.skipif(nvidia_gpu_here(), reason="this host has an NVIDIA GPU: the GPU path is tests/gpu's")
def test_gpu_required_without_a_gpu_fails_naming_the_layer_and_starts_nothing(stack: Stack) -> None:
    before = _container_ids()
    done = stack.devtools("up", "--gpu", check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("devtools: --gpu: no usable GPU: host driver:"), done.stderr
    assert "fix:" in lines[-1]
    assert _container_ids() == before  # nothing was created, recreated or started


@pytest.mark.needs_no_gpu
@pytest.mark.skipif(nvidia_gpu_here(), reason="this host has an NVIDIA GPU: the GPU path is tests/gpu's")
def test_gpu_auto_without_a_gpu_brings_the_cpu_stack_up(stack: Stack) -> None:
    done = stack.devtools("up", "--gpu", "auto")
    assert "--gpu auto:" in done.stderr and "starting on CPU" in done.stderr
    assert stack.url("serving", "/docs") in done.stdout
    assert get_json(stack.url("serving", "/health")) == {"status": "ok"}
