"""The micro-batcher's window (no wait; row limit from the latency target) against the fixed 1 ms window it
replaced, same process, same run.

Open-loop load (Poisson arrivals at a given rate, so a slow server meets more queued requests, as
production traffic does), one row per request, through serving's MicroBatcher into a model whose forward
pass costs `fixed + per_row * rows` and releases the GIL while it runs (a sleep: a torch forward pass
does the same), so the figures are about the batching policy, not this machine's noise. Each rate runs
both windows, interleaved; reported: throughput, p50 and p99 of the time from a request's scheduled
arrival to its answer. Target (issue 28): idle adds no wait; no loss of throughput or p99 under load.

    .venv/bin/python bench/bench_batch_window.py [--seconds 6] [--rounds 2]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

import numpy as np
from serving.model.batch_window import BatchWindow
from serving.model.batching import MicroBatcher

FIXED_S, PER_ROW_S = 0.004, 0.00005  # a pass: 4 ms, plus 0.05 ms per row
TARGET_MS = 50.0
RATES = (20, 150, 600, 2000)  # requests/s: idle, light, busy, beyond one-row-per-pass saturation (250/s)


class SleepingModel:
    def predict(self, rows: np.ndarray) -> np.ndarray:
        time.sleep(FIXED_S + PER_ROW_S * len(rows))
        return rows


def run(window: BatchWindow, rate: float, seconds: float, seed: int) -> dict[str, float]:
    batcher, model = MicroBatcher(window), SleepingModel()
    rng = random.Random(seed)
    latencies: list[float] = []
    lock = threading.Lock()

    def one(scheduled: float) -> None:
        batcher.predict(model, np.ones((1, 4)))
        done = time.perf_counter()
        with lock:
            latencies.append(done - scheduled)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=512) as pool:
        at = start
        while at < start + seconds:
            at += rng.expovariate(rate)
            delay = at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, at)
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "throughput": len(ordered) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    windows = {
        "fixed 1 ms (before)": lambda: BatchWindow(fixed_wait_s=0.001),
        f"queue + target {TARGET_MS:g} ms": lambda: BatchWindow(target_s=TARGET_MS / 1000),
    }
    print(
        f"model: {FIXED_S * 1000:g} ms + {PER_ROW_S * 1000:g} ms/row per pass; "
        f"{args.rounds} rounds x {args.seconds:g} s"
    )
    print(f"{'rate/s':>7}  {'window':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for rate in RATES:
        results: dict[str, list[dict[str, float]]] = {name: [] for name in windows}
        for round_ in range(args.rounds):
            for name, make in windows.items():  # interleaved: the machine's drift hits both alike
                results[name].append(run(make(), rate, args.seconds, seed=round_))
        for name, runs in results.items():
            median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            print(f"{rate:>7}  {name:<26} {median['throughput']:8.1f} {median['p50_ms']:8.2f} {median['p99_ms']:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
