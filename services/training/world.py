"""A process's place in a training job, and what the ranks of a job do together while they train.

Under a distributed launch (training.launch, or a plain torchrun) every rank finds RANK, LOCAL_RANK and
WORLD_SIZE in its environment; a plain run is rank 0 of 1. The ranks train inside one process group
(NCCL on CUDA, Gloo on CPU, so the whole path is testable without a GPU): they agree on the data before
the first step, sum the epoch's loss, and leave together. Rank 0 alone talks to MLflow.

torch is imported inside the functions: the CLI imports this module, and `--help` must not import torch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from contract.nodes import NODES_ENV, NodeAnnounce

from training.errors import DataError, UsageError
from training.launch import WORKER_MARKER, note_failure

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class World:
    """This process's place in the job; a plain (non-distributed) run is rank 0 of 1."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def current_world() -> World:
    """The rank and world size torchrun (or our launcher) put in the environment."""
    try:
        return World(
            rank=int(os.environ.get("RANK", "0")),
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
            size=int(os.environ.get("WORLD_SIZE", "1")),
        )
    except ValueError as exc:
        raise UsageError(f"RANK, LOCAL_RANK and WORLD_SIZE must be integers: {exc}") from exc


def inside_launched_worker() -> bool:
    return WORKER_MARKER in os.environ or current_world().distributed


def announce_node(world: World) -> None:
    """On each node of a multi-node job, its first worker says once which ranks run there, so a node
    that dies can be named with its ranks (devtools train --nodes reads this line: contract.nodes)."""
    if world.local_rank != 0 or int(os.environ.get(NODES_ENV, "1")) <= 1:
        return
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    first = world.rank - world.local_rank
    import socket

    announce = NodeAnnounce(socket.gethostname(), first, first + local - 1, world.size)
    print(announce.line(), file=sys.stderr, flush=True)


@contextmanager
def process_group(world: World, device: torch.device) -> Iterator[None]:
    """The job's process group for the duration of training; nothing when running alone."""
    if not world.distributed:
        yield
        return
    import torch.distributed as dist

    if device.type == "cuda":
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    try:
        yield
        # Leave together: a rank that tears down its group while another still reads from it
        # aborts the job (Gloo: "terminate called without an active exception").
        dist.barrier()
    except BaseException as exc:
        # Note it before the group goes: tearing the group down makes the other ranks fail at once
        # ("Connection closed by peer"), and the launcher may stop this worker (SIGTERM) while the
        # failure still unwinds (ending the MLflow run): see training.launch.noted_failure.
        note_failure(exc)
        raise
    finally:
        dist.destroy_process_group()


def same_on_every_rank(digest: str, world: World) -> None:
    """Every rank trains on the same prepared data (by its manifest's digest), or the job stops
    before training with one line naming a rank, its node and both digests (exit 3)."""
    if not world.distributed:
        return
    import socket

    import torch.distributed as dist

    seen: list[tuple[str, str] | None] = [None] * world.size
    dist.all_gather_object(seen, (socket.gethostname(), digest))
    first_host, expected = seen[0] or ("?", "")
    for rank, (host, found) in enumerate(entry or ("?", "") for entry in seen):
        if found != expected:
            raise DataError(
                f"rank {rank} on {host} has other prepared data (manifest {found[:12]}) than rank 0 on {first_host} "
                f"({expected[:12]}): every node must read the same data (one shared --data-dir, or one s3:// URI)"
            )


def sum_across_ranks(values: torch.Tensor, world: World) -> torch.Tensor:
    """Element-wise sum over every rank (the tensor itself when running alone)."""
    if world.distributed:
        import torch.distributed as dist

        dist.all_reduce(values)
    return values
