"""Data-parallel training (DDP) on CPU: two real worker processes over Gloo, a real MLflow server.

The same code runs NCCL on GPUs (`devtools train --gpus N`); the GPU tier checks that part.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testing.training_helpers import SERVICES, Cli, require, runs_of, unique

require("torch", "transformers", "mlflow", "numpy", "sklearn")

import mlflow  # noqa: E402
import torch  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from training import distributed  # noqa: E402
from training.__main__ import leave  # noqa: E402
from training.config import Device  # noqa: E402
from training.distributed import World, parse_nproc, resolve_nproc  # noqa: E402
from training.errors import EXIT_DATA, EXIT_INTERRUPTED, EXIT_TRACKING, EXIT_TRAINING, UsageError  # noqa: E402
from training.fitting import _EpochOrder  # noqa: E402

EPOCHS = 2
PREFIX = "python -m training train: "


@pytest.fixture(scope="module")
def client(mlflow_server: str) -> MlflowClient:
    mlflow.set_tracking_uri(mlflow_server)
    return MlflowClient(mlflow_server)


def _ddp(cli: Cli, experiment: str, model: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli.run(
        *("train", "--nproc-per-node", "2", "--device", "cpu", "--epochs", str(EPOCHS)),
        *("--experiment", experiment, "--model-name", model, *extra),
    )


def _without_progress(stderr: str) -> list[str]:
    """Stderr's lines but rank 0's `epoch N/M ...` progress, which may race a stop or a failure."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("epoch ")]


def test_two_processes_train_one_run_logged_by_rank_zero(cli: Cli, client: MlflowClient) -> None:
    experiment, model = unique("ddp"), unique("ddp-model")

    done = _ddp(cli, experiment, model)

    assert done.returncode == 0, done.stderr
    out = done.stdout.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("trained: run_id=")  # one summary, from rank 0
    assert f"model={model} version=1 " in out[0] and " device=cpu processes=2 " in out[0]
    progress = [line for line in done.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in progress] == [f"{epoch}/{EPOCHS}" for epoch in range(1, EPOCHS + 1)]
    [run] = runs_of(client, experiment)
    assert run.info.status == "FINISHED"
    assert run.data.params["world_size"] == "2"
    assert run.data.params["global_batch_size"] == "64"
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert [m.step for m in client.get_metric_history(run.info.run_id, key)] == [1, 2]  # logged once per epoch
    # Two epochs are enough to learn something; random guessing over 10 digits is 0.1.
    assert run.data.metrics["val_accuracy"] > 0.3
    versions = client.search_model_versions(f"name = '{model}'")
    assert [v.version for v in versions] == ["1"] and versions[0].run_id == run.info.run_id
    assert client.get_model_version_by_alias(model, "champion").version == "1"


def test_model_trained_by_ddp_serves(cli: Cli, client: MlflowClient, prepared_dir: Path) -> None:
    from training.data import load_prepared

    model = unique("ddp-serve")
    assert _ddp(cli, unique("ddp-serve"), model).returncode == 0
    x = load_prepared(prepared_dir).validation.x
    predicted = mlflow.pyfunc.load_model(f"models:/{model}@champion").predict(x)
    assert predicted.shape == (len(x), 10)


def test_a_worker_error_is_one_line_with_its_exit_code(cli: Cli, tmp_path: Path) -> None:
    done = _ddp(cli, unique("ddp"), unique("ddp-model"), "--data-dir", str(tmp_path / "missing"))

    assert done.returncode == EXIT_DATA
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(PREFIX + "error: rank ") and "prepared data not found" in line


def test_unreachable_mlflow_fails_fast_with_its_exit_code(cli: Cli) -> None:
    done = _ddp(cli, unique("ddp"), unique("ddp-model"), "--tracking-uri", "http://127.0.0.1:9")

    assert done.returncode == EXIT_TRACKING
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(PREFIX + "error: rank 0: MLflow tracking server unreachable")


def test_divergence_is_reported_once_not_with_its_echoes(cli: Cli, client: MlflowClient) -> None:
    experiment = unique("ddp-nan")

    done = _ddp(cli, experiment, unique("ddp-model"), "--lr", "1e9")

    assert done.returncode == EXIT_TRAINING
    [line] = _without_progress(done.stderr)
    assert re.match(PREFIX + r"error: rank \d: training diverged", line), line  # every rank sees it
    assert [run.info.status for run in runs_of(client, experiment)] == ["FAILED"]


def test_sigterm_stops_every_worker_and_ends_the_run_failed(cli: Cli, client: MlflowClient) -> None:
    experiment = unique("ddp-term")

    code, err = cli.interrupt_training(
        ["--nproc-per-node", "2", "--device", "cpu", "--experiment", experiment, "--model-name", unique("ddp-term")],
        lambda launcher: launcher.send_signal(signal.SIGTERM),
    )

    assert code == EXIT_INTERRUPTED
    assert _without_progress(err) == [PREFIX + "interrupted"]
    assert [run.info.status for run in runs_of(client, experiment)] == ["FAILED"]
    # No worker outlives the launcher.
    deadline = time.monotonic() + 10
    while _worker_pids(experiment) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _worker_pids(experiment) == []


def test_ctrl_c_in_a_terminal_stops_the_job_once(cli: Cli, client: MlflowClient) -> None:
    experiment = unique("ddp-int")

    # A terminal sends SIGINT to the whole foreground group: the launcher and every worker at once.
    code, err = cli.interrupt_training(
        ["--nproc-per-node", "2", "--device", "cpu", "--experiment", experiment, "--model-name", unique("ddp-int")],
        lambda launcher: os.killpg(launcher.pid, signal.SIGINT),
    )

    assert code == EXIT_INTERRUPTED
    assert _without_progress(err) == [PREFIX + "interrupted"]
    assert [run.info.status for run in runs_of(client, experiment)] == ["FAILED"]
    assert _worker_pids(experiment) == []


def test_a_worker_killed_by_a_signal_is_named_with_128_plus_n(cli: Cli) -> None:
    experiment = unique("ddp-kill")

    def kill_rank_one(launcher: subprocess.Popen[str]) -> None:
        [rank_one] = [pid for pid in _worker_pids(experiment) if "RANK=1" in _environ(pid)]
        os.kill(rank_one, signal.SIGKILL)  # what the OOM killer does

    code, err = cli.interrupt_training(
        ["--nproc-per-node", "2", "--device", "cpu", "--experiment", experiment, "--model-name", unique("ddp-kill")],
        kill_rank_one,
    )

    assert code == 128 + signal.SIGKILL
    assert _without_progress(err) == [PREFIX + "error: rank 1 was killed by signal 9 (SIGKILL)"]


def _worker_pids(experiment: str) -> list[int]:
    """Processes whose command line names the experiment (the launcher and its workers)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and proc.name != str(os.getpid()):
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue  # exited meanwhile
            if experiment.encode() in argv:
                pids.append(int(proc.name))
    return pids


def _environ(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def test_plain_torchrun_runs_the_same_command(cli: Cli, client: MlflowClient) -> None:
    experiment = unique("torchrun")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"),
            *("-m", "training", "train", "--device", "cpu", "--epochs", "1"),
            *("--experiment", experiment, "--model-name", unique("torchrun")),
        ],
        cwd=SERVICES,
        env=cli.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    [run] = runs_of(client, experiment)
    assert run.info.status == "FINISHED" and run.data.params["world_size"] == "2"


@pytest.mark.needs_no_gpu
@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--nproc-per-node", "0"), 2, "--nproc-per-node: must be a positive number or 'gpu', got 0"),
        (("--nproc-per-node", "two"), 2, "--nproc-per-node: must be a positive number or 'gpu', got two"),
        (("--nproc-per-node", "gpu"), 2, "--nproc-per-node gpu: no GPU is visible to torch"),
        (("--nproc-per-node", "2", "--device", "cuda"), 2, "--device cuda: CUDA is not available"),
    ],
)
def test_bad_process_counts_fail_before_starting_workers(
    cli: Cli, args: tuple[str, ...], code: int, message: str
) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = cli.run("train", *args)
    assert done.returncode == code
    [line] = done.stderr.strip().splitlines()
    assert message in line


def test_a_malformed_rank_in_the_environment_is_a_usage_error(cli: Cli) -> None:
    done = cli.run("train", "--epochs", "1", RANK="first", WORLD_SIZE="2")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("python -m training: error: RANK, LOCAL_RANK and WORLD_SIZE must be integers")


# --- pure parts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "device", "gpus", "expected"),
    [
        (2, "cpu", 0, 2),
        (3, "auto", 0, 3),  # no GPU: auto means CPU, any number of processes
        ("gpu", "auto", 4, 4),
        ("gpu", "cuda", 2, 2),
        (2, "cuda", 8, 2),
        (1, "cuda", 0, 1),  # one process needs no launcher; the worker itself reports missing CUDA
    ],
)
def test_resolve_nproc(
    monkeypatch: pytest.MonkeyPatch, requested: int | str, device: Device, gpus: int, expected: int
) -> None:
    monkeypatch.setattr(distributed, "visible_gpus", lambda: gpus)
    assert resolve_nproc(requested, device) == expected


@pytest.mark.parametrize(
    ("requested", "device", "gpus", "message"),
    [
        ("gpu", "auto", 0, "no GPU is visible"),
        (4, "cuda", 2, "2 GPU(s) visible"),
        (4, "auto", 2, "only 2 GPU(s) visible"),  # ranks split over CUDA and CPU cannot share a group
    ],
)
def test_resolve_nproc_refuses(
    monkeypatch: pytest.MonkeyPatch, requested: int | str, device: Device, gpus: int, message: str
) -> None:
    monkeypatch.setattr(distributed, "visible_gpus", lambda: gpus)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_nproc(requested, device)


def test_parse_nproc() -> None:
    assert parse_nproc("3") == 3 and parse_nproc("gpu") == "gpu"
    for bad in ("0", "-2", "all", ""):
        with pytest.raises(ValueError):
            parse_nproc(bad)


@pytest.mark.parametrize("ranks", [2, 3])
def test_epoch_shards_cover_every_row_and_agree_on_the_permutation(ranks: int) -> None:
    rows = 1437  # the training split: not a multiple of 2 or 3, so the sampler pads
    orders = [_EpochOrder(rows, seed=5, world=World(rank=r, local_rank=r, size=ranks)) for r in range(ranks)]

    for epoch in (1, 2):
        shards = [order.indices(epoch).tolist() for order in orders]
        assert {len(shard) for shard in shards} == {len(orders[0])}  # same number of steps on every rank
        assert set().union(*shards) == set(range(rows))
        assert sum(len(shard) for shard in shards) - rows < ranks  # padding only fills the last step
    assert orders[0].indices(1).tolist() != orders[0].indices(2).tolist()  # reshuffled each epoch


class _Exited(Exception):
    pass


@pytest.mark.parametrize(
    ("worker", "code", "immediate"),
    [
        (True, EXIT_INTERRUPTED, True),  # stopped by the launcher: skip the teardown Gloo may abort in
        (True, EXIT_DATA, True),
        (True, 0, False),  # a worker that finished leaves normally (atexit hooks, MLflow's included)
        (False, EXIT_INTERRUPTED, False),  # a plain run is no worker
    ],
)
def test_leave_exits_a_failed_worker_at_once(
    monkeypatch: pytest.MonkeyPatch, worker: bool, code: int, immediate: bool
) -> None:
    def fake_exit(status: int) -> None:
        raise _Exited(status)

    if worker:
        monkeypatch.setenv(distributed.WORKER_MARKER, "run-1")
    else:
        monkeypatch.delenv(distributed.WORKER_MARKER, raising=False)
    monkeypatch.setattr(os, "_exit", fake_exit)

    with pytest.raises(_Exited if immediate else SystemExit) as exited:
        leave(code)

    assert exited.value.args[0] == code if immediate else exited.value.code == code
