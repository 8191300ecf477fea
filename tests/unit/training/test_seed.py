"""training.seed (`python -m training seed`): seeds a fresh MLflow once, repairs what is missing, --force
seeds again; against a real server, through the command (in this process: one interpreter start per seed
would cost the imports every time, and the command's process behaviour is the same as train's)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from testing.training_helpers import require, runs_of, unique

require("torch", "transformers", "mlflow", "numpy", "sklearn")

from training.__main__ import main  # noqa: E402

if TYPE_CHECKING:
    from mlflow import MlflowClient


def _state(client: MlflowClient, experiment: str, model: str) -> tuple[list[str], list[str], str | None]:
    """(run statuses, oldest first; version numbers; the version holding 'champion')."""
    exp = client.get_experiment_by_name(experiment)
    runs = (
        []
        if exp is None
        else [r.info.status for r in client.search_runs([exp.experiment_id], order_by=["start_time ASC"])]
    )
    versions = sorted(v.version for v in client.search_model_versions(f"name='{model}'"))
    holder = client.get_registered_model(model).aliases.get("champion") if versions else None
    return runs, versions, None if holder is None else str(holder)


def test_seed_is_idempotent_repairs_a_missing_alias_and_force_seeds_again(
    mlflow_server: str, tmp_path: Path, client: MlflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    experiment, model = unique("demo"), unique("seeded")
    data = tmp_path / "data"  # nothing prepared yet: seeding prepares it
    args = ["seed", "--experiment", experiment, "--model-name", model, "--device", "cpu", "--epochs", "1",
            "--tracking-uri", mlflow_server, "--data-dir", str(data)]  # fmt: skip
    # An experiment with only a failed run is not seeded.
    experiment_id = client.create_experiment(experiment)
    client.set_terminated(client.create_run(experiment_id).info.run_id, "FAILED")
    capsys.readouterr()  # the client's own "View run" line

    assert main(args) == 0
    first = capsys.readouterr()
    assert first.out.startswith("seeded: run_id=") and "alias_moved=yes (--promote always)" in first.out
    assert f" model={model} version=1 " in first.out
    assert "pipeline: wrote" in first.err
    assert _state(client, experiment, model) == (["FAILED", "FINISHED"], ["1"], "1")
    [seeded] = [r for r in runs_of(client, experiment) if r.info.status == "FINISHED"]
    assert seeded.info.run_name == "seed" and seeded.data.tags["seeded_by"] == "python -m training seed"
    assert [f.path for f in client.list_artifacts(seeded.info.run_id, "data")] == ["data/manifest.json"]

    assert main(args) == 0
    again = capsys.readouterr().out
    assert again.startswith(f"already seeded: experiment {experiment!r} has finished run {seeded.info.run_id}; ")
    assert again.strip().endswith(f"{model}@champion is version 1 (use --force to seed again)")
    assert _state(client, experiment, model) == (["FAILED", "FINISHED"], ["1"], "1")

    client.delete_registered_model_alias(model, "champion")
    assert main(args) == 0
    repaired = capsys.readouterr()
    assert repaired.out.startswith("seeded: ") and " version=2 " in repaired.out
    assert "up to date" in repaired.err  # the pipeline is not redone
    assert _state(client, experiment, model) == (["FAILED", "FINISHED", "FINISHED"], ["1", "2"], "2")

    assert main([*args, "--force"]) == 0
    assert " version=3 " in capsys.readouterr().out
    assert _state(client, experiment, model) == (["FAILED", "FINISHED", "FINISHED", "FINISHED"], ["1", "2", "3"], "3")


def test_seed_runs_in_one_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main(["seed", "--tracking-uri", "http://127.0.0.1:9"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == "python -m training seed (rank 0): error: seed runs in one process; start it without torchrun"
