"""The prod serving process model, measured: one process per container (the prod image's default) vs the
previous two uvicorn workers vs `mlflow models serve`, each in a container of the serving task's size
(1 vCPU, 2 GiB: x-ecs cpu 1024 / memory 2048), same registered model, same client (wrk), one run; plus
each container's memory after the load (docker stats).

Needs the prod images (`devtools build --target prod serving training`), wrk (apt-get install wrk), and
starts its own MLflow + seed on the bench project's ports, removed at the end.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The same client and parsing as the dev benchmark (bench/ is on sys.path: it holds the script run).
from bench_serving import seeded_bench_stack, wait_ready, wrk, wrk_inputs

PROJECT = "mlstack-bench"
NETWORK = f"{PROJECT}_default"
ROWS = [[float((i * 7 + j) % 17) for j in range(64)] for i in range(8)]
CPUS, MEMORY = "1", "2g"
CANDIDATES = {
    "ours, 1 process (prod default)": ("serving", 18191, {"SERVING_WORKERS": "1"}),
    # Issue 28: the micro-batcher's window as it was (fixed 1 ms), against the adaptive default above.
    "ours, 1 process, fixed 1 ms window": ("serving", 18194, {"SERVING_WORKERS": "1", "SERVING_BATCH_WAIT_MS": "1"}),
    "ours, 2 workers (previous image)": ("serving", 18192, {"SERVING_WORKERS": "2"}),
    "mlflow models serve, 1 worker": ("mlflow-serve", 18193, {}),
}


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


def start(name: str, kind: str, port: int, env: dict[str, str]) -> None:
    common = ["run", "-d", "--name", name, "--network", NETWORK, "--cpus", CPUS, "--memory", MEMORY,
              "-e", "MLFLOW_TRACKING_URI=http://mlflow:5000", "-p", f"127.0.0.1:{port}:8080"]  # fmt: skip
    for key, value in env.items():
        common += ["-e", f"{key}={value}"]
    if kind == "serving":
        docker(*common, "mlstack/serving:latest")
        return
    # MLflow's own scoring server, from the image that has mlflow and torch (the training image).
    docker(
        *common, "--entrypoint", "mlflow", "mlstack/training:latest",
        "models", "serve", "-m", "models:/digits-classifier@champion", "--env-manager", "local",
        "-h", "0.0.0.0", "-p", "8080", "-w", "1",
    )  # fmt: skip


def memory_mib(name: str) -> float:
    usage = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name).split("/")[0].strip()
    number, unit = float(usage.rstrip("KMGiB")), usage.lstrip("0123456789.").strip()
    return number * {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}.get(unit, 1.0)


def main() -> int:
    if not shutil.which("wrk"):
        print("bench_prod_serving: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    devtools, env = seeded_bench_stack()
    body_file, script = wrk_inputs(Path(tempfile.mkdtemp(prefix="bench-prod-serving-")), ROWS)
    names = {label: f"bench-prod-serving-{i}" for i, label in enumerate(CANDIDATES)}
    results: dict[str, dict[str, float]] = {}
    try:
        for label, (kind, port, extra) in CANDIDATES.items():
            start(names[label], kind, port, extra)
        for kind, port, _ in CANDIDATES.values():
            wait_ready(f"http://127.0.0.1:{port}/{'ready' if kind == 'serving' else 'ping'}", timeout=300)
        # One at a time, after a warm-up each, so they never share the CPU while measured.
        for label, (_, port, _) in CANDIDATES.items():
            wrk(port, 3, 8, body_file, script)
            results[label] = wrk(port, 15, 8, body_file, script)
            results[label]["memory_mib"] = memory_mib(names[label])
            time.sleep(1)
    finally:
        for name in names.values():
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run([devtools, "down", "-v"], env=env, check=False, capture_output=True)
    for label, r in results.items():
        print(
            f"  {label:34s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
            f"non-2xx {r['errors']:.0f}  memory {r['memory_mib']:.0f} MiB"
        )
    one, two = results["ours, 1 process (prod default)"], results["ours, 2 workers (previous image)"]
    print(
        f"prod serving, {CPUS} vCPU per container: 1 process {one['rps'] / two['rps']:.2f}x the throughput of "
        f"2 workers at {one['memory_mib'] / two['memory_mib']:.2f}x the memory (p99 {one['p99_ms']:.1f} vs "
        f"{two['p99_ms']:.1f} ms); vs mlflow models serve "
        f"{one['rps'] / results['mlflow models serve, 1 worker']['rps']:.2f}x"
    )
    fixed = results["ours, 1 process, fixed 1 ms window"]
    print(
        f"batch window: queue + target {one['rps'] / fixed['rps']:.2f}x the throughput of the fixed 1 ms window, "
        f"p50 {one['p50_ms']:.1f} vs {fixed['p50_ms']:.1f} ms, p99 {one['p99_ms']:.1f} vs {fixed['p99_ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
