"""The run configuration and its defaults: one home for the CLI parser, training, seeding, data and model.

Standard library only (and the contract, which is too): `python -m training --help` builds its parser
from these, and must not import numpy, torch or mlflow to do it (tests/unit/training/test_config.py
checks both).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from contract.aliases import CHALLENGER, CHAMPION

Device = Literal["auto", "cpu", "cuda"]
Promote = Literal["auto", "always", "never", "challenger"]
DEVICES: tuple[Device, ...] = get_args(Device)
PROMOTE_CHOICES: tuple[Promote, ...] = get_args(Promote)

# The recipe (training/recipes: data, model, training step, signature) a command runs without --recipe.
RECIPE_ENV = "TRAINING_RECIPE"
DEFAULT_RECIPE = "digits"

# The digits recipe's names. Serving (services/serving/settings.py, $MODEL_NAME / $MODEL_ALIAS) and
# docker-compose.yml default to the same model and alias, so a fresh stack serves what `seed`
# registered; a unit test keeps them equal. Another recipe brings its own model name and experiment.
DEFAULT_EXPERIMENT = "demo"
DEFAULT_MODEL_NAME = "digits-classifier"
DEFAULT_ALIAS = CHAMPION
# `train --promote challenger` sets this alias instead; serving (MODEL_CHALLENGER_ALIAS) follows it too
# and compares its answers with the champion's until `devtools promote` makes it the champion.
DEFAULT_CHALLENGER_ALIAS = CHALLENGER
DEFAULT_DEVICE: Device = "auto"
DEFAULT_PROMOTE: Promote = "auto"

DATA_DIR_ENV = "TRAINING_DATA_DIR"
DEFAULT_DATA_DIR = "/data"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
DEFAULT_TRACKING_URI = "http://mlflow:5000"

# `seed` trains briefly: it makes a demo model, not a tuned one.
SEED_EPOCHS = 6


def default_recipe() -> str:
    return os.environ.get(RECIPE_ENV) or DEFAULT_RECIPE


def default_data_location(recipe: str = DEFAULT_RECIPE) -> str:
    """Where a recipe's prepared data lives unless --data-dir says: $TRAINING_DATA_DIR (or /data) for
    the default recipe, as before recipes existed (existing stacks' prepared data stays where it is),
    and a folder named after the recipe inside it for any other, so two recipes never share files."""
    root = os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    if recipe == DEFAULT_RECIPE:
        return root
    # String joining, not Path: the root may be an s3:// URI, whose '//' a Path would collapse.
    return f"{root.rstrip('/')}/{recipe}"


def default_tracking_uri() -> str:
    return os.environ.get(TRACKING_URI_ENV) or DEFAULT_TRACKING_URI


@dataclass(frozen=True)
class TrainConfig:
    """One `train` run; the defaults are the CLI's."""

    data_dir: Path
    tracking_uri: str
    recipe: str = DEFAULT_RECIPE
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-3
    seed: int = 42
    device: Device = DEFAULT_DEVICE
    experiment: str = DEFAULT_EXPERIMENT
    model_name: str = DEFAULT_MODEL_NAME
    alias: str = DEFAULT_ALIAS
    promote: Promote = DEFAULT_PROMOTE
    challenger_alias: str = DEFAULT_CHALLENGER_ALIAS  # the alias --promote challenger sets
    run_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    progress: bool = True

    def command(self) -> list[str]:
        """The `python -m training` arguments that train with this configuration, the data location
        included and the tracking server left out (the environment's): recorded on the run, replayed by
        `devtools repro`. Every option the CLI's `train` takes for a field is here, so nothing falls back
        to a default that may have changed."""
        argv = ["train", "--recipe", self.recipe, "--data-dir", str(self.data_dir)]
        argv += ["--epochs", str(self.epochs), "--batch-size", str(self.batch_size), "--lr", repr(self.lr)]
        argv += ["--seed", str(self.seed), "--device", self.device, "--experiment", self.experiment]
        argv += ["--model-name", self.model_name, "--alias", self.alias, "--promote", self.promote]
        argv += ["--challenger-alias", self.challenger_alias]
        return argv


@dataclass(frozen=True)
class SeedConfig:
    """One `seed`: a short run with --promote always, unless the stack is already seeded."""

    data_dir: Path
    tracking_uri: str
    recipe: str = DEFAULT_RECIPE
    experiment: str = DEFAULT_EXPERIMENT
    model_name: str = DEFAULT_MODEL_NAME
    alias: str = DEFAULT_ALIAS
    epochs: int = SEED_EPOCHS
    device: Device = DEFAULT_DEVICE
    force: bool = False
