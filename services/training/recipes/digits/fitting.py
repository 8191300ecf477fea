"""The digits recipe's training loop: a freshly seeded model fitted on the prepared data, by every rank of a
job together.

DDP averages the gradients across the ranks; rank 0 alone validates and reports each epoch (to
`on_epoch`, which logs it to MLflow, and as progress on stderr). Nothing here talks to MLflow.
"""

from __future__ import annotations

import math
import os
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler, TensorDataset

from training.config import TrainConfig
from training.errors import TrainingError
from training.recipes import Prepared
from training.recipes.digits import METRIC
from training.recipes.digits.model import DigitsClassifier, ModelSpec
from training.world import World, announce_node, process_group, same_on_every_rank, sum_across_ranks

SHARD_TRACE_ENV = "TRAINING_SHARD_TRACE"


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float

    def logged(self) -> dict[str, float]:
        """The metrics by the names they are logged under."""
        return {"train_loss": self.train_loss, "val_loss": self.val_loss, METRIC: self.val_accuracy}


def seed_everything(seed: int, device: torch.device) -> None:
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


def fit_new_model(
    data: Prepared,
    config: TrainConfig,
    device: torch.device,
    world: World,
    on_epoch: Callable[[EpochMetrics], object] | None = None,
) -> tuple[DigitsClassifier, list[EpochMetrics]]:
    """A freshly seeded model, trained: what every rank of a distributed job runs together.

    The history (and `on_epoch`) has rank 0's validated epochs; it is empty on the other ranks.
    """
    seed_everything(config.seed, device)
    model = DigitsClassifier(ModelSpec()).to(device)
    # Only training is collective; logging and registering are rank 0's alone.
    with process_group(world, device):
        announce_node(world)
        same_on_every_rank(data.digest, world)  # before any step: one dataset
        history = _fit(model, data, config, device, world, on_epoch)
    return model, history


def _trace_shard(world: World, epoch: int, order: torch.Tensor) -> None:
    """TRAINING_SHARD_TRACE=DIR: each rank writes the rows it visits per epoch (rank-R.jsonl), so a
    test can check that the ranks of every node split each epoch between them."""
    folder = os.environ.get(SHARD_TRACE_ENV)
    if not folder:
        return
    import json
    from pathlib import Path

    with (Path(folder) / f"rank-{world.rank}.jsonl").open("a") as trace:
        trace.write(json.dumps({"rank": world.rank, "epoch": epoch, "rows": order.tolist()}) + "\n")


class _EpochOrder:
    """The training rows this rank visits in an epoch, shuffled from the seed (not the device)."""

    def __init__(self, rows: int, seed: int, world: World) -> None:
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
        if self._sampler is None:
            return torch.randperm(self._rows, generator=self._generator)
        self._sampler.set_epoch(epoch)
        return torch.tensor(list(self._sampler))


def _fit(
    model: DigitsClassifier,
    data: Prepared,
    config: TrainConfig,
    device: torch.device,
    world: World,
    on_epoch: Callable[[EpochMetrics], object] | None,
) -> list[EpochMetrics]:
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
        _trace_shard(world, epoch, order)
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
        if on_epoch is not None:
            on_epoch(metrics)
        if config.progress:
            print(
                f"epoch {epoch}/{config.epochs} train_loss={train_loss:.4f} "
                f"val_loss={val_loss:.4f} {METRIC}={val_accuracy:.4f}",
                file=sys.stderr,
                flush=True,
            )
    return history
