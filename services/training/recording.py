"""Rank 0's side of `train`: one MLflow run with the params, each epoch's metrics, the data manifest and
the model, a registered version, and the alias moved per --promote. Once the run is started, any
failure ends it FAILED.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import mlflow
import numpy as np
import torch
import transformers
from mlflow import MlflowClient
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from training.config import NUM_CLASSES, NUM_FEATURES, TrainConfig
from training.data import Prepared
from training.distributed import NODES_MARKER, World
from training.errors import TrainingError
from training.fitting import METRIC, EpochMetrics, fit_new_model
from training.model import DigitsClassifier, ModelSpec
from training.tracking import alias_holder, mlflow_errors, run_metric

MODEL_ARTIFACT = "model"


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
    history: list[EpochMetrics]
    model: DigitsClassifier
    world_size: int = 1

    @property
    def val_accuracy(self) -> float:
        return self.history[-1].val_accuracy

    def summary(self) -> str:
        processes = f" processes={self.world_size}" if self.world_size > 1 else ""
        return (
            f"trained: run_id={self.run_id} model={self.model_name} version={self.version} "
            f"val_accuracy={self.val_accuracy:.4f} device={self.device}{processes} alias={self.alias} "
            f"alias_moved={'yes' if self.alias_moved else 'no'} ({self.reason})"
        )


def record_run(config: TrainConfig, data: Prepared, device: torch.device, world: World) -> TrainResult:
    """Train (with the other ranks, if any) inside a new run of the experiment, and record it."""
    mlflow.set_tracking_uri(config.tracking_uri)
    with mlflow_errors(config.tracking_uri, f"open experiment {config.experiment!r}"):
        experiment = mlflow.set_experiment(config.experiment)
    with mlflow_errors(config.tracking_uri, "record the training run"):
        with mlflow.start_run(
            experiment_id=experiment.experiment_id, run_name=config.run_name, tags=dict(config.tags)
        ) as run:
            if int(os.environ.get(NODES_MARKER, "1")) > 1:
                # A multi-node job's other nodes cannot end this run if this one dies: whoever runs
                # the job (devtools train --nodes) learns its id here and ends it FAILED then.
                print(f"mlflow: run_id={run.info.run_id} started", file=sys.stderr, flush=True)
            return _train_in_run(config, data, device, world, run.info.run_id, experiment.experiment_id)


def _train_in_run(
    config: TrainConfig, data: Prepared, device: torch.device, world: World, run_id: str, experiment_id: str
) -> TrainResult:
    spec = ModelSpec()
    mlflow.log_params(
        {
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "seed": config.seed,
            "device": device.type,
            "world_size": world.size,
            "global_batch_size": config.batch_size * world.size,
            "optimizer": "AdamW",
            "promote": config.promote,
            "data_sha256": data.manifest["source"]["sha256"],
            "pipeline_version": data.manifest["pipeline_version"],
            "train_rows": data.manifest["splits"]["train"]["rows"],
            "validation_rows": data.manifest["splits"]["validation"]["rows"],
            "torch_version": torch.__version__,
            "transformers_version": transformers.__version__,
            **spec.params(),
        }
    )
    mlflow.log_dict(data.manifest, "data/manifest.json")

    model, history = fit_new_model(data, config, device, world, on_epoch=_log_epoch)
    model = model.to("cpu").eval()
    version = _log_and_register(model, data, config)
    moved, reason = _promote(config, version, history[-1].val_accuracy)
    mlflow.set_tags({"model_version": version, "alias_moved": str(moved).lower()})
    return TrainResult(
        run_id=run_id,
        experiment_id=experiment_id,
        model_name=config.model_name,
        version=version,
        alias=config.alias,
        alias_moved=moved,
        reason=reason,
        device=device.type,
        history=history,
        model=model,
        world_size=world.size,
    )


def _log_epoch(metrics: EpochMetrics) -> None:
    mlflow.log_metrics(metrics.logged(), step=metrics.epoch)


def _log_and_register(model: DigitsClassifier, data: Prepared, config: TrainConfig) -> str:
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, NUM_FEATURES))]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, NUM_CLASSES))]),
    )
    # pt2 (torch.export) needs no pickle and no transformers to serve; a batch > 1 keeps the batch dim dynamic.
    info = mlflow.pytorch.log_model(
        model,
        name=MODEL_ARTIFACT,
        signature=signature,
        input_example=data.validation.x[:4],
        serialization_format="pt2",
        # Explicit requirements skip MLflow's inference, which reloads the model in a subprocess.
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"numpy=={np.__version__}"],
        registered_model_name=config.model_name,
    )
    if info.registered_model_version is None:
        raise TrainingError(f"MLflow did not register a version of {config.model_name!r}")
    return str(info.registered_model_version)


def _promote(config: TrainConfig, version: str, accuracy: float) -> tuple[bool, str]:
    client = MlflowClient(config.tracking_uri)
    client.set_model_version_tag(config.model_name, version, METRIC, f"{accuracy:.6f}")
    holder = alias_holder(client, config.model_name, config.alias)
    if config.promote == "never":
        return False, "--promote never"
    if config.promote == "always":
        moved, reason = True, "--promote always"
    elif holder is None:
        moved, reason = True, f"no version held {config.alias!r}"
    else:
        best = run_metric(client, holder.run_id, METRIC)
        if best is None:
            moved, reason = True, f"v{holder.version} has no {METRIC} to compare"
        elif accuracy > best:
            moved, reason = True, f"beat v{holder.version} at {best:.4f}"
        else:
            moved, reason = False, f"v{holder.version} keeps it at {best:.4f}"
    if moved:
        client.set_registered_model_alias(config.model_name, config.alias, version)
    return moved, reason
