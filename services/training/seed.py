"""Idempotent seeding for a fresh MLflow: a recipe's prepared data, one finished run, a version holding
the alias (the digits demo by default; `seed --recipe NAME` seeds another recipe's experiment and model)."""

from __future__ import annotations

import sys

from training.config import SeedConfig, TrainConfig
from training.data import run_pipeline
from training.errors import UsageError
from training.recipes import recipe_named
from training.tracking import alias_holder, configure_client, mlflow_errors, probe
from training.train import train
from training.world import current_world


def seeded_state(config: SeedConfig) -> str | None:
    """What shows the stack is seeded (a finished run and the alias), or None when something is missing."""
    # mlflow takes seconds to import: only once seed() has probed the server, so that an unreachable
    # one fails in seconds.
    from mlflow import MlflowClient

    client = MlflowClient(config.tracking_uri)
    experiment = client.get_experiment_by_name(config.experiment)
    if experiment is None or experiment.lifecycle_stage != "active":
        return None
    runs = client.search_runs([experiment.experiment_id], filter_string="attributes.status = 'FINISHED'", max_results=1)
    if not runs:
        return None
    holder = alias_holder(client, config.model_name, config.alias)
    if holder is None:
        return None
    return (
        f"experiment {config.experiment!r} has finished run {runs[0].info.run_id}; "
        f"{config.model_name}@{config.alias} is version {holder.version}"
    )


def seed(config: SeedConfig) -> str:
    """Seed unless already seeded (or forced); returns the one-line outcome."""
    recipe_named(config.recipe)  # an unknown recipe fails before anything else (exit 2)
    if current_world().distributed:
        # Every rank would check, prepare and register: seeding is one short job in one process.
        raise UsageError("seed runs in one process; start it without torchrun")
    probe(config.tracking_uri)
    configure_client()
    if not config.force:
        with mlflow_errors(config.tracking_uri, "check the demo state"):
            state = seeded_state(config)
        if state is not None:
            return f"already seeded: {state} (use --force to seed again)"

    prepared = run_pipeline(config.data_dir, recipe=config.recipe)
    print(prepared.summary(), file=sys.stderr, flush=True)
    result = train(
        TrainConfig(
            data_dir=config.data_dir,
            tracking_uri=config.tracking_uri,
            recipe=config.recipe,
            epochs=config.epochs,
            device=config.device,
            experiment=config.experiment,
            model_name=config.model_name,
            alias=config.alias,
            promote="always",
            run_name="seed",
            tags={"seeded_by": "python -m training seed"},
        )
    )
    assert result is not None  # only ranks other than 0 get none, and those were refused above
    return f"seeded: {result.summary().removeprefix('trained: ')}"
