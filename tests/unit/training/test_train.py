"""training.train: the checks that need no training run first, before anything is logged: a challenger
alias that is the alias, a signature serving cannot type, a job bigger than the recipe trains in, another
recipe's data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from training.config import TrainConfig
from training.errors import EXIT_USAGE, DataError, UsageError
from training.recipes import RECIPES, recipe_named
from training.recipes.diabetes import DiabetesRecipe
from training.train import train

from testing.training_helpers import Cli, require, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.models import ModelSignature
    from training.data import Prepared


def test_a_challenger_alias_equal_to_the_alias_is_refused(tmp_path: Path) -> None:
    # Refused before anything is read or trained: no data, no server needed.
    cli = Cli(tracking_uri="http://127.0.0.1:9", data_dir=tmp_path / "no-data")
    result = cli.run("train", "--promote", "challenger", "--alias", "best", "--challenger-alias", "best", timeout=60)

    assert result.returncode == EXIT_USAGE and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "python -m training train: error: --promote challenger: --challenger-alias is 'best', the same as --alias; "
        "the challenger needs an alias of its own (default: challenger)"
    ]
    with pytest.raises(UsageError, match="the same as --alias"):
        train(
            TrainConfig(tmp_path / "no-data", "http://127.0.0.1:9", promote="challenger", challenger_alias="champion")
        )


# A recipe whose signature serving cannot type: the diabetes recipe, with one column turned into a list.
class UntypableRecipe(DiabetesRecipe):
    name = "untypable"

    def signature(self, data: Prepared) -> ModelSignature:
        from mlflow.models import ModelSignature
        from mlflow.types import ColSpec, DataType, Schema
        from mlflow.types.schema import Array

        return ModelSignature(inputs=Schema([ColSpec(DataType.double, "age"), ColSpec(Array(DataType.double), "s")]))


@pytest.fixture
def untypable(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """UntypableRecipe registered as 'untypable' for one test."""
    monkeypatch.setitem(RECIPES, "untypable", f"{__name__}:UntypableRecipe")
    recipe_named.cache_clear()
    yield "untypable"
    recipe_named.cache_clear()


def test_a_signature_serving_cannot_type_is_refused_before_anything_is_logged(
    tmp_path: Path, untypable: str, mlflow_server: str, client: MlflowClient
) -> None:
    require("numpy", "sklearn", "mlflow")
    from training.data import run_pipeline

    run_pipeline(tmp_path / "data", recipe=untypable)
    experiment, model = unique("untypable"), unique("untypable-model")
    config = TrainConfig(
        data_dir=tmp_path / "data", tracking_uri=mlflow_server, recipe=untypable, experiment=experiment,
        model_name=model, progress=False,
    )  # fmt: skip

    with pytest.raises(UsageError) as raised:
        train(config)

    assert str(raised.value) == (
        "recipe untypable's signature (column 's' of type Array(double)) cannot be typed by serving's /predict: "
        "declare one 2-D tensor (-1, N) or named scalar columns (double, float, long, integer, boolean, string)"
    )
    assert raised.value.exit_code == EXIT_USAGE
    assert client.search_registered_models(f"name = '{model}'") == []
    assert client.get_experiment_by_name(experiment) is None  # not even an experiment: no run was started


def test_a_torchrun_world_is_refused_by_a_one_process_recipe(
    diabetes_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    config = TrainConfig(data_dir=diabetes_dir, tracking_uri="http://127.0.0.1:9", recipe="diabetes", progress=False)
    with pytest.raises(UsageError, match="recipe diabetes trains in one process: start it without --nproc-per-node"):
        train(config)


def test_a_recipe_cannot_train_on_another_recipes_data(diabetes_dir: Path, prepared_dir: Path) -> None:
    require("torch")
    with pytest.raises(DataError, match="is for recipe 'diabetes', not 'digits'"):
        train(TrainConfig(data_dir=diabetes_dir, tracking_uri="http://127.0.0.1:9", device="cpu", progress=False))
    with pytest.raises(DataError, match="is for recipe 'digits', not 'diabetes'"):
        train(TrainConfig(data_dir=prepared_dir, tracking_uri="http://127.0.0.1:9", recipe="diabetes", progress=False))
