"""Shared by the benchmarks: time commands, interleaving candidate and baseline so drift hits both."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    name: str
    candidate: str
    baseline: str
    candidate_s: list[float]
    baseline_s: list[float]
    target_ratio: float

    @property
    def ratio(self) -> float:
        return statistics.median(self.candidate_s) / statistics.median(self.baseline_s)

    @property
    def ok(self) -> bool:
        return self.ratio <= self.target_ratio

    def report(self) -> str:
        return (
            f"{self.name}: {self.candidate} median {statistics.median(self.candidate_s):.3f}s, "
            f"{self.baseline} median {statistics.median(self.baseline_s):.3f}s, "
            f"ratio {self.ratio:.2f}x (target <= {self.target_ratio}x) {'PASS' if self.ok else 'FAIL'} "
            f"[n={len(self.candidate_s)}]"
        )


def timed(argv: Sequence[str], env: Mapping[str, str] | None = None, before: Callable[[], None] | None = None) -> float:
    if before:
        before()
    start = time.perf_counter()
    subprocess.run(list(argv), env=dict(env) if env else None, check=True, capture_output=True)
    return time.perf_counter() - start


def compare(
    name: str,
    candidate: tuple[str, Callable[[], float]],
    baseline: tuple[str, Callable[[], float]],
    *,
    runs: int,
    target_ratio: float,
) -> Comparison:
    cand: list[float] = []
    base: list[float] = []
    for i in range(runs):
        # Alternate which goes first so caches and machine noise favour neither.
        order = [(cand, candidate[1]), (base, baseline[1])]
        for sink, fn in order if i % 2 == 0 else reversed(order):
            sink.append(fn())
    return Comparison(name, candidate[0], baseline[0], cand, base, target_ratio)
