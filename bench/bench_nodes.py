"""The cost of going over the network: 2 nodes x 1 process against 1 node x 2 processes, same machine.

Figure: the steady-state epoch time of a job of two ranks over two nodes (`train --nnodes 2
--rdzv-endpoint 127.0.0.1:PORT`, each node a launcher of its own with one Gloo worker: the path a
multi-node job takes, c10d rendezvous and TCP between the nodes); baseline: the same two ranks as one
node's two processes (`--nproc-per-node 2`). Same data, thread count, batch size and throwaway local
MLflow store; one run each, interleaved over --runs.

Usage: .venv/bin/python bench/bench_nodes.py [--runs 3] [--epochs 6]
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from timing import REPO, compare


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def epoch_seconds(workdir: Path, nodes: int, epochs: int) -> float:
    """Median wall time between consecutive `epoch i/N` lines (rank 0's), epoch 1 excluded."""
    common = [
        *(sys.executable, "-m", "training", "train", "--device", "cpu", "--epochs", str(epochs)),
        *("--data-dir", str(workdir / "data"), "--tracking-uri", f"sqlite:///{workdir}/mlflow-{nodes}.db"),
        *("--promote", "never", "--experiment", "bench-nodes"),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO / "services")}
    env.pop("OMP_NUM_THREADS", None)
    if nodes == 1:
        jobs = [[*common, "--nproc-per-node", "2"]]
    else:
        endpoint = f"127.0.0.1:{free_port()}"
        node = ["--nnodes", "2", "--rdzv-endpoint", endpoint, "--nproc-per-node", "1"]
        jobs = [[*common, *node, "--node-rank", str(rank)] for rank in range(2)]
    processes = [
        subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for argv in jobs
    ]
    stamps: list[float] = []  # when each `epoch` line arrived, from whichever node runs rank 0

    def read(process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        stamps.extend(time.perf_counter() for line in process.stderr if line.startswith("epoch "))

    readers = [threading.Thread(target=read, args=(process,)) for process in processes]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    if any(process.wait() != 0 for process in processes) or len(stamps) != epochs:
        raise SystemExit(f"training over {nodes} node(s) failed")
    return statistics.median(b - a for a, b in itertools.pairwise(sorted(stamps)[1:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-nodes-") as tmp:
        workdir = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(REPO / "services")}
        subprocess.run(
            [sys.executable, "-m", "training", "pipeline", "--data-dir", str(workdir / "data")],
            cwd=workdir, env=env, check=True, capture_output=True,
        )  # fmt: skip
        result = compare(
            "2 ranks over the network",
            ("2 nodes x 1 process", lambda: epoch_seconds(workdir, 2, args.epochs)),
            ("1 node x 2 processes", lambda: epoch_seconds(workdir, 1, args.epochs)),
            runs=args.runs,
            target_ratio=float("inf"),  # recorded, not targeted: the issue asks for the figure
        )
    print(result.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
