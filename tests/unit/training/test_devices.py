"""training.devices: how many processes --nproc-per-node starts and on what, refused before any worker
starts when they cannot each have the GPU they need (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract.gpus import ALL_GPUS
from training import devices
from training.__main__ import main
from training.config import Device
from training.devices import parse_nproc, resolve_nproc
from training.errors import EXIT_USAGE, UsageError

from testing.training_helpers import require


@pytest.mark.parametrize(
    ("requested", "device", "gpus", "expected"),
    [
        (2, "cpu", 0, 2),
        (3, "auto", 0, 3),  # no GPU: auto means CPU, any number of processes
        ("all", "auto", 4, 4),
        ("gpu", "auto", 4, 4),  # torchrun's word for the same
        ("all", "cuda", 2, 2),
        (2, "cuda", 8, 2),
        (1, "cuda", 0, 1),  # one process needs no launcher; the worker itself reports missing CUDA
    ],
)
def test_resolve_nproc(
    monkeypatch: pytest.MonkeyPatch, requested: int | str, device: Device, gpus: int, expected: int
) -> None:
    monkeypatch.setattr(devices, "visible_gpus", lambda: gpus)
    assert resolve_nproc(requested, device) == expected


@pytest.mark.parametrize(
    ("requested", "device", "gpus", "message"),
    [
        ("all", "auto", 0, "--nproc-per-node all: no GPU is visible"),
        ("gpu", "auto", 0, "--nproc-per-node gpu: no GPU is visible"),  # in the user's own word
        (4, "cuda", 2, "2 GPU(s) visible"),
        (4, "auto", 2, "only 2 GPU(s) visible; use --nproc-per-node 2 (or all)"),  # CUDA and CPU ranks cannot mix
    ],
)
def test_resolve_nproc_refuses(
    monkeypatch: pytest.MonkeyPatch, requested: int | str, device: Device, gpus: int, message: str
) -> None:
    monkeypatch.setattr(devices, "visible_gpus", lambda: gpus)
    with pytest.raises(UsageError) as refused:
        resolve_nproc(requested, device)
    assert message in str(refused.value)


def test_parse_nproc() -> None:
    assert parse_nproc("3") == 3 and parse_nproc(ALL_GPUS) == "all" and parse_nproc("gpu") == "gpu"
    for bad in ("0", "-2", "All", ""):
        with pytest.raises(ValueError):
            parse_nproc(bad)


@pytest.mark.needs_no_gpu
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--nproc-per-node", "all"), "--nproc-per-node all: no GPU is visible to torch"),
        (("--nproc-per-node", "gpu"), "--nproc-per-node gpu: no GPU is visible to torch"),
        (("--nproc-per-node", "2", "--device", "cuda"), "--device cuda: CUDA is not available"),
    ],
)
def test_bad_process_counts_fail_before_starting_workers(
    prepared_dir: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = main(["train", *args, "--data-dir", str(prepared_dir), "--tracking-uri", "http://127.0.0.1:9"])
    assert code == EXIT_USAGE
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("python -m training train: error: ") and message in line


def test_a_cpu_rank_keeps_the_cpu_and_a_plain_run_its_device() -> None:
    require("torch")
    import torch
    from training.world import World

    cpu = torch.device("cpu")
    assert devices.worker_device(World(rank=1, local_rank=1, size=2), cpu) == cpu
    assert devices.resolve_device("cpu") == cpu
