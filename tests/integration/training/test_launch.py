"""training.launch: data-parallel jobs really launched. On one machine: two worker processes over Gloo,
as `--nproc-per-node 2` or a plain torchrun starts them. On several: two launchers on this machine stand
for two nodes (each `train --nnodes 2 --rdzv-endpoint 127.0.0.1:PORT`, its own worker, a c10d rendezvous
hosted by node 0). A real MLflow server; every failure is one line and its exit code.

The same code runs NCCL on GPUs (`devtools train --gpus N`): the GPU tier checks that part; the Docker
tier runs the nodes as containers (tests/docker/test_nodes.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from contract.nodes import parse_announce, parse_run_started

from testing.training_helpers import SERVICES, Cli, finish, require, runs_of, start_nodes, unique

require("torch", "transformers", "mlflow", "numpy", "sklearn")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from training.data import load_prepared  # noqa: E402
from training.errors import EXIT_DATA, EXIT_INTERRUPTED, EXIT_PEERS, EXIT_TRACKING, EXIT_TRAINING  # noqa: E402

EPOCHS = 2
PREFIX = "python -m training train: "


def _ddp(cli: Cli, experiment: str, model: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli.run(
        *("train", "--nproc-per-node", "2", "--device", "cpu", "--epochs", str(EPOCHS)),
        *("--experiment", experiment, "--model-name", model, *extra),
    )


def _without_progress(stderr: str) -> list[str]:
    """Stderr's lines but rank 0's `epoch N/M ...` progress, which may race a stop or a failure."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("epoch ")]


def test_two_processes_train_one_run_logged_by_rank_zero_whose_model_serves(
    cli: Cli, client: MlflowClient, prepared_dir: Path
) -> None:
    experiment, model = unique("ddp"), unique("ddp-model")

    done = _ddp(cli, experiment, model)

    assert done.returncode == 0, done.stderr
    out = done.stdout.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("trained: run_id=")  # one summary, from rank 0
    assert f"model={model} version=1 " in out[0] and " device=cpu processes=2 " in out[0]
    progress = [line for line in done.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in progress] == [f"{epoch}/{EPOCHS}" for epoch in range(1, EPOCHS + 1)]
    # One node: nobody to tell which ranks run here, or which run was started.
    assert not [line for line in done.stderr.splitlines() if parse_announce(line) or parse_run_started(line)]
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
    x = load_prepared(prepared_dir).validation.x
    assert mlflow.pyfunc.load_model(f"models:/{model}@champion").predict(x).shape == (len(x), 10)


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
    assert len(_without_progress(done.stderr)) == 1, done.stderr
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


# --- several nodes --------------------------------------------------------------------------------


def test_two_nodes_make_one_job_one_run_and_one_version(cli: Cli, client: MlflowClient, tmp_path: Path) -> None:
    experiment, model = unique("nodes"), unique("nodes-model")
    nodes = start_nodes(cli, 2, experiment, model, epochs=EPOCHS, TRAINING_SHARD_TRACE=str(tmp_path))
    done = finish(nodes)
    assert [code for code, _, _ in done] == [0, 0], done
    # Each node says which ranks it runs, in the contract's line; rank 0 alone records: one run, one version,
    # and says which run it started (for devtools to end it FAILED should its node die).
    said = [line for _, _, err in done for line in err.splitlines()]
    announced = sorted((a.first_rank, a.last_rank, a.world_size) for line in said if (a := parse_announce(line)))
    assert announced == [(0, 0, 2), (1, 1, 2)]
    summaries = [out for _, out, _ in done if out.strip()]
    assert len(summaries) == 1 and summaries[0].startswith("trained: run_id=")
    [run] = runs_of(client, experiment)
    assert run.info.status == "FINISHED"
    assert [parse_run_started(line) for line in said if parse_run_started(line)] == [run.info.run_id]
    assert [v.version for v in client.search_model_versions(f"name='{model}'")] == ["1"]
    # Every epoch, the two ranks split the training rows between them (DistributedSampler pads the
    # shorter shard with rows of the other, so the shards overlap by at most one row).
    rows = len(load_prepared(cli.data_dir).train.x)
    traces = [
        json.loads(line) for path in sorted(tmp_path.glob("rank-*.jsonl")) for line in path.read_text().splitlines()
    ]
    for epoch in range(1, EPOCHS + 1):
        shards = [set(trace["rows"]) for trace in traces if trace["epoch"] == epoch]
        assert len(shards) == 2 and shards[0] | shards[1] == set(range(rows))
        assert len(shards[0] & shards[1]) <= rows % 2


def test_a_node_whose_peers_never_come_is_one_line_and_exit_5(cli: Cli) -> None:
    [alone] = start_nodes(cli, 2, unique("alone"), unique("alone-model"), started=1, TRAINING_RDZV_TIMEOUT_S="2")
    code, _, err = finish([alone])[0]
    assert code == EXIT_PEERS
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and "nodes did not all meet at 127.0.0.1:" in lines[0] and "node 0 first" in lines[0]
