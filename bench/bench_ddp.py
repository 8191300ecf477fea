"""Data-parallel training (`train --nproc-per-node 2`, Gloo on CPU) against one process, same machine.

Figure: the steady-state time of one epoch (a full pass over the training split) with 2 DDP workers;
baseline: the same epoch in one process, measured in the same run, interleaved. Both use 1 thread
per process, the per-process batch size and a throwaway local MLflow store, so the ratio isolates
what DDP buys on this machine's cores (here: 2) net of its gradient all-reduce.

Usage: .venv/bin/python bench/bench_ddp.py [--runs 3] [--epochs 6]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import REPO, compare

TARGET_RATIO = 0.8  # two workers on two cores must cut an epoch by at least a fifth


def epoch_seconds(workdir: Path, processes: int, epochs: int) -> float:
    """Median wall time between consecutive `epoch i/N` lines of one training job (epoch 1 excluded:
    it includes start-up and the first all-reduce's connection setup)."""
    argv = [
        *(sys.executable, "-m", "training", "train", "--device", "cpu", "--epochs", str(epochs)),
        *("--data-dir", str(workdir / "data"), "--tracking-uri", f"sqlite:///{workdir}/mlflow.db"),
        *("--promote", "never", "--experiment", "bench-ddp"),
    ]
    if processes > 1:
        argv += ["--nproc-per-node", str(processes)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "services")}
    env.pop("OMP_NUM_THREADS", None)  # the training code's default: 1 thread per process
    process = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    stamps = [time.perf_counter() for line in process.stderr if line.startswith("epoch ")]
    if process.wait() != 0 or len(stamps) != epochs:
        raise SystemExit(f"training with {processes} process(es) failed (exit {process.returncode})")
    return statistics.median(b - a for a, b in itertools.pairwise(stamps[1:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ddp-") as tmp:
        workdir = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "training", "pipeline", "--data-dir", str(workdir / "data")],
            env={**os.environ, "PYTHONPATH": str(REPO / "services")},
            check=True,
            capture_output=True,
        )
        result = compare(
            "DDP epoch time",
            ("2 DDP workers (Gloo)", lambda: epoch_seconds(workdir, 2, args.epochs)),
            ("1 process", lambda: epoch_seconds(workdir, 1, args.epochs)),
            runs=args.runs,
            target_ratio=TARGET_RATIO,
        )
    print(f"cores: {os.cpu_count()}")
    print(result.report())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
