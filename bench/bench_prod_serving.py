"""The prod serving configuration, measured: one process per container answering with ONNX Runtime (the
version's accelerated artifact, the default since issue 28) vs the same server answering with the MLflow
pyfunc (SERVING_RUNTIME=pyfunc: the server as it was) vs `mlflow models serve`, each in a container of
the serving task's size (1 vCPU, 2 GiB: x-ecs cpu 1024 / memory 2048), same registered model, same client
(wrk, 8 connections), one run; then both of ours under twice the connections (16), where the pyfunc
server is saturated; and each container's memory after the load (docker stats).

wrk is a closed-loop client: twice the connections is twice the requests in flight, not an open-loop
rate of twice the saturating throughput (wrk2 is not packaged here).

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
ONNX, PYFUNC, MLFLOW_SERVE = (
    "ours, ONNX Runtime (prod default)",
    "ours, pyfunc (the server before)",
    "mlflow models serve",
)
CANDIDATES = {
    ONNX: ("serving", 18191, {"SERVING_WORKERS": "1"}),
    PYFUNC: ("serving", 18194, {"SERVING_WORKERS": "1", "SERVING_RUNTIME": "pyfunc"}),
    MLFLOW_SERVE: ("mlflow-serve", 18193, {}),
}
CONNECTIONS = 8
P99_TARGET_MS = 50.0  # SERVING_P99_TARGET_MS's default (serving/model/batch_window.py)


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
            wrk(port, 3, CONNECTIONS, body_file, script)
            results[label] = wrk(port, 15, CONNECTIONS, body_file, script)
            results[label]["memory_mib"] = memory_mib(names[label])
            time.sleep(1)
        for label in (ONNX, PYFUNC):
            port = CANDIDATES[label][1]
            results[f"{label}, 2x connections"] = wrk(port, 15, 2 * CONNECTIONS, body_file, script)
            results[f"{label}, 2x connections"]["memory_mib"] = memory_mib(names[label])
            time.sleep(1)
    finally:
        for name in names.values():
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run([devtools, "down", "-v"], env=env, check=False, capture_output=True)
    for label, r in results.items():
        print(
            f"  {label:50s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
            f"non-2xx {r['errors']:.0f}  memory {r['memory_mib']:.0f} MiB"
        )
    onnx, pyfunc, theirs = results[ONNX], results[PYFUNC], results[MLFLOW_SERVE]
    print(
        f"prod serving, {CPUS} vCPU per container, {CONNECTIONS} connections: ONNX Runtime "
        f"{onnx['rps'] / theirs['rps']:.2f}x mlflow models serve (p99 {onnx['p99_ms']:.1f} vs "
        f"{theirs['p99_ms']:.1f} ms) and {onnx['rps'] / pyfunc['rps']:.2f}x the pyfunc server (p99 "
        f"{pyfunc['p99_ms']:.1f} ms); memory {onnx['memory_mib']:.0f} vs {pyfunc['memory_mib']:.0f} MiB"
    )
    doubled = results[f"{ONNX}, 2x connections"]
    print(
        f"2x connections: ONNX Runtime p99 {doubled['p99_ms']:.1f} ms (target {P99_TARGET_MS:.0f} ms), "
        f"{doubled['rps']:.1f} req/s; pyfunc p99 {results[f'{PYFUNC}, 2x connections']['p99_ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
