"""`python -m training seed`: seeds a fresh MLflow once; --force seeds again."""

from __future__ import annotations

import time
from pathlib import Path

from testing.training_helpers import Cli, require, runs_of, unique

require("torch", "transformers", "mlflow", "numpy", "sklearn")

from mlflow import MlflowClient  # noqa: E402
from training.config import SeedConfig  # noqa: E402
from training.seed import seed  # noqa: E402


def _state(client: MlflowClient, experiment: str, model: str) -> tuple[list[str], list[str], str | None]:
    """(run statuses, version numbers, version holding 'champion')."""
    exp = client.get_experiment_by_name(experiment)
    runs = [] if exp is None else [r.info.status for r in client.search_runs([exp.experiment_id])]
    versions = sorted(v.version for v in client.search_model_versions(f"name='{model}'"))
    aliases = client.get_registered_model(model).aliases if versions else {}
    holder = aliases.get("champion")
    return runs, versions, None if holder is None else str(holder)


def test_seed_is_idempotent_and_force_seeds_again(mlflow_server: str, tmp_path: Path) -> None:
    client = MlflowClient(mlflow_server)
    experiment, model = unique("demo"), unique("seeded")
    cli = Cli(tracking_uri=mlflow_server, data_dir=tmp_path / "data")
    args = ("seed", "--experiment", experiment, "--model-name", model, "--device", "cpu")

    started = time.monotonic()
    first = cli.run(*args, timeout=300)
    first_s = time.monotonic() - started

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("seeded: run_id=") and "alias_moved=yes (--promote always)" in first.stdout
    assert "pipeline: wrote" in first.stderr
    assert _state(client, experiment, model) == (["FINISHED"], ["1"], "1")
    run = runs_of(client, experiment)[0]
    assert run.data.tags["seeded_by"] == "python -m training seed"
    assert [f.path for f in client.list_artifacts(run.info.run_id, "data")] == ["data/manifest.json"]
    print(f"first seed took {first_s:.1f}s")

    again = cli.run(*args, timeout=120)

    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"already seeded: experiment {experiment!r} has finished run {run.info.run_id}")
    assert _state(client, experiment, model) == (["FINISHED"], ["1"], "1")

    forced = cli.run(*args, "--force", timeout=300)

    assert forced.returncode == 0, forced.stderr
    assert "up to date" in forced.stderr  # the pipeline is not redone
    assert _state(client, experiment, model) == (["FINISHED", "FINISHED"], ["1", "2"], "2")


def test_seed_repairs_a_missing_alias(mlflow_server: str, prepared_dir: Path) -> None:
    client = MlflowClient(mlflow_server)
    config = SeedConfig(
        data_dir=prepared_dir, tracking_uri=mlflow_server, experiment=unique("demo"), model_name=unique("seeded"),
        epochs=1, device="cpu",
    )  # fmt: skip
    assert seed(config).startswith("seeded: ")
    client.delete_registered_model_alias(config.model_name, "champion")

    outcome = seed(config)

    assert outcome.startswith("seeded: ") and "version=2" in outcome
    assert _state(client, config.experiment, config.model_name) == (["FINISHED", "FINISHED"], ["1", "2"], "2")
    assert seed(config).startswith("already seeded: ")


def test_seed_with_only_a_failed_run_seeds(mlflow_server: str, prepared_dir: Path) -> None:
    import mlflow

    client = MlflowClient(mlflow_server)
    config = SeedConfig(
        data_dir=prepared_dir, tracking_uri=mlflow_server, experiment=unique("demo"), model_name=unique("seeded"),
        epochs=1, device="cpu",
    )  # fmt: skip
    experiment_id = client.create_experiment(config.experiment)
    client.set_terminated(client.create_run(experiment_id).info.run_id, "FAILED")
    mlflow.set_tracking_uri(mlflow_server)

    assert seed(config).startswith("seeded: ")
    statuses = sorted(r.info.status for r in client.search_runs([experiment_id]))
    assert statuses == ["FAILED", "FINISHED"]
