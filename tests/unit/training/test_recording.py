"""training.recording: rank 0's MLflow run against a real server, the same for every recipe: params,
per-epoch metrics, the data manifest, the registered version, its alias per --promote; a failure ends the
run FAILED; the same seed records the same metrics."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from testing.training_helpers import require, runs_of, unique

require("torch", "transformers", "mlflow", "numpy", "sklearn")

from training.__main__ import main  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.errors import EXIT_TRAINING  # noqa: E402
from training.recording import TrainResult  # noqa: E402
from training.train import train  # noqa: E402

if TYPE_CHECKING:
    from mlflow import MlflowClient


def test_run_is_finished_with_params_metrics_and_artifacts(
    digits_trained: TrainResult, digits_config: TrainConfig, client: MlflowClient
) -> None:
    run = client.get_run(digits_trained.run_id)

    assert run.info.status == "FINISHED"
    assert run.data.tags["recipe"] == "digits"
    assert run.data.params["epochs"] == str(digits_config.epochs)
    assert run.data.params["seed"] == "7"
    assert run.data.params["device"] == "cpu"
    assert run.data.params["promote"] == "auto"
    assert len(run.data.params["data_sha256"]) == 64
    assert (run.data.params["train_rows"], run.data.params["validation_rows"]) == ("1437", "360")
    for key in ("train_loss", "val_loss", "val_accuracy"):
        history = client.get_metric_history(digits_trained.run_id, key)
        assert [m.step for m in history] == list(range(1, digits_config.epochs + 1))
    assert run.data.metrics["val_accuracy"] == pytest.approx(digits_trained.metric_value)
    assert run.data.tags["model_version"] == digits_trained.version
    assert "data/manifest.json" in [f.path for f in client.list_artifacts(digits_trained.run_id, "data")]


def test_version_is_registered_and_alias_set(
    digits_trained: TrainResult, digits_config: TrainConfig, client: MlflowClient
) -> None:
    version = client.get_model_version(digits_config.model_name, digits_trained.version)

    assert digits_trained.version == "1" and digits_trained.metric == "val_accuracy"
    assert version.run_id == digits_trained.run_id
    assert version.tags["val_accuracy"] == f"{digits_trained.metric_value:.6f}"
    assert client.get_model_version_by_alias(digits_config.model_name, "champion").version == "1"
    assert digits_trained.alias_moved and digits_trained.reason == "no version held 'champion'"
    tags = client.get_run(digits_trained.run_id).data.tags
    assert (tags["alias"], tags["alias_moved"]) == ("champion", "true")
    assert digits_trained.summary() == (
        f"trained: run_id={digits_trained.run_id} model={digits_config.model_name} version=1 "
        f"val_accuracy={digits_trained.metric_value:.4f} device=cpu alias=champion alias_moved=yes "
        "(no version held 'champion')"
    )


@pytest.fixture(scope="module")
def challenger(digits_trained: TrainResult, digits_config: TrainConfig) -> TrainResult:
    """The same training again (same seed), as the challenger of the first: version 2."""
    result = train(replace(digits_config, promote="challenger"))
    assert result is not None
    return result


def test_same_seed_records_the_same_metrics(
    digits_trained: TrainResult, challenger: TrainResult, client: MlflowClient
) -> None:
    assert challenger.history == digits_trained.history
    for key in ("train_loss", "val_loss", "val_accuracy"):
        first = [m.value for m in client.get_metric_history(digits_trained.run_id, key)]
        second = [m.value for m in client.get_metric_history(challenger.run_id, key)]
        assert first == second


def test_the_challenger_takes_its_own_alias_and_the_champion_stays(
    digits_config: TrainConfig, challenger: TrainResult, client: MlflowClient
) -> None:
    assert challenger.version == "2"
    assert client.get_registered_model(digits_config.model_name).aliases == {"champion": "1", "challenger": "2"}
    assert (challenger.alias, challenger.alias_moved) == ("challenger", True)
    assert challenger.summary().endswith(
        "alias=challenger alias_moved=yes (--promote challenger: serving compares it with @champion)"
    )
    tags = client.get_run(challenger.run_id).data.tags
    assert (tags["alias"], tags["alias_moved"], tags["model_version"]) == ("challenger", "true", "2")


def test_failed_training_ends_the_run_failed(
    mlflow_server: str, prepared_dir: Path, client: MlflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    experiment = unique("diverge")
    code = main(
        ["train", "--lr", "1e30", "--epochs", "1", "--device", "cpu", "--experiment", experiment,
         "--model-name", unique("diverge"), "--tracking-uri", mlflow_server, "--data-dir", str(prepared_dir)]
    )  # fmt: skip

    assert code == EXIT_TRAINING
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "python -m training train: error: training diverged: train loss is nan at epoch 1 (try a lower --lr)"
    )
    assert [r.info.status for r in runs_of(client, experiment)] == ["FAILED"]


def test_the_run_and_its_version_record_what_made_them(
    digits_trained: TrainResult, digits_config: TrainConfig, client: MlflowClient
) -> None:
    """contract.provenance: the image, the source (commit, dirty, the diff as an artifact), the data as a
    dataset input with its digest, the hardware; the version carries the image and the source."""
    from contract import provenance as keys

    from testing.training_fixtures import DIGITS_DIFF, DIGITS_PROVENANCE

    run = client.get_run(digits_trained.run_id)
    tags = run.data.tags
    assert tags[keys.IMAGE] == DIGITS_PROVENANCE["DEVTOOLS_IMAGE"]
    assert tags[keys.IMAGE_ID] == DIGITS_PROVENANCE["DEVTOOLS_IMAGE_ID"]
    assert (tags[keys.GIT_COMMIT], tags[keys.GIT_DIRTY], tags[keys.GIT_DIFF]) == ("3" * 40, "true", "recorded")
    assert tags[keys.LOCK_SHA256] == "unknown"  # not in an image: no lock at /opt/venv, and none is guessed
    assert tags[keys.HARDWARE_GPU_COUNT] == "0" and tags[keys.HARDWARE_CPU]
    assert len(tags[keys.DATA_DIGEST]) == 64  # of the prepared arrays; data_sha256 is the source file's
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.digest == tags[keys.DATA_DIGEST][:32]
    assert dataset.dataset.source_type == "local" and str(digits_config.data_dir) in dataset.dataset.source
    assert [tag.value for tag in dataset.tags if tag.key == "mlflow.data.context"] == [keys.DATASET_CONTEXT]
    command = json.loads(tags[keys.COMMAND])
    assert command[:3] == ["train", "--recipe", "digits"] and command[command.index("--seed") + 1] == "7"
    assert tags[keys.WORLD_SIZE] == "1"
    diff = client.download_artifacts(digits_trained.run_id, keys.DIFF_ARTIFACT)
    assert Path(diff).read_text() == DIGITS_DIFF
    version = client.get_model_version(digits_config.model_name, digits_trained.version)
    assert {key: version.tags.get(key) for key in (keys.IMAGE_ID, keys.GIT_COMMIT, keys.GIT_DIRTY)} == {
        keys.IMAGE_ID: DIGITS_PROVENANCE["DEVTOOLS_IMAGE_ID"],
        keys.GIT_COMMIT: "3" * 40,
        keys.GIT_DIRTY: "true",
    }


def test_the_version_carries_an_onnx_artifact_that_passed_the_gate(
    digits_trained: TrainResult, digits_config: TrainConfig, client: MlflowClient, tmp_path: Path
) -> None:
    """The ViT went through torch's exporter; ONNX Runtime's answers on the validation split matched the
    pyfunc's, and the graph takes any number of rows (the one row alone was checked too)."""
    import mlflow
    import numpy as np
    import onnxruntime

    version = client.get_model_version(digits_config.model_name, digits_trained.version)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{digits_config.model_name}/1", dst_path=str(tmp_path)))
    verdict = json.loads((local / "accelerated" / "onnx.json").read_text())

    assert verdict["usable"] and verdict["reason"] is None, verdict
    assert verdict["exporter"].startswith("torch.onnx (dynamo) ")
    assert verdict["rows_compared"] == 360 and verdict["top_class_agreement"] == 1.0
    assert verdict["input"] == {"name": "input", "dtype": "float32", "columns": None}
    assert verdict["output"]["shape_tail"] == [10] and verdict["output"]["dtype"] == "float32"
    assert version.tags["mlstack.accelerated"].startswith("onnx: usable (360 validation rows")
    session = onnxruntime.InferenceSession(
        str(local / "accelerated" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    rows = np.arange(3 * 64, dtype=np.float32).reshape(3, 64) % 17
    expected = mlflow.pyfunc.load_model(str(local)).predict(rows)
    np.testing.assert_allclose(session.run(None, {"input": rows})[0], expected, rtol=1e-3, atol=1e-5)
