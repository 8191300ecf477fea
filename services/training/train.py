"""Train the digits classifier, log it to MLflow, register a version and move the alias per --promote.

Checks that need no training (device, data, tracking server) run first, before the heavy imports,
so bad input fails in seconds. Once a run is started, any failure ends it FAILED.

Under a distributed launch (training.distributed) every rank trains its shard of each epoch and
DDP averages the gradients; rank 0 alone records the run, registers the model and moves the alias.
"""

from __future__ import annotations

import math
import os
import random
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from training.distributed import World, current_world, process_group, sum_across_ranks, worker_device
from training.errors import TrainingError, UsageError

if TYPE_CHECKING:
    import torch

    from training.data import Prepared
    from training.model import DigitsClassifier

Device = Literal["auto", "cpu", "cuda"]
Promote = Literal["auto", "always", "never"]
DEVICES: tuple[Device, ...] = ("auto", "cpu", "cuda")
PROMOTE_CHOICES: tuple[Promote, ...] = ("auto", "always", "never")
METRIC = "val_accuracy"
MODEL_ARTIFACT = "model"


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path
    tracking_uri: str
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-3
    seed: int = 42
    device: Device = "auto"
    experiment: str = "demo"
    model_name: str = "digits-classifier"
    alias: str = "champion"
    promote: Promote = "auto"
    run_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    progress: bool = True


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float


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


def resolve_device(requested: Device) -> torch.device:
    import torch

    if requested == "cpu":
        return torch.device("cpu")
    # cuBLAS is deterministic only with a fixed workspace, read when CUDA starts.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    with warnings.catch_warnings():
        # A broken driver makes is_available() warn and return False; the answer is what matters.
        warnings.simplefilter("ignore")
        available = torch.cuda.is_available()
    if available:
        return torch.device("cuda")
    if requested == "cuda":
        why = (
            f"this torch build ({torch.__version__}) has no CUDA support"
            if torch.version.cuda is None
            else f"no GPU is visible to torch {torch.__version__} (CUDA {torch.version.cuda})"
        )
        raise UsageError(f"--device cuda: CUDA is not available, {why}; use --device cpu or auto")
    return torch.device("cpu")


def seed_everything(seed: int, device: torch.device) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # The model is too small for intra-op threads to pay off: on 2 busy cores a step is
        # ~10x slower with 2 threads than with 1. OMP_NUM_THREADS overrides.
        torch.set_num_threads(1)
    torch.backends.cudnn.benchmark = False
    # On CPU every op used here has a deterministic kernel; on CUDA some may not, so only warn there.
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")


def train(config: TrainConfig) -> TrainResult | None:
    """Train and record; the result on rank 0 (and in a plain run), None on the other ranks."""
    from training.data import load_prepared
    from training.tracking import configure_client, mlflow_errors, probe

    world = current_world()
    device = worker_device(world, resolve_device(config.device))
    data = load_prepared(config.data_dir)
    if not world.is_main:
        _fit_new_model(data, config, device, world)
        return None
    probe(config.tracking_uri)
    configure_client()

    import mlflow

    mlflow.set_tracking_uri(config.tracking_uri)
    with mlflow_errors(config.tracking_uri, f"open experiment {config.experiment!r}"):
        experiment = mlflow.set_experiment(config.experiment)
    with mlflow_errors(config.tracking_uri, "record the training run"):
        with mlflow.start_run(
            experiment_id=experiment.experiment_id, run_name=config.run_name, tags=dict(config.tags)
        ) as run:
            return _train_in_run(config, data, device, world, run.info.run_id, experiment.experiment_id)


def _fit_new_model(
    data: Prepared, config: TrainConfig, device: torch.device, world: World
) -> tuple[DigitsClassifier, list[EpochMetrics]]:
    """A freshly seeded model, trained: what every rank of a distributed job runs together."""
    from training.model import DigitsClassifier, ModelSpec

    seed_everything(config.seed, device)
    model = DigitsClassifier(ModelSpec()).to(device)
    # Only training is collective; logging and registering are rank 0's alone.
    with process_group(world, device):
        history = _fit(model, data, config, device, world)
    return model, history


def _train_in_run(
    config: TrainConfig, data: Prepared, device: torch.device, world: World, run_id: str, experiment_id: str
) -> TrainResult:
    import mlflow
    import torch
    import transformers

    from training.model import ModelSpec

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

    model, history = _fit_new_model(data, config, device, world)
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


class _EpochOrder:
    """The training rows this rank visits in an epoch, shuffled from the seed (not the device)."""

    def __init__(self, rows: int, seed: int, world: World) -> None:
        import torch
        from torch.utils.data import DistributedSampler, TensorDataset

        self._rows = rows
        # A plain run keeps one generator across epochs; a distributed one needs every rank to agree
        # on each epoch's permutation, which DistributedSampler derives from seed + epoch.
        self._generator = torch.Generator().manual_seed(seed)
        # The sampler only needs the dataset's length; the rows stay in tensors on the device.
        self._sampler: DistributedSampler[tuple[torch.Tensor, ...]] | None = (
            DistributedSampler(TensorDataset(torch.arange(rows)), world.size, world.rank, shuffle=True, seed=seed)
            if world.distributed
            else None
        )

    def __len__(self) -> int:
        # DistributedSampler pads the last shard, so every rank runs the same number of steps.
        return len(self._sampler) if self._sampler is not None else self._rows

    def indices(self, epoch: int) -> torch.Tensor:
        import torch

        if self._sampler is None:
            return torch.randperm(self._rows, generator=self._generator)
        self._sampler.set_epoch(epoch)
        return torch.tensor(list(self._sampler))


def _fit(
    model: DigitsClassifier, data: Prepared, config: TrainConfig, device: torch.device, world: World
) -> list[EpochMetrics]:
    import mlflow
    import torch
    from torch.nn import functional
    from torch.nn.parallel import DistributedDataParallel

    x_train = torch.from_numpy(data.train.x).to(device)
    y_train = torch.from_numpy(data.train.y).to(device)
    x_val = torch.from_numpy(data.validation.x).to(device)
    y_val = torch.from_numpy(data.validation.y).to(device)
    epoch_order = _EpochOrder(len(x_train), config.seed, world)
    steps_per_epoch = math.ceil(len(epoch_order) / config.batch_size)
    # DDP averages gradients across ranks in backward(); `model` stays the plain module it wraps.
    stepped: torch.nn.Module = (
        DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if world.distributed
        else model
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch
    )
    history: list[EpochMetrics] = []
    for epoch in range(1, config.epochs + 1):
        stepped.train()
        order = epoch_order.indices(epoch).to(device)
        total = torch.zeros((), device=device)
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            loss = functional.cross_entropy(stepped(x_train[batch]), y_train[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
            total += loss.detach() * len(batch)
        loss_sum, rows = sum_across_ranks(torch.stack([total, torch.tensor(float(len(order)), device=device)]), world)
        train_loss = loss_sum.item() / rows.item()
        if not math.isfinite(train_loss):
            # The loss is averaged over the ranks, so every rank stops here with the same error.
            raise TrainingError(f"training diverged: train loss is {train_loss} at epoch {epoch} (try a lower --lr)")
        if not world.is_main:
            continue  # the weights are identical on every rank: rank 0 alone validates and logs
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            val_loss = functional.cross_entropy(logits, y_val).item()
            val_accuracy = (logits.argmax(dim=1) == y_val).float().mean().item()
        metrics = EpochMetrics(epoch, train_loss, val_loss, val_accuracy)
        history.append(metrics)
        mlflow.log_metrics({"train_loss": train_loss, "val_loss": val_loss, METRIC: val_accuracy}, step=epoch)
        if config.progress:
            print(
                f"epoch {epoch}/{config.epochs} train_loss={train_loss:.4f} "
                f"val_loss={val_loss:.4f} {METRIC}={val_accuracy:.4f}",
                file=sys.stderr,
                flush=True,
            )
    return history


def _log_and_register(model: DigitsClassifier, data: Prepared, config: TrainConfig) -> str:
    import mlflow
    import numpy as np
    import torch
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    from training.model import NUM_CLASSES, NUM_FEATURES

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
    from mlflow import MlflowClient

    from training.tracking import alias_holder, run_metric

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
