"""Rank 0's side of `train`, the same for every recipe: one MLflow run with the params, each epoch's
metrics, the data manifest and the model, a registered version with its accelerated artifact
(training.accelerate), the alias moved per --promote (training.promotion), and what made it
(training.provenance: the image, the lock, the source, the data, the hardware; the version carries the
image and the lock too).
The recipe (training/recipes) fits and logs the model; its signature is checked first, before the
run starts, so a version serving could not type is never registered. Once the run is started, any
failure ends it FAILED.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mlflow
import mlflow.pyfunc
from contract.accelerated import Tolerance, tag_text
from contract.nodes import NODES_ENV, run_started_line
from mlflow import MlflowClient
from mlflow.models.model import ModelInfo

from training import provenance
from training.accelerate import accelerate_version
from training.accelerate.gate import configured_tolerance
from training.config import TrainConfig
from training.data import Prepared
from training.errors import TrainingError
from training.promotion import promote
from training.recipes import Epoch, Recipe, check_servable
from training.tracking import mlflow_errors
from training.world import World


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    experiment_id: str
    model_name: str
    version: str
    alias: str
    alias_moved: bool
    reason: str
    device: str
    history: Sequence[Epoch]
    model: Any
    metric: str  # the recipe's validation metric, --promote auto's yardstick
    world_size: int = 1

    @property
    def metric_value(self) -> float:
        """The last epoch's validation metric."""
        return float(self.history[-1].logged()[self.metric])

    def summary(self) -> str:
        processes = f" processes={self.world_size}" if self.world_size > 1 else ""
        return (
            f"trained: run_id={self.run_id} model={self.model_name} version={self.version} "
            f"{self.metric}={self.metric_value:.4f} device={self.device}{processes} alias={self.alias} "
            f"alias_moved={'yes' if self.alias_moved else 'no'} ({self.reason})"
        )


def record_run(recipe: Recipe, config: TrainConfig, data: Prepared, device: Any, world: World) -> TrainResult:
    """Train (with the other ranks, if any) inside a new run of the experiment, and record it."""
    # A recipe bug, not a run: refused before the run starts, and before the other ranks train.
    signature = recipe.signature(data)
    check_servable(recipe.name, signature)
    tolerance = configured_tolerance(os.environ)  # the accelerated artifact's gate: a bad value fails now
    found = provenance.collect()
    provenance.check_data(data)  # `devtools repro`: other data than the reproduced run's, no run at all
    mlflow.set_tracking_uri(config.tracking_uri)
    with mlflow_errors(config.tracking_uri, f"open experiment {config.experiment!r}"):
        experiment = mlflow.set_experiment(config.experiment)
    with mlflow_errors(config.tracking_uri, "record the training run"):
        with mlflow.start_run(
            experiment_id=experiment.experiment_id, run_name=config.run_name, tags=dict(config.tags)
        ) as run:
            if int(os.environ.get(NODES_ENV, "1")) > 1:
                # A multi-node job's other nodes cannot end this run if this one dies: whoever runs
                # the job (devtools train --nodes) learns its id here (contract.nodes) and ends it FAILED then.
                print(run_started_line(run.info.run_id), file=sys.stderr, flush=True)
            job = _Job(recipe, config, data, device, world, signature, found, tolerance)
            return _train_in_run(job, run.info.run_id, experiment.experiment_id)


@dataclass(frozen=True)
class _Job:
    recipe: Recipe
    config: TrainConfig
    data: Prepared
    device: Any
    world: World
    signature: Any  # mlflow.models.ModelSignature, checked servable
    provenance: provenance.Provenance
    tolerance: Tolerance


def _train_in_run(job: _Job, run_id: str, experiment_id: str) -> TrainResult:
    recipe, config, data, device, world = job.recipe, job.config, job.data, job.device, job.world
    mlflow.set_tag("recipe", recipe.name)
    mlflow.log_params(
        {
            **recipe.params(config, device, world),
            "promote": config.promote,
            "data_sha256": data.manifest["source"]["sha256"],
            "pipeline_version": data.manifest["pipeline_version"],
            "train_rows": data.manifest["splits"]["train"]["rows"],
            "validation_rows": data.manifest["splits"]["validation"]["rows"],
        }
    )
    mlflow.log_dict(data.manifest, "data/manifest.json")
    provenance.record(job.provenance, data, config, recipe.name, world.size)

    model, history = recipe.fit(data, config, device, world, _log_epoch)
    if not history:
        raise TrainingError(f"recipe {recipe.name} validated no epoch: nothing to compare or register")
    score = history[-1].logged().get(recipe.metric)
    if score is None:
        raise TrainingError(f"recipe {recipe.name} logged no {recipe.metric} (its metric) in its last epoch")
    info = _log_and_register(recipe, model, job.signature, data, config)
    version = str(info.registered_model_version)
    client = MlflowClient(config.tracking_uri)
    # Before the alias can move: serving never loads this version without its verdict.
    pyfunc = mlflow.pyfunc.load_model(info.model_uri)  # the reference: what serving would load
    verdict = accelerate_version(
        model, pyfunc, info.model_id, data.validation.x, client, config.model_name, version, job.tolerance
    )
    if config.progress:
        print(f"accelerated: {tag_text(verdict)}", file=sys.stderr, flush=True)
    for key, value in job.provenance.version_tags().items():
        client.set_model_version_tag(config.model_name, version, key, value)
    moved, reason = promote(client, config, recipe.metric, version, float(score))
    # --promote challenger sets the challenger's alias, not --alias: the summary names the one it set.
    alias = config.challenger_alias if config.promote == "challenger" else config.alias
    mlflow.set_tags({"model_version": version, "alias": alias, "alias_moved": str(moved).lower()})
    return TrainResult(
        run_id=run_id,
        experiment_id=experiment_id,
        model_name=config.model_name,
        version=version,
        alias=alias,
        alias_moved=moved,
        reason=reason,
        # torch.device's kind (cpu, cuda) for the torch recipes; the device itself when a recipe names it.
        device=str(getattr(device, "type", device)),
        history=history,
        model=model,
        metric=recipe.metric,
        world_size=world.size,
    )


def _log_epoch(metrics: Epoch) -> None:
    mlflow.log_metrics(dict(metrics.logged()), step=metrics.epoch)


def _log_and_register(recipe: Recipe, model: Any, signature: Any, data: Prepared, config: TrainConfig) -> ModelInfo:
    info = recipe.log_model(
        model, signature=signature, input_example=recipe.input_example(data), model_name=config.model_name
    )
    if info.registered_model_version is None:
        raise TrainingError(f"MLflow did not register a version of {config.model_name!r}")
    return info
