"""Recipes: what a team implements to train its own model with this package instead of the digits demo.

A recipe is one class with the members of `Recipe` below: where the data comes from, how a model is
fitted, what its MLflow signature and input example are, how it is logged, and the validation metric
that decides whether a new version takes the alias. Everything around it is shared by every recipe:
the pipeline (splits, manifest, hashes, skip when up to date), the MLflow run (params, per-epoch
metrics, the manifest), the registered version, the alias moved per --promote, the seeding, the
one-line errors and their exit codes. Serving needs nothing per recipe: it serves whatever version the
alias holds, provided the signature is one its /predict can type (contract.signature: checked here
before anything is trained, by `check_servable`).

Register a recipe by adding its name to RECIPES, as "module:attribute" of the class. The module is
imported only when that recipe runs, and before MLflow is probed: keep numpy, torch, scikit-learn and
mlflow imports inside the methods, so that a bad command line or an unreachable server fails in
seconds. services/training/README.md ("Your own model") walks through it; recipes/diabetes.py is a
complete, small example (a scikit-learn regression with a column signature); recipes/digits/ is the
default, a package with its model and training loop.

Standard library only at import: the CLI imports this module to check --recipe.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from contract.signature import TYPABLE, input_schema, untypable_reason

from training.config import DEFAULT_RECIPE, Device, TrainConfig
from training.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    import numpy.typing as npt
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

    from training.world import World

# Name -> "module:attribute" of the recipe's class, instantiated without arguments.
RECIPES: dict[str, str] = {
    DEFAULT_RECIPE: "training.recipes.digits:DigitsRecipe",
    "diabetes": "training.recipes.diabetes:DiabetesRecipe",
}


@dataclass(frozen=True)
class Source:
    """A recipe's raw data, before the pipeline splits it into train and validation."""

    x: npt.NDArray[Any]  # (rows, features), one numeric dtype: what the model reads
    y: npt.NDArray[Any]  # (rows,): class labels (integers) or regression targets (floats)
    # The manifest's "source": at least "name" and "sha256" (digests.sha256_arrays(x, y)); a new sha256
    # makes the pipeline prepare the data again.
    description: dict[str, Any]
    feature_names: tuple[str, ...] = ()  # the columns, in order (a column signature names them)
    stratify: bool = False  # split keeping each class's share (classification)
    x_info: Mapping[str, Any] = field(default_factory=dict)  # more for the manifest's "features"
    y_info: Mapping[str, Any] = field(default_factory=dict)  # more for the manifest's "labels"


@dataclass(frozen=True)
class Split:
    x: npt.NDArray[Any]  # (rows, features), the source's dtype
    y: npt.NDArray[Any]  # (rows,): labels or targets


@dataclass(frozen=True)
class Prepared:
    """The prepared data as fit() gets it, checked against its manifest (training.data.load_prepared)."""

    train: Split
    validation: Split
    manifest: dict[str, Any]  # manifest.json: "features" has the "names" of the source's feature_names
    manifest_path: Path

    @property
    def digest(self) -> str:
        """What makes two copies of prepared data the same data: the pipeline version, the source and
        every split's content hash (not when or where it was written)."""
        manifest = self.manifest
        identity = {
            "pipeline_version": manifest.get("pipeline_version"),
            "source": (manifest.get("source") or {}).get("sha256"),
            "splits": {name: info.get("sha256") for name, info in sorted((manifest.get("splits") or {}).items())},
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


class Epoch(Protocol):
    """One validated epoch (or fit) of a training: logged to MLflow as metrics at step `epoch`."""

    @property
    def epoch(self) -> int: ...

    def logged(self) -> Mapping[str, float]:
        """The metrics by the names they are logged under; the recipe's `metric` among them."""
        ...


@runtime_checkable
class Recipe(Protocol):
    """The extension point. Every member is used; see recipes/digits/ and recipes/diabetes.py."""

    name: str  # --recipe NAME (its key in RECIPES)
    model_name: str  # the registered model's default name (--model-name)
    experiment: str  # the MLflow experiment's default name (--experiment)
    metric: str  # the validation metric --promote auto compares; greater is better
    # True: each rank of a torchrun / --nproc-per-node job calls fit() and they train together (DDP).
    # False: one process; a job with more is refused (exit 2).
    distributed: bool

    def source(self) -> Source:
        """The raw data (read from the image, a bucket, a database...): the pipeline splits it."""
        ...

    def device(self, requested: Device, world: World) -> Any:
        """What this rank trains on, for --device (auto, cpu, cuda); UsageError when it cannot.
        Called before the data is read, so a wrong device fails first (exit 2)."""
        ...

    def fit(
        self,
        data: Prepared,
        config: TrainConfig,
        device: Any,
        world: World,
        on_epoch: Callable[[Epoch], object] | None,
    ) -> tuple[Any, Sequence[Epoch]]:
        """A freshly seeded model (config.seed) trained on data.train and validated on
        data.validation: (model, epochs). Call on_epoch after each validated epoch (it logs the
        metrics); raise training.errors.TrainingError to fail with one line (exit 1)."""
        ...

    def params(self, config: TrainConfig, device: Any, world: World) -> dict[str, Any]:
        """The hyperparameters and versions the run logs (the data's hashes and rows are added)."""
        ...

    def signature(self, data: Prepared) -> ModelSignature:
        """The model's MLflow signature; checked before training that serving can type it: one 2-D
        tensor (-1, N), or named columns of double, float, long, integer, boolean or string."""
        ...

    def input_example(self, data: Prepared) -> Any:
        """A few validation rows in the signature's form: serving predicts on it before it swaps
        a new version in (a numpy array for a tensor signature, a DataFrame for columns)."""
        ...

    def log_model(self, model: Any, *, signature: ModelSignature, input_example: Any, model_name: str) -> ModelInfo:
        """Log the model under the artifact path "model" with an MLflow flavor that serving's image can
        load (mlflow.pytorch, mlflow.sklearn, ...), the signature, the input example and explicit
        pip_requirements, registered as `model_name`; MLflow's ModelInfo."""
        ...


def recipe_names() -> list[str]:
    return list(RECIPES)


def known_recipe(name: str) -> str:
    """Where recipe `name` is registered ("module:attribute"); UsageError (exit 2) naming the known ones."""
    target = RECIPES.get(name)
    if target is None:
        raise UsageError(f"unknown recipe {name!r}: known recipes are {', '.join(recipe_names())}")
    return target


@cache
def recipe_named(name: str) -> Recipe:
    """The registered recipe `name`; UsageError (exit 2) for an unknown name or a broken registration."""
    target = known_recipe(name)
    module_name, _, attribute = target.partition(":")
    try:
        recipe = getattr(importlib.import_module(module_name), attribute)()
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"recipe {name!r} is registered as {target!r}, which cannot be loaded: {exc}") from exc
    if not isinstance(recipe, Recipe) or recipe.name != name:
        raise UsageError(f"recipe {name!r} ({target}) does not implement training.recipes.Recipe with name {name!r}")
    return recipe


HOW_TO_TYPE = f"declare {TYPABLE}"


def check_servable(recipe: str, signature: ModelSignature | None) -> None:
    """UsageError (exit 2), before anything is trained or logged, when serving could not type the
    recipe's signature (contract.signature): a version that serving would refuse is never registered.
    A recipe without a signature is refused too (the rule's "no input schema"), although serving still
    serves such a version when one was registered some other way."""
    reason = untypable_reason(input_schema(signature))
    if reason is not None:
        raise UsageError(f"recipe {recipe}'s signature ({reason}) cannot be typed by serving's /predict: {HOW_TO_TYPE}")
