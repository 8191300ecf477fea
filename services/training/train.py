"""Train the digits classifier, log it to MLflow, register a version and move the alias per --promote.

Checks that need no training (device, data, tracking server) run first, before the heavy imports,
so bad input fails in seconds. Once a run is started, any failure ends it FAILED.

Under a distributed launch (training.distributed) every rank trains its shard of each epoch and
DDP averages the gradients (training.fitting); rank 0 alone records the run, registers the model
and moves the alias (training.recording).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from training.config import TrainConfig
from training.data import load_prepared
from training.distributed import current_world, resolve_device, worker_device
from training.tracking import configure_client, probe

if TYPE_CHECKING:
    from training.recording import TrainResult


def train(config: TrainConfig) -> TrainResult | None:
    """Train and record; the result on rank 0 (and in a plain run), None on the other ranks."""
    world = current_world()
    device = worker_device(world, resolve_device(config.device))
    data = load_prepared(config.data_dir)
    if world.is_main:
        probe(config.tracking_uri)
        configure_client()
    # The checks above need torch and numpy only. The model's transformers and rank 0's mlflow take
    # several seconds more to import (about 6 s and 3 s on a busy 2-core machine), so they come after
    # them, here: an unreachable server or missing data fails in seconds, not after the imports.
    if not world.is_main:
        from training.fitting import fit_new_model

        fit_new_model(data, config, device, world)
        return None
    from training.recording import record_run

    return record_run(config, data, device, world)
