"""Fixtures for the training service's tests, in the unit and integration tiers: one real MLflow server
for the run (testing/training_helpers.py), prepared data in tmp, the CLI as a process, an MLflow client.
Each tier's conftest.py imports them.

Nothing here imports torch, mlflow or numpy at module level, so collection works (and the tests
skip) in an environment without the training requirements.
"""

from __future__ import annotations

import base64
import gzip
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from testing.training_helpers import Cli, mlflow_server, require, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from training.config import TrainConfig
    from training.recording import TrainResult

__all__ = ["mlflow_server"]  # a fixture, used by name


@pytest.fixture(scope="session", autouse=True)
def _mlflow_as_the_command_configures_it() -> None:
    """`python -m training` sets MLFLOW_LOGGING_LEVEL=WARNING before it imports mlflow
    (training.cli.failures); in this process mlflow is imported by the tests first, so its loggers are
    set as that variable would have set them: commands run by main() print what the process prints."""
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits' prepared data, shared read-only by the training tests; copy it before damaging it."""
    require("numpy", "sklearn")
    from training.data import run_pipeline

    data_dir = tmp_path_factory.mktemp("prepared")
    run_pipeline(data_dir)
    return data_dir


@pytest.fixture(scope="session")
def diabetes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The diabetes recipe's prepared data, shared read-only."""
    require("numpy", "sklearn")
    from training.data import run_pipeline

    data_dir = tmp_path_factory.mktemp("diabetes")
    run_pipeline(data_dir, recipe="diabetes")
    return data_dir


@pytest.fixture
def data_copy(prepared_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(prepared_dir, target)
    return target


@pytest.fixture
def cli(mlflow_server: str, prepared_dir: Path) -> Cli:
    return Cli(tracking_uri=mlflow_server, data_dir=prepared_dir)


@pytest.fixture(scope="session")
def client(mlflow_server: str) -> MlflowClient:
    """A client of the run's server; mlflow's fluent API points there too (the tests load models by URI)."""
    require("mlflow")
    import mlflow

    mlflow.set_tracking_uri(mlflow_server)
    return mlflow.MlflowClient(mlflow_server)


@pytest.fixture(scope="session")
def digits_config(mlflow_server: str, prepared_dir: Path) -> TrainConfig:
    """A short digits training of its own experiment and model, on the run's server."""
    require("torch", "transformers", "mlflow")
    from training.config import TrainConfig

    return TrainConfig(
        data_dir=prepared_dir,
        tracking_uri=mlflow_server,
        epochs=2,
        seed=7,
        device="cpu",
        experiment=unique("digits"),
        model_name=unique("digits-model"),
        progress=False,
    )


@pytest.fixture(scope="session")
def digits_trained(digits_config: TrainConfig, client: MlflowClient) -> TrainResult:
    """digits_config trained once, for every test that reads what a training recorded: version 1, champion."""
    from training.train import train

    # As devtools starts a job from a dirty checkout (devtools.models.provenance): the run records it.
    with pytest.MonkeyPatch.context() as env:
        for name, value in DIGITS_PROVENANCE.items():
            env.setenv(name, value)
        result = train(digits_config)
    assert result is not None  # None only on ranks other than 0 of a distributed job
    return result


DIGITS_DIFF = "--- a/services/training/x.py\n+++ b/services/training/x.py\n@@ -1 +1 @@\n-a\n+b\n"
DIGITS_PROVENANCE = {
    "DEVTOOLS_IMAGE": "127.0.0.1:5001/mlstack/training@sha256:" + "1" * 64,
    "DEVTOOLS_IMAGE_ID": "sha256:" + "2" * 64,
    "DEVTOOLS_GIT_COMMIT": "3" * 40,
    "DEVTOOLS_GIT_DIRTY": "true",
    "DEVTOOLS_SOURCE_DIFF": base64.b64encode(gzip.compress(DIGITS_DIFF.encode())).decode(),
}
