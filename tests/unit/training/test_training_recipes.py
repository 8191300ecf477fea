"""The recipe registry, the pipeline per recipe, and the check that a recipe's signature is one serving can type."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from training.config import (
    DATA_DIR_ENV,
    DEFAULT_EXPERIMENT,
    DEFAULT_MODEL_NAME,
    SeedConfig,
    TrainConfig,
    default_data_location,
)
from training.errors import EXIT_USAGE, UsageError
from training.recipes import RECIPES, recipe_named, recipe_names
from training.recipes.diabetes import DiabetesRecipe

from testing.training_helpers import SERVICES, Cli, clean_env, require

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from training.data import Prepared


def test_the_registry_lists_both_recipes_and_imports_none_of_them() -> None:
    code = (
        "import sys\n"
        "from training.recipes import recipe_names\n"
        "print(recipe_names(), sorted(m for m in sys.modules if m.startswith('training.recipes.')),\n"
        "      sorted(m for m in ('numpy', 'torch', 'mlflow', 'sklearn', 'pandas') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=SERVICES, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['digits', 'diabetes'] [] []"


def test_each_recipe_is_registered_under_its_name() -> None:
    for name in recipe_names():
        recipe = recipe_named(name)
        assert recipe.name == name
        assert recipe.model_name and recipe.experiment and recipe.metric


def test_digits_keeps_the_defaults_serving_and_compose_repeat() -> None:
    digits = recipe_named("digits")
    assert (digits.model_name, digits.experiment, digits.metric, digits.distributed) == (
        DEFAULT_MODEL_NAME, DEFAULT_EXPERIMENT, "val_accuracy", True,
    )  # fmt: skip
    diabetes = recipe_named("diabetes")
    assert (diabetes.model_name, diabetes.experiment, diabetes.metric, diabetes.distributed) == (
        "diabetes-regressor", "diabetes", "val_r2", False,
    )  # fmt: skip
    assert TrainConfig(data_dir=Path(), tracking_uri="").recipe == SeedConfig(data_dir=Path(), tracking_uri="").recipe


def test_an_unknown_recipe_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(UsageError) as raised:
        recipe_named("nope")
    assert str(raised.value) == "unknown recipe 'nope': known recipes are digits, diabetes"
    assert raised.value.exit_code == EXIT_USAGE


def test_a_broken_registration_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(RECIPES, "ghost", "training.recipes.nowhere:Ghost")
    with pytest.raises(UsageError, match=r"recipe 'ghost' is registered as 'training.recipes.nowhere:Ghost', which"):
        recipe_named("ghost")
    monkeypatch.setitem(RECIPES, "impostor", "training.recipes.digits:DigitsRecipe")
    with pytest.raises(UsageError, match=r"does not implement training.recipes.Recipe with name 'impostor'"):
        recipe_named("impostor")


@pytest.mark.parametrize("command", ["pipeline", "train", "seed"])
def test_cli_refuses_an_unknown_recipe_in_one_line(tmp_path: Path, command: str) -> None:
    cli = Cli(tracking_uri="http://127.0.0.1:9", data_dir=tmp_path)
    for done in (
        cli.run(command, "--recipe", "nope", timeout=60),
        cli.run(command, timeout=60, TRAINING_RECIPE="nope"),
    ):
        assert done.returncode == EXIT_USAGE
        [line] = done.stderr.strip().splitlines()
        assert line == (
            f"python -m training {command}: error: argument --recipe: unknown recipe 'nope': "
            "known recipes are digits, diabetes (see --help)"
        )


def test_each_recipe_has_its_own_default_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    assert (default_data_location("digits"), default_data_location("diabetes")) == ("/data", "/data/diabetes")
    monkeypatch.setenv(DATA_DIR_ENV, "/srv/prepared/")
    assert (default_data_location("digits"), default_data_location("diabetes")) == (
        "/srv/prepared/", "/srv/prepared/diabetes",
    )  # fmt: skip
    monkeypatch.setenv(DATA_DIR_ENV, "s3://bucket/prefix")
    assert default_data_location("diabetes") == "s3://bucket/prefix/diabetes"


class TestPipeline:
    """The pipeline, generic over the recipe's source."""

    @pytest.fixture(autouse=True)
    def _requirements(self) -> None:
        require("numpy", "sklearn")

    def test_diabetes_is_prepared_with_named_float_columns(self, tmp_path: Path) -> None:
        from training.data import MANIFEST, load_prepared, run_pipeline

        result = run_pipeline(tmp_path, recipe="diabetes")

        manifest = json.loads((tmp_path / MANIFEST).read_text())
        assert manifest["recipe"] == "diabetes"
        assert manifest["features"]["names"] == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
        assert (manifest["features"]["dtype"], manifest["labels"]["dtype"]) == ("float64", "float64")
        assert manifest["split"]["stratified"] is False
        assert {name: info["rows"] for name, info in manifest["splits"].items()} == {"train": 353, "validation": 89}
        assert "pipeline: wrote train 353 rows, validation 89 rows" in result.summary()
        data = load_prepared(tmp_path, "diabetes")
        assert data.train.x.shape == (353, 10) and str(data.train.y.dtype) == "float64"
        assert run_pipeline(tmp_path, recipe="diabetes").skipped

    def test_digits_manifest_names_its_recipe_and_pixels(self, prepared_dir: Path) -> None:
        from training.data import MANIFEST

        manifest = json.loads((prepared_dir / MANIFEST).read_text())
        assert manifest["recipe"] == "digits" and manifest["split"]["stratified"] is True
        names = manifest["features"]["names"]
        assert len(names) == 64 and names[:2] == ["pixel_0_0", "pixel_0_1"]
        assert (manifest["features"]["range"], manifest["labels"]["num_classes"]) == ([0, 16], 10)

    def test_data_prepared_before_recipes_is_the_digits_and_up_to_date(self, data_copy: Path) -> None:
        from training.data import MANIFEST, load_prepared, run_pipeline

        manifest = json.loads((data_copy / MANIFEST).read_text())
        for key in ("recipe",):
            del manifest[key]
        del manifest["features"]["names"]
        (data_copy / MANIFEST).write_text(json.dumps(manifest))

        assert run_pipeline(data_copy).skipped  # an existing stack's /data is not redone
        assert load_prepared(data_copy).train.x.shape == (1437, 64)

    def test_another_recipes_data_is_refused_in_one_line_naming_the_fix(self, prepared_dir: Path) -> None:
        from training.data import load_prepared
        from training.errors import EXIT_DATA, DataError

        with pytest.raises(DataError) as raised:
            load_prepared(prepared_dir, "diabetes")
        assert str(raised.value) == (
            f"prepared data in {prepared_dir} is for recipe 'digits', not 'diabetes' (give --data-dir the diabetes "
            f"data, by default {default_data_location('diabetes')}, which `python -m training pipeline --recipe "
            "diabetes` prepares)"
        )
        assert raised.value.exit_code == EXIT_DATA

    def test_preparing_another_recipe_in_the_same_dir_replaces_it(self, data_copy: Path) -> None:
        from training.data import run_pipeline

        result = run_pipeline(data_copy, recipe="diabetes")
        assert not result.skipped and result.reason == "recipe digits -> diabetes"

    def test_missing_diabetes_data_names_the_command_that_prepares_it(self, tmp_path: Path) -> None:
        from training.data import DataError, load_prepared

        with pytest.raises(DataError, match=r"\(run `python -m training pipeline --recipe diabetes`\)"):
            load_prepared(tmp_path, "diabetes")


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


def test_a_signature_serving_cannot_type_is_refused_before_anything_is_logged(tmp_path: Path, untypable: str) -> None:
    require("numpy", "sklearn", "mlflow")
    import mlflow
    from training.data import run_pipeline
    from training.train import train

    run_pipeline(tmp_path / "data", recipe="untypable")
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"

    with pytest.raises(UsageError) as raised:
        train(TrainConfig(data_dir=tmp_path / "data", tracking_uri=tracking, recipe="untypable", progress=False))

    assert str(raised.value) == (
        "recipe untypable's signature (column 's' of type Array(double)) cannot be typed by serving's /predict: "
        "declare one 2-D tensor (-1, N) or named scalar columns (double, float, long, integer, boolean, string)"
    )
    assert raised.value.exit_code == EXIT_USAGE
    mlflow.set_tracking_uri(tracking)
    assert mlflow.MlflowClient(tracking).search_registered_models() == []
    assert mlflow.get_experiment_by_name("diabetes") is None  # not even an experiment: no run was started


@pytest.mark.parametrize(
    ("shape", "reason"),
    [((-1, 64), None), ((-1, 8, 8), "a tensor of shape (-1, 8, 8)"), ((64,), "a tensor of shape (64,)")],
)
def test_tensor_signatures_serving_can_type(shape: tuple[int, ...], reason: str | None) -> None:
    require("numpy", "mlflow")
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec
    from training.recipes import untypable_reason

    assert untypable_reason(ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float32), shape)]))) == reason
    assert untypable_reason(None) == "no input schema"


def test_the_recipes_own_signatures_are_servable(prepared_dir: Path, tmp_path: Path) -> None:
    require("numpy", "sklearn", "mlflow")
    from training.data import load_prepared, run_pipeline
    from training.recipes import untypable_reason

    run_pipeline(tmp_path, recipe="diabetes")
    for name, data_dir in (("digits", prepared_dir), ("diabetes", tmp_path)):
        recipe = recipe_named(name)
        assert untypable_reason(recipe.signature(load_prepared(data_dir, name))) is None


def test_copying_the_example_is_enough_to_add_a_recipe(tmp_path: Path) -> None:
    """A team's recipe is a module and one line in RECIPES: nothing else in the package names the two."""
    require("numpy", "sklearn")
    package = tmp_path / "training"
    shutil.copytree(SERVICES / "training", package, ignore=shutil.ignore_patterns("__pycache__"))
    source = (package / "recipes" / "diabetes.py").read_text()
    (package / "recipes" / "ours.py").write_text(
        source.replace("class DiabetesRecipe:", "class OurRecipe:")
        .replace('name = "diabetes"', 'name = "ours"')
        .replace("DiabetesRecipe()", "OurRecipe()")
    )
    registry = package / "recipes" / "__init__.py"
    registry.write_text(
        registry.read_text().replace(
            '"diabetes": "training.recipes.diabetes:DiabetesRecipe",',
            '"diabetes": "training.recipes.diabetes:DiabetesRecipe",\n    "ours": "training.recipes.ours:OurRecipe",',
        )
    )
    env = clean_env(PYTHONPATH=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "training", "pipeline", "--recipe", "ours", "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "data" / "manifest.json").read_text())["recipe"] == "ours"
