"""training.recipes: the registry (a recipe is a module or a package and one line in RECIPES, imported only
when it runs), and the check that a recipe's signature is one serving can type (contract.signature)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from contract.signature import NO_INPUT_SCHEMA, input_schema, untypable_reason
from training.config import (
    DATA_DIR_ENV,
    DEFAULT_EXPERIMENT,
    DEFAULT_MODEL_NAME,
    SeedConfig,
    TrainConfig,
    default_data_location,
)
from training.errors import EXIT_USAGE, UsageError
from training.recipes import RECIPES, check_servable, recipe_named, recipe_names

from testing.training_helpers import SERVICES, Cli, clean_env, fresh_python, require


def test_the_registry_lists_both_recipes_and_imports_none_of_them() -> None:
    code = (
        "import sys\n"
        "from training.recipes import recipe_names\n"
        "print(recipe_names(), sorted(m for m in sys.modules if m.startswith('training.recipes.')),\n"
        "      sorted(m for m in ('numpy', 'torch', 'mlflow', 'sklearn', 'pandas') if m in sys.modules))\n"
    )
    assert fresh_python(code).strip() == "['digits', 'diabetes'] [] []"


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
    monkeypatch.setitem(RECIPES, "impostor", "training.recipes.diabetes:DiabetesRecipe")
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


def _signatures() -> list[tuple[object, str | None]]:
    """Real MLflow signatures, and how the contract's rule judges them."""
    require("numpy", "mlflow")
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema, TensorSpec
    from mlflow.types.schema import Array

    def tensor(*shape: int) -> ModelSignature:
        return ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float32), shape)]))

    return [
        (tensor(-1, 64), None),
        (tensor(-1, 8, 8), "a tensor of shape (-1, 8, 8)"),
        (tensor(64), "a tensor of shape (64,)"),
        (
            ModelSignature(inputs=Schema([ColSpec(Array(DataType.string), "tags")])),
            "column 'tags' of type Array(string)",
        ),
        (None, NO_INPUT_SCHEMA),  # serving still serves such a version; training never registers one
    ]


def test_check_servable_refuses_what_the_contracts_rule_refuses() -> None:
    for signature, reason in _signatures():
        assert untypable_reason(input_schema(signature)) == reason  # type: ignore[arg-type]
        if reason is None:
            check_servable("ours", signature)  # type: ignore[arg-type]
            continue
        with pytest.raises(UsageError) as refused:
            check_servable("ours", signature)  # type: ignore[arg-type]
        assert str(refused.value) == (
            f"recipe ours's signature ({reason}) cannot be typed by serving's /predict: declare one 2-D tensor "
            "(-1, N) or named scalar columns (double, float, long, integer, boolean, string)"
        )
        assert refused.value.exit_code == EXIT_USAGE


def test_the_recipes_own_signatures_are_servable(prepared_dir: Path, diabetes_dir: Path) -> None:
    require("numpy", "sklearn", "mlflow")
    from training.data import load_prepared

    for name, data_dir in (("digits", prepared_dir), ("diabetes", diabetes_dir)):
        recipe = recipe_named(name)
        assert untypable_reason(input_schema(recipe.signature(load_prepared(data_dir, name)))) is None


def test_copying_the_example_is_enough_to_add_a_recipe(tmp_path: Path) -> None:
    """A team's recipe is a module and one line in RECIPES: nothing else in the package names the two."""
    require("numpy", "sklearn")
    package = tmp_path / "training"
    shutil.copytree(SERVICES / "training", package, ignore=shutil.ignore_patterns("__pycache__"))
    # What the image holds beside the package (/app/contract).
    shutil.copytree(SERVICES / "contract", tmp_path / "contract", ignore=shutil.ignore_patterns("__pycache__"))
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
