"""Shared by the benchmarks: time commands, interleaving candidate and baseline so drift hits both."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


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


# The isolated stack every benchmark that needs one runs: its own project name and ports, so a
# developer's running stack is untouched.
REPO = Path(__file__).resolve().parents[1]
PROJECT = "mlstack-bench"
MLFLOW_PORT, SERVING_PORT = 25000, 28080


def stack_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "MLFLOW_PORT": str(MLFLOW_PORT),
        "SERVING_PORT": str(SERVING_PORT),
        **extra,
    }


def devtools_bin() -> str:
    return shutil.which("devtools") or f"{sys.prefix}/bin/devtools"


def devtools(*args: str, env: Mapping[str, str] | None = None) -> float:
    """Run `devtools ARGS` against the bench stack; returns its wall time."""
    return timed([devtools_bin(), *args], env or stack_env())


def compose_argv() -> list[str]:
    """Plain `docker compose` over the same files and project as `devtools` (the dev stack)."""
    files = ["-f", str(REPO / "docker-compose.yml"), "-f", str(REPO / "docker-compose.dev.yml")]
    return ["docker", "compose", "-p", PROJECT, *files]


# --- edit-to-live: the serving app's /health answers a marker written into its source ---------------

HEALTH_RETURN = re.compile(r'        return \{"status": "ok".*\}')


def health_probe(url: str) -> str | None:
    """The `probe` field of serving's /health at `url`, None while it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return json.loads(response.read()).get("probe")  # type: ignore[no-any-return]
    except Exception:
        return None


def wait_until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not reached within {timeout}s")
        time.sleep(0.01)


def edit_latencies(
    app: Path, health_url: str, edits: int, timeout: float, after_edit: Callable[[], object] | None = None
) -> list[float]:
    """Seconds from writing a new marker into `app`'s /health handler to /health answering it, per edit."""
    original = app.read_text()
    samples = []
    for _ in range(edits):
        marker = uuid.uuid4().hex[:8]
        text = HEALTH_RETURN.sub(f'        return {{"status": "ok", "probe": "{marker}"}}', original)
        start = time.monotonic()
        app.write_text(text)
        if after_edit:
            after_edit()
        wait_until(lambda marker=marker: health_probe(health_url) == marker, timeout)  # type: ignore[misc]
        samples.append(time.monotonic() - start)
        time.sleep(1.0)  # let the previous worker drain before the next edit
    return samples


def median_p90(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
