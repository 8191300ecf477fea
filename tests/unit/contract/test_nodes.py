"""contract.nodes: the lines a multi-node training job prints and devtools reads back, written and parsed
in one place (training prints them through these: tests/unit/training/test_world.py)."""

from __future__ import annotations

import pytest
from contract.nodes import NODES_ENV, RDZV_PORT, NodeAnnounce, parse_announce, parse_run_started, run_started_line

RUN_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "announce",
    [NodeAnnounce("node-0", 0, 1, 4), NodeAnnounce("ip-10-0-1-7.ec2.internal", 2, 3, 4), NodeAnnounce("h", 5, 5, 6)],
)
def test_an_announcement_reads_back_as_written(announce: NodeAnnounce) -> None:
    assert parse_announce(announce.line()) == announce
    assert parse_announce(f"  {announce.line()}\n") == announce  # as a log stream delivers it


def test_the_announcement_is_the_line_devtools_has_always_read() -> None:
    assert NodeAnnounce("mlstack-train-1a2b-node-1", 2, 3, 4).line() == "node mlstack-train-1a2b-node-1: ranks 2-3 of 4"


@pytest.mark.parametrize(
    "line",
    [
        "epoch 1/2 train_loss=2.1 val_loss=2.0 val_accuracy=0.3",
        "python -m training train: error: rank 1: training diverged",
        "node a b: ranks 0-1 of 2",  # a host name has no spaces
        "node a: ranks 0-1 of two",
        "node a: ranks 0-1 of 2 (late)",
        "",
    ],
)
def test_other_lines_announce_nothing(line: str) -> None:
    assert parse_announce(line) is None


def test_the_run_started_line_reads_back_as_written() -> None:
    line = run_started_line(RUN_ID)
    assert line == f"mlflow: run_id={RUN_ID} started"
    assert parse_run_started(line) == parse_run_started(f"{line}\n") == RUN_ID


@pytest.mark.parametrize(
    "line",
    [
        f"trained: run_id={RUN_ID} model=digits-classifier version=1 val_accuracy=0.9",  # the summary
        f"mlflow: run_id={RUN_ID[:-1]} started",
        f"mlflow: run_id={RUN_ID.upper()} started",
        "mlflow: run_id= started",
    ],
)
def test_only_the_run_started_line_names_a_started_run(line: str) -> None:
    assert parse_run_started(line) is None


def test_a_run_id_must_be_mlflows() -> None:
    with pytest.raises(ValueError, match="not an MLflow run id"):
        run_started_line("run-1")


def test_the_shared_settings() -> None:
    assert (NODES_ENV, RDZV_PORT) == ("TRAINING_NODES", 29400)
