"""The lean serving image (target lean: ONNX Runtime, no torch, mlflow-skinny) against the prod serving
image: image size, time from `docker run` to /ready (model download and load included), and memory once
ready, each container of the serving task's size (1 vCPU, 2 GiB), the same seeded version (its ONNX
artifact passed the gate), rounds alternating between the two images.

Needs the prod serving image (`devtools build --target prod serving`); builds the lean one; starts its
own MLflow + seed on the bench project's ports, removed at the end.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's testing/ helpers
from bench_prod_serving import CPUS, MEMORY, NETWORK, docker, memory_mib
from bench_serving import seeded_bench_stack

from testing.lean_image import build_lean_image

PROD, LEAN = "prod (torch + pyfunc + ONNX Runtime)", "lean (ONNX Runtime only)"
IMAGES = {PROD: "mlstack/serving:latest", LEAN: "mlstack/serving-lean:bench"}
ROUNDS = 3
PORT = 18195


def ready_after(image: str, name: str) -> tuple[float, float]:
    """Seconds from `docker run` to a 200 from /ready, and the container's memory then (MiB)."""
    started = time.monotonic()
    docker("run", "-d", "--name", name, "--network", NETWORK, "--cpus", CPUS, "--memory", MEMORY,
           "-e", "MLFLOW_TRACKING_URI=http://mlflow:5000", "-p", f"127.0.0.1:{PORT}:8080", image)  # fmt: skip
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/ready", timeout=2) as answer:
                if answer.status == 200:
                    return time.monotonic() - started, memory_mib(name)
        except OSError:
            pass
        if time.monotonic() - started > 300:
            raise SystemExit(f"bench_lean_image: {image} not ready after 300 s")
        time.sleep(0.05)


def main() -> int:
    build_lean_image(IMAGES[LEAN], "mlstack/base:latest")  # the base `devtools build --target prod` made
    devtools, env = seeded_bench_stack()
    sizes = {label: int(docker("image", "inspect", "--format", "{{.Size}}", image)) for label, image in IMAGES.items()}
    ready: dict[str, list[float]] = {label: [] for label in IMAGES}
    memory: dict[str, list[float]] = {label: [] for label in IMAGES}
    try:
        for _ in range(ROUNDS):
            for label, image in IMAGES.items():
                name = "bench-lean-image"
                try:
                    seconds, mib = ready_after(image, name)
                finally:
                    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
                ready[label].append(seconds)
                memory[label].append(mib)
    finally:
        subprocess.run([devtools, "down", "-v"], env=env, check=False, capture_output=True)
    for label in IMAGES:
        rounds = ", ".join(f"{seconds:.2f}" for seconds in ready[label])
        print(
            f"  {label:38s} {sizes[label] / 1e6:8.0f} MB  ready after {statistics.median(ready[label]):5.2f} s "
            f"(median of {ROUNDS}: {rounds})  memory {statistics.median(memory[label]):.0f} MiB"
        )
    print(
        f"lean image: {sizes[LEAN] / sizes[PROD]:.2f}x the prod image's size, ready in "
        f"{statistics.median(ready[LEAN]) / statistics.median(ready[PROD]):.2f}x its time, "
        f"{statistics.median(memory[LEAN]) / statistics.median(memory[PROD]):.2f}x its memory"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
