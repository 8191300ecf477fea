"""training.recipes.diabetes end to end against a real MLflow server: seed, train, the registered sklearn
model with its column signature, and the refusals that are specific to a one-process, CPU recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing.training_helpers import require, runs_of, unique

require("mlflow", "numpy", "sklearn", "pandas")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from training.__main__ import main  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.data import load_prepared  # noqa: E402
from training.errors import EXIT_DATA, EXIT_USAGE  # noqa: E402
from training.recording import TrainResult  # noqa: E402
from training.train import train  # noqa: E402

COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


@pytest.fixture(scope="module")
def config(mlflow_server: str, diabetes_dir: Path) -> TrainConfig:
    return TrainConfig(
        data_dir=diabetes_dir,
        tracking_uri=mlflow_server,
        recipe="diabetes",
        experiment=unique("diabetes"),
        model_name=unique("diabetes-model"),
        progress=False,
    )


@pytest.fixture(scope="module")
def trained(config: TrainConfig) -> TrainResult:
    result = train(config)
    assert result is not None
    return result


def test_the_run_logs_the_fit_and_registers_the_alias(
    trained: TrainResult, config: TrainConfig, client: MlflowClient
) -> None:
    run = client.get_run(trained.run_id)

    assert run.info.status == "FINISHED"
    assert run.data.tags["recipe"] == "diabetes"
    assert run.data.params["estimator"] == "StandardScaler+Ridge" and len(run.data.params["data_sha256"]) == 64
    for key in ("train_rmse", "val_rmse", "val_r2"):
        assert [m.step for m in client.get_metric_history(trained.run_id, key)] == [1]
    assert 0.2 < run.data.metrics["val_r2"] < 1.0  # better than predicting the mean
    version = client.get_model_version(config.model_name, trained.version)
    assert version.tags["val_r2"] == f"{trained.metric_value:.6f}"
    assert client.get_model_version_by_alias(config.model_name, "champion").version == "1"
    assert trained.summary().startswith(f"trained: run_id={trained.run_id} model={config.model_name} version=1 val_r2=")
    assert trained.summary().endswith("device=cpu alias=champion alias_moved=yes (no version held 'champion')")
    manifest = client.download_artifacts(trained.run_id, "data/manifest.json")
    assert json.loads(Path(manifest).read_text())["recipe"] == "diabetes"


def test_the_registered_model_serves_rows_by_column(
    trained: TrainResult, config: TrainConfig, diabetes_dir: Path
) -> None:
    validation = load_prepared(diabetes_dir, "diabetes").validation
    frame = pd.DataFrame(validation.x, columns=COLUMNS)
    served = mlflow.pyfunc.load_model(f"models:/{config.model_name}@champion")

    predicted = served.predict(frame)

    inputs = served.metadata.signature.inputs.to_dict()
    assert [(column["name"], column["type"]) for column in inputs] == [(name, "double") for name in COLUMNS]
    assert set(served.metadata.flavors) == {"python_function", "sklearn"}
    np.testing.assert_allclose(predicted, trained.model.predict(frame))
    example = served.input_example
    assert list(example.columns) == COLUMNS and len(example) == 5
    # Column order is the signature's business, not the client's.
    np.testing.assert_allclose(served.predict(frame[COLUMNS[::-1]]), predicted)


def test_the_pipeline_is_exported_through_skl2onnx_and_passes_the_gate(
    trained: TrainResult, config: TrainConfig, client: MlflowClient, tmp_path: Path
) -> None:
    """The column signature's ten doubles go into the graph as one float64 tensor, in signature order;
    the graph's (rows, 1) answer is the pyfunc's (rows,)."""
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{config.model_name}/1", dst_path=str(tmp_path)))
    verdict = json.loads((local / "accelerated" / "onnx.json").read_text())

    assert verdict["usable"], verdict
    assert verdict["exporter"].startswith("skl2onnx ")
    assert verdict["input"] == {"name": "input", "dtype": "float64", "columns": COLUMNS}
    assert verdict["output"]["shape_tail"] == [] and verdict["output"]["dtype"] == "float64"
    assert verdict["top_class_agreement"] is None and verdict["max_abs_diff"] < 1e-9
    tag = client.get_model_version(config.model_name, trained.version).tags["mlstack.accelerated"]
    assert tag.startswith("onnx: usable (")


def test_same_data_same_fit_and_the_alias_stays(trained: TrainResult, config: TrainConfig) -> None:
    again = train(config)

    assert again is not None
    assert [epoch.logged() for epoch in again.history] == [epoch.logged() for epoch in trained.history]
    assert not again.alias_moved and again.reason == f"v1 keeps it at {trained.metric_value:.4f}"


def test_seed_and_train_cli_use_the_recipe_defaults(
    mlflow_server: str,
    tmp_path: Path,
    client: MlflowClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("TRAINING_DATA_DIR", str(tmp_path))  # the data root: the recipe's folder is in it
    for variable in ("TRAINING_RECIPE", "DEVTOOLS_DEBUG"):
        monkeypatch.delenv(variable, raising=False)

    assert main(["seed", "--recipe", "diabetes"]) == 0

    seeded = capsys.readouterr().out
    assert seeded.startswith("seeded: run_id=") and " model=diabetes-regressor version=" in seeded
    assert " val_r2=0." in seeded
    assert json.loads((tmp_path / "diabetes" / "manifest.json").read_text())["recipe"] == "diabetes"
    [run] = [r for r in runs_of(client, "diabetes") if r.info.run_id in seeded]
    assert run.data.tags["seeded_by"] == "python -m training seed"
    assert not (tmp_path / "manifest.json").exists()  # the digits' place stays untouched

    monkeypatch.setenv("TRAINING_RECIPE", "diabetes")  # the recipe from the environment, as compose sets it
    assert main(["train", "--promote", "never"]) == 0
    [summary] = capsys.readouterr().out.strip().splitlines()
    assert " model=diabetes-regressor " in summary and summary.endswith("alias_moved=no (--promote never)")
    assert [r for r in runs_of(client, "diabetes") if r.info.run_id in summary]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "cuda"], "recipe diabetes trains on the CPU (scikit-learn): use --device cpu or auto"),
        (
            ["--nproc-per-node", "2", "--device", "cpu"],
            "recipe diabetes trains in one process: start it without --nproc-per-node, --nnodes or torchrun",
        ),
    ],
)
def test_what_a_one_process_cpu_recipe_refuses(
    diabetes_dir: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "train",
            "--recipe",
            "diabetes",
            "--data-dir",
            str(diabetes_dir),
            "--tracking-uri",
            "http://127.0.0.1:9",
            *args,
        ]
    )

    assert code == EXIT_USAGE
    assert capsys.readouterr().err.strip().splitlines() == [f"python -m training train: error: {message}"]


def test_digits_data_is_refused_with_exit_3(prepared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["train", "--recipe", "diabetes", "--data-dir", str(prepared_dir), "--tracking-uri", "http://127.0.0.1:9"]
    )

    assert code == EXIT_DATA
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"python -m training train: error: prepared data in {prepared_dir} is for recipe 'digits'")
