"""train / pipeline / seed: run in the training container, exit code handed over to docker compose."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_harness import FakeDocker, compose_prefix

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
