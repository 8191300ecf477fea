"""Training against a real MLflow server: registration, alias promotion, determinism, the served model."""

from __future__ import annotations

import signal
from dataclasses import replace
from pathlib import Path

import pytest

from testing.training_helpers import Cli, require, runs_of, unique

require("torch", "transformers", "mlflow", "numpy", "sklearn")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from training.__main__ import main  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.data import load_prepared  # noqa: E402
from training.errors import EXIT_INTERRUPTED, EXIT_TRAINING  # noqa: E402
from training.recording import TrainResult  # noqa: E402
from training.train import train  # noqa: E402

EPOCHS = 2


@pytest.fixture(scope="module")
def config(mlflow_server: str, prepared_dir: Path) -> TrainConfig:
    return TrainConfig(
        data_dir=prepared_dir,
        tracking_uri=mlflow_server,
        epochs=EPOCHS,
        seed=7,
        device="cpu",
        experiment=unique("exp"),
        model_name=unique("model"),
        progress=False,
    )


@pytest.fixture(scope="module")
def trained(config: TrainConfig) -> TrainResult:
    result = train(config)
    assert result is not None  # None only on ranks other than 0 of a distributed job
    return result


@pytest.fixture(scope="module")
def client(mlflow_server: str) -> MlflowClient:
    mlflow.set_tracking_uri(mlflow_server)
    return MlflowClient(mlflow_server)


def test_run_is_finished_with_params_metrics_and_artifacts(trained: TrainResult, client: MlflowClient) -> None:
    run = client.get_run(trained.run_id)

    assert run.info.status == "FINISHED"
    assert run.data.params["epochs"] == str(EPOCHS)
    assert run.data.params["seed"] == "7"
    assert run.data.params["device"] == "cpu"
    assert len(run.data.params["data_sha256"]) == 64
    for key in ("train_loss", "val_loss", "val_accuracy"):
        history = client.get_metric_history(trained.run_id, key)
        assert [m.step for m in history] == list(range(1, EPOCHS + 1))
    assert run.data.metrics["val_accuracy"] == pytest.approx(trained.val_accuracy)
    assert run.data.tags["model_version"] == trained.version
    assert "data/manifest.json" in [f.path for f in client.list_artifacts(trained.run_id, "data")]


def test_version_is_registered_and_alias_set(trained: TrainResult, config: TrainConfig, client: MlflowClient) -> None:
    version = client.get_model_version(config.model_name, trained.version)

    assert trained.version == "1"
    assert version.run_id == trained.run_id
    assert version.tags["val_accuracy"] == f"{trained.val_accuracy:.6f}"
    assert client.get_model_version_by_alias(config.model_name, "champion").version == "1"
    assert trained.alias_moved and trained.reason == "no version held 'champion'"
    assert trained.summary().startswith(f"trained: run_id={trained.run_id} model={config.model_name} version=1 ")


def test_served_model_matches_the_pytorch_module(trained: TrainResult, config: TrainConfig, prepared_dir: Path) -> None:
    x = load_prepared(prepared_dir).validation.x
    served = mlflow.pyfunc.load_model(f"models:/{config.model_name}@{config.alias}")

    predicted = served.predict(x)

    spec = served.metadata.signature.inputs.to_dict()
    assert spec == [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": (-1, 64)}}]
    with torch.no_grad():
        expected = trained.model(torch.from_numpy(x)).numpy()
    assert predicted.shape == (len(x), 10)
    np.testing.assert_allclose(predicted, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(predicted.argmax(axis=1), expected.argmax(axis=1))


def test_same_seed_gives_same_metrics(trained: TrainResult, config: TrainConfig, client: MlflowClient) -> None:
    again = train(replace(config, promote="never"))

    assert again.history == trained.history
    for key in ("train_loss", "val_loss", "val_accuracy"):
        first = [m.value for m in client.get_metric_history(trained.run_id, key)]
        second = [m.value for m in client.get_metric_history(again.run_id, key)]
        assert first == second


def test_alias_moves_per_promote(config: TrainConfig, client: MlflowClient) -> None:
    base = replace(config, model_name=unique("promote"))

    def alias() -> str:
        return str(client.get_model_version_by_alias(base.model_name, base.alias).version)

    good = train(replace(base, epochs=2))
    assert (good.alias_moved, alias()) == (True, good.version)

    worse = train(replace(base, epochs=1))  # one epoch scores clearly lower
    assert worse.val_accuracy < good.val_accuracy
    assert not worse.alias_moved and alias() == good.version
    assert worse.reason == f"v{good.version} keeps it at {good.val_accuracy:.4f}"

    equal = train(replace(base, epochs=2))  # same seed, same score: not strictly better
    assert equal.val_accuracy == good.val_accuracy
    assert not equal.alias_moved and alias() == good.version

    forced = train(replace(base, epochs=1, promote="always"))
    assert forced.alias_moved and alias() == forced.version

    better = train(replace(base, epochs=2))
    assert better.alias_moved and alias() == better.version
    assert better.reason == f"beat v{forced.version} at {forced.val_accuracy:.4f}"

    held = train(replace(base, seed=8, promote="never"))
    assert not held.alias_moved and held.reason == "--promote never" and alias() == better.version
    versions = client.search_model_versions(f"name='{base.model_name}'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4, 5, 6]


def test_failed_training_ends_the_run_failed(
    config: TrainConfig, client: MlflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    experiment = unique("diverge")
    code = main(
        ["train", "--lr", "1e30", "--epochs", "1", "--device", "cpu", "--experiment", experiment,
         "--model-name", unique("diverge"), "--tracking-uri", config.tracking_uri, "--data-dir", str(config.data_dir)]
    )  # fmt: skip

    assert code == EXIT_TRAINING
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "python -m training train: error: training diverged: train loss is nan at epoch 1 (try a lower --lr)"
    )
    assert [r.info.status for r in runs_of(client, experiment)] == ["FAILED"]


def test_train_cli_prints_one_summary_line(
    config: TrainConfig, client: MlflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("cli")
    code = main(
        ["train", "--epochs", "1", "--device", "auto", "--experiment", config.experiment, "--model-name", name,
         "--promote", "never", "--tracking-uri", config.tracking_uri, "--data-dir", str(config.data_dir)]
    )  # fmt: skip

    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("trained: run_id=") and f"model={name} version=1 " in out[0]
    assert out[0].endswith("alias=champion alias_moved=no (--promote never)")
    assert client.get_registered_model(name).aliases == {}


def test_sigterm_ends_the_run_failed(config: TrainConfig, client: MlflowClient) -> None:
    experiment = unique("sigterm")
    cli = Cli(tracking_uri=config.tracking_uri, data_dir=config.data_dir)
    code, err = cli.interrupt_training(
        ["--device", "cpu", "--experiment", experiment, "--model-name", unique("sigterm")],
        lambda process: process.send_signal(signal.SIGTERM),
    )

    assert code == EXIT_INTERRUPTED
    assert err.strip().splitlines()[-1] == "python -m training train: interrupted"
    assert [r.info.status for r in runs_of(client, experiment)] == ["FAILED"]
