"""training.cli.commands: each command from its flags to its one output line, against a real MLflow server
(in this process: the process-level behaviour is tests/unit/training/cli/test_failures.py's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from training.__main__ import main

from testing.training_helpers import require, runs_of, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient


def test_pipeline_writes_then_skips_then_reruns_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require("numpy", "sklearn")
    data = str(tmp_path / "data")
    outputs = []
    for extra in ([], [], ["--force"]):
        assert main(["pipeline", "--data-dir", data, *extra]) == 0
        outputs.append(capsys.readouterr().out)

    first, second, forced = outputs
    assert first.startswith(f"pipeline: wrote train 1437 rows, validation 360 rows to {data} (no manifest yet)")
    assert second.startswith(f"pipeline: up to date in {data}") and "skipped, use --force to rerun" in second
    assert "(forced)" in forced
    assert json.loads((tmp_path / "data" / "manifest.json").read_text())["splits"]["train"]["rows"] == 1437


def test_train_takes_every_option_and_prints_one_summary_line(
    mlflow_server: str, prepared_dir: Path, client: MlflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    require("torch", "transformers", "mlflow")
    experiment, name = unique("cli"), unique("cli-model")
    code = main(
        ["train", "--epochs", "1", "--batch-size", "48", "--lr", "0.002", "--seed", "3", "--device", "cpu",
         "--experiment", experiment, "--model-name", name, "--alias", "best", "--promote", "challenger",
         "--challenger-alias", "candidate", "--run-name", "from-the-cli", "--tracking-uri", mlflow_server,
         "--data-dir", str(prepared_dir)]
    )  # fmt: skip

    assert code == 0
    captured = capsys.readouterr()
    [summary] = captured.out.strip().splitlines()
    assert summary.startswith("trained: run_id=") and f" model={name} version=1 val_accuracy=0." in summary
    assert summary.endswith(
        " device=cpu alias=candidate alias_moved=yes (--promote challenger: serving compares it with @best)"
    )
    assert [line.split()[1] for line in captured.err.splitlines() if line.startswith("epoch ")] == ["1/1"]
    [run] = runs_of(client, experiment)
    assert run.info.run_name == "from-the-cli" and run.info.status == "FINISHED"
    params = run.data.params
    assert (params["epochs"], params["batch_size"], params["lr"], params["seed"], params["device"]) == (
        "1", "48", "0.002", "3", "cpu",
    )  # fmt: skip
    assert (params["promote"], run.data.tags["alias"]) == ("challenger", "candidate")
    assert client.get_registered_model(name).aliases == {"candidate": "1"}
