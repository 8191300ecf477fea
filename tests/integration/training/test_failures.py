"""training.cli.failures, through a real process: SIGTERM ends a started run FAILED with the documented
exit code."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from training.errors import EXIT_INTERRUPTED

from testing.training_helpers import Cli, require, runs_of, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient


def test_sigterm_ends_the_run_failed(cli: Cli, client: MlflowClient) -> None:
    require("torch", "transformers", "mlflow")
    experiment = unique("sigterm")
    code, err = cli.interrupt_training(
        ["--device", "cpu", "--experiment", experiment, "--model-name", unique("sigterm")],
        lambda process: process.send_signal(signal.SIGTERM),
    )

    assert code == EXIT_INTERRUPTED
    assert err.strip().splitlines()[-1] == "python -m training train: interrupted"
    assert [r.info.status for r in runs_of(client, experiment)] == ["FAILED"]
