"""Train the recipe's model, log it to MLflow, register a version and move the alias per --promote.

Checks that need no training (recipe, device, data, tracking server) run first, before the heavy
imports, so bad input fails in seconds. Once a run is started, any failure ends it FAILED.

Under a distributed launch (training.launch) every rank trains its shard of each epoch and
DDP averages the gradients (the digits recipe: training.recipes.digits.fitting); rank 0 alone records the run,
registers the model and moves the alias (training.recording). A recipe that trains in one process
refuses such a launch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from training.config import TrainConfig
from training.data import load_prepared
from training.errors import UsageError
from training.recipes import recipe_named
from training.tracking import configure_client, probe
from training.world import current_world

if TYPE_CHECKING:
    from training.recording import TrainResult


def train(config: TrainConfig) -> TrainResult | None:
    """Train and record; the result on rank 0 (and in a plain run), None on the other ranks."""
    if config.promote == "challenger" and config.challenger_alias == config.alias:
        raise UsageError(challenger_is_the_alias(config.alias))
    recipe = recipe_named(config.recipe)
    world = current_world()
    if world.distributed and not recipe.distributed:
        raise UsageError(one_process(recipe.name))
    device = recipe.device(config.device, world)
    data = load_prepared(config.data_dir, recipe.name)
    if world.is_main:
        probe(config.tracking_uri)
        configure_client()
    # The checks above need torch and numpy only. The model's transformers and rank 0's mlflow take
    # several seconds more to import (about 6 s and 3 s on a busy 2-core machine), so they come after
    # them, here: an unreachable server or missing data fails in seconds, not after the imports.
    if not world.is_main:
        recipe.fit(data, config, device, world, None)
        return None
    from training.recording import record_run

    return record_run(recipe, config, data, device, world)


def one_process(recipe: str) -> str:
    """Why a recipe that trains in one process refuses a job of several."""
    return f"recipe {recipe} trains in one process: start it without --nproc-per-node, --nnodes or torchrun"


def challenger_is_the_alias(alias: str) -> str:
    """Why --promote challenger refuses a challenger alias that is the alias itself."""
    return (
        f"--promote challenger: --challenger-alias is {alias!r}, the same as --alias; the challenger needs an "
        "alias of its own (default: challenger)"
    )
