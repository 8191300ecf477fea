"""What a job trains on: the device --device asks for, how many processes --nproc-per-node starts, and
which GPU each rank of a CUDA job takes. Fewer GPUs than processes is an error (exit 2), never a silent
CPU rank.

torch is imported inside the functions: the CLI imports this module, and `--help` must not import torch.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

from contract.gpus import ALL_GPUS, TORCHRUN_ALL, means_all_gpus

from training.config import Device
from training.errors import UsageError
from training.world import World

if TYPE_CHECKING:
    import torch


def parse_nproc(text: str) -> int | str:
    """`--nproc-per-node`: a positive number of processes, or one per visible GPU: `all` (devtools'
    spelling, contract.gpus) or torchrun's `gpu`, kept as given so messages repeat the user's word."""
    if means_all_gpus(text):
        return text
    value = int(text)
    if value < 1:
        raise ValueError(f"must be at least 1, '{ALL_GPUS}' or '{TORCHRUN_ALL}', got {text}")
    return value


def resolve_device(requested: Device) -> torch.device:
    """The device --device asks for; fails (exit 2) when it is cuda and CUDA is not available."""
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


def resolve_nproc(requested: int | str, device: Device) -> int:
    """How many workers to start; fails (exit 2) when they cannot each have a GPU they need."""
    every_gpu = isinstance(requested, str) and means_all_gpus(requested)
    if not every_gpu and (device == "cpu" or int(requested) == 1):
        return int(requested)
    gpus = visible_gpus()
    if device == "cuda" and gpus == 0:
        resolve_device("cuda")  # raises, explaining why CUDA is unavailable
    if every_gpu:
        if gpus == 0:
            raise UsageError(f"--nproc-per-node {requested}: no GPU is visible to torch ({_torch_build()})")
        return gpus
    wanted = int(requested)
    if device == "cuda" and gpus < wanted:
        raise UsageError(
            f"--nproc-per-node {wanted} --device cuda: {gpus} GPU(s) visible to torch ({_torch_build()}); "
            f"use at most {gpus} process(es), or --device cpu"
        )
    if device == "auto" and 0 < gpus < wanted:
        # Some ranks on CUDA and some on CPU cannot share one process group.
        raise UsageError(
            f"--nproc-per-node {wanted}: only {gpus} GPU(s) visible; use --nproc-per-node {gpus} "
            f"(or {ALL_GPUS}), or --device cpu"
        )
    return wanted


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _torch_build() -> str:
    import torch

    return f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a CPU-only build")


def worker_device(world: World, device: torch.device) -> torch.device:
    """Rank r of a CUDA job uses GPU LOCAL_RANK; every CPU rank uses the CPU."""
    if device.type != "cuda" or not world.distributed:
        return device
    import torch

    if world.local_rank >= torch.cuda.device_count():
        raise UsageError(
            f"rank {world.rank} needs GPU {world.local_rank} but {torch.cuda.device_count()} are visible; "
            "start at most one process per GPU"
        )
    torch.cuda.set_device(world.local_rank)
    return torch.device("cuda", world.local_rank)
