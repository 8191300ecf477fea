"""train / pipeline / seed: run in the training container, exit code handed over to docker compose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools import gpu
from devtools.gpu import Gpu, GpuReport, Layer, Status
from testing.cli_harness import FakeDocker, compose_prefix

DEV_FILES = ("docker-compose.yml", "docker-compose.dev.yml")


@pytest.mark.parametrize(
    ("args", "job"),
    [
        (["train"], ["train"]),
        (["train", "--", "--epochs", "3", "--promote", "never"], ["train", "--epochs", "3", "--promote", "never"]),
        (["train", "--epochs", "3"], ["train", "--epochs", "3"]),
        (["pipeline", "--force"], ["pipeline", "--force"]),
        (["seed"], ["seed"]),
        (["seed", "--force"], ["seed", "--force"]),
        (["seed", "--recipe", "diabetes"], ["seed", "--recipe", "diabetes"]),
        (["pipeline", "--recipe", "diabetes", "--force"], ["pipeline", "--recipe", "diabetes", "--force"]),
        (["train", "--", "--recipe", "diabetes"], ["train", "--recipe", "diabetes"]),
    ],
)
def test_job_execs_into_running_training(docker: FakeDocker, stack_root: Path, cli, args, job) -> None:
    docker.respond_to(["ps", "--status", "running"], stdout="mlflow\ntraining\n")
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert docker.execs == [
        [*compose_prefix(stack_root, *DEV_FILES), "exec", "-T", "training", "python", "-m", "training", *job]
    ]


def test_job_runs_a_one_off_container_when_training_is_down(docker: FakeDocker, stack_root: Path, cli) -> None:
    docker.respond_to(["ps", "--status", "running"], stdout="mlflow\n")
    cli("train", "--epochs", "1")
    assert docker.execs == [
        [
            *compose_prefix(stack_root, *DEV_FILES),
            "run",
            "--rm",
            "-T",
            "--entrypoint",
            "python",
            "training",
            "-m",
            "training",
            "train",
            "--epochs",
            "1",
        ]
    ]


# --- train --gpus: DDP over the GPUs of the training container -------------------------------------

GPU_FILES = (*DEV_FILES, "docker-compose.gpu.yml")
NVIDIA_REQUESTS = '[{"Driver":"nvidia","Count":-1,"DeviceIDs":null,"Capabilities":[["gpu"]],"Options":{}}]'


def _report(*, usable: bool) -> GpuReport:
    if usable:
        layers = [Layer("smoke", "Smoke test", Status.OK, "2 GPUs listed in a container")]
        return GpuReport(layers, [Gpu("NVIDIA H100 80GB HBM3", "570.86", 81559, "9.0")] * 2, "12.8", True)
    evidence = "no nvidia-smi, no /proc/driver/nvidia"
    driver = Layer("driver", "Host driver", Status.MISSING, evidence, "install the driver")
    return GpuReport([driver], [], None, False)


def _running_training(docker: FakeDocker, device_requests: str) -> None:
    docker.respond_to(["ps", "--status", "running"], stdout="mlflow\ntraining\n")
    docker.respond_to(["ps", "-q", "training"], stdout="c0ffee\n")
    inspected = {"Name": "/mlstack-training-1", "State": {"Status": "running"}, "HostConfig": {}}
    inspected["HostConfig"]["DeviceRequests"] = json.loads(device_requests)
    docker.respond(lambda argv: argv[:3] == ["docker", "container", "inspect"], stdout=json.dumps([inspected]))


@pytest.mark.parametrize(
    ("args", "ddp"),
    [
        (["train", "--gpus", "2"], ["--nproc-per-node", "2"]),
        (["train", "--gpus"], ["--nproc-per-node", "all"]),
        (["train", "--gpus", "all"], ["--nproc-per-node", "all"]),
        (["train", "--gpus", "--epochs", "3"], ["--nproc-per-node", "all", "--device", "cuda", "--epochs", "3"]),
        (["train", "--epochs", "3", "--gpus", "1"], ["--nproc-per-node", "1", "--device", "cuda", "--epochs", "3"]),
    ],
)
def test_train_gpus_execs_ddp_into_a_training_container_with_gpus(
    docker: FakeDocker, stack_root: Path, cli, args, ddp
) -> None:
    _running_training(docker, NVIDIA_REQUESTS)
    result = cli(*args)
    assert result.exit_code == 0, result.output
    job = ["python", "-m", "training", "train", *ddp]
    if "--device" not in ddp:
        job += ["--device", "cuda"]
    assert docker.execs == [[*compose_prefix(stack_root, *DEV_FILES), "exec", "-T", "training", *job]]
    assert ["docker", "container", "inspect", "c0ffee"] in docker.calls


def test_train_gpus_refuses_a_training_container_started_without_gpus(docker: FakeDocker, cli) -> None:
    _running_training(docker, "null")
    result = cli("train", "--gpus", "2")
    assert result.exit_code == 1
    assert "running training container has no GPUs" in result.output and "devtools up --gpu" in result.output
    assert docker.execs == []


def test_train_gpus_one_off_gets_the_gpu_override(
    docker: FakeDocker, stack_root: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gpu, "detect", lambda smoke=True: _report(usable=True))
    docker.respond_to(["ps", "--status", "running"], stdout="mlflow\n")
    result = cli("train", "--gpus", "2", "--", "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert docker.execs == [
        [
            *compose_prefix(stack_root, *GPU_FILES),
            *("run", "--rm", "-T", "--entrypoint", "python", "training"),
            *("-m", "training", "train", "--nproc-per-node", "2", "--device", "cuda", "--epochs", "1"),
        ]
    ]


def test_train_gpus_without_a_gpu_names_the_layer_and_starts_nothing(
    docker: FakeDocker, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gpu, "detect", lambda smoke=True: _report(usable=False))
    docker.respond_to(["ps", "--status", "running"], stdout="")
    result = cli("train", "--gpus", "2")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "devtools: --gpus: no usable GPU: Host driver: no nvidia-smi, no /proc/driver/nvidia; fix: install the driver"
    ]
    assert docker.execs == []


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_train_gpus_rejects_a_bad_count(docker: FakeDocker, cli, value: str) -> None:
    result = cli("train", f"--gpus={value}")
    assert result.exit_code == 2
    assert "expected a number of GPUs" in result.output
    assert docker.execs == []


def test_a_job_is_told_the_image_it_runs_in(docker: FakeDocker, stack_root: Path, cli) -> None:
    """devtools.models.provenance: the running container's image, by its registry digest, goes to the job by
    name only (`-e NAME`): the value travels in compose's environment, never on a command line."""
    image_id, digest = "sha256:" + "a" * 64, "127.0.0.1:5001/mlstack/training@sha256:" + "b" * 64
    docker.respond_to(["ps", "--status", "running"], stdout="mlflow\ntraining\n")
    docker.respond_to(["ps", "-q", "training"], stdout="c0ffee\n")
    docker.respond(
        lambda argv: argv[1:4] == ["container", "inspect", "c0ffee"], stdout=json.dumps([{"Image": image_id}])
    )
    docker.respond(
        lambda argv: argv[1:4] == ["image", "inspect", image_id],
        stdout=json.dumps([{"Id": image_id, "RepoDigests": [digest]}]),
    )
    assert cli("train").exit_code == 0
    (argv,) = docker.execs
    assert argv[argv.index("exec") :][:6] == ["exec", "-T", "-e", "DEVTOOLS_IMAGE", "-e", "DEVTOOLS_IMAGE_ID"]
    assert digest not in " ".join(argv)
