"""/invocations throughput and p50/p99 latency: our serving vs `mlflow models serve`, same registered
model, same machine, same client (wrk) and concurrency, one run; plus the swap time from an alias move
to the first response from the new version.

Both servers run on the host from .venv with one worker each, against the bench stack's MLflow, so
neither pays for Docker's port proxy. Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT = "mlstack-bench"
MLFLOW = "http://127.0.0.1:25000"
MODEL_URI = "models:/digits-classifier@champion"
OURS, THEIRS = 18181, 18182
ROWS = [[float((i * 7 + j) % 17) for j in range(64)] for i in range(8)]


def wait_ready(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def wrk(port: int, seconds: int, connections: int, body_file: Path, script: Path) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}/invocations"],
        capture_output=True, text=True, check=True, env={**os.environ, "BODY_FILE": str(body_file)},
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99"), "errors": float(non2xx.group(1)) if non2xx else 0.0}


def wrk_inputs(work: Path, rows: list[list[float]]) -> tuple[Path, Path]:
    """The request body (`{"inputs": rows}`) and the Lua script that makes wrk POST it."""
    body_file = work / "body.json"
    body_file.write_text(json.dumps({"inputs": rows}))
    script = work / "post.lua"
    script.write_text(
        'local f = io.open(os.getenv("BODY_FILE")); local body = f:read("*a"); f:close()\n'
        'wrk.method = "POST"; wrk.body = body; wrk.headers["Content-Type"] = "application/json"\n'
    )
    return body_file, script


def seeded_bench_stack() -> tuple[str, dict[str, str]]:
    """The bench project's MLflow (port 25000) and training, seeded: (the devtools program, its env)."""
    devtools = shutil.which("devtools") or f"{sys.prefix}/bin/devtools"
    env = {**os.environ, "COMPOSE_PROJECT_NAME": PROJECT, "MLFLOW_PORT": "25000", "SERVING_PORT": "28080"}
    # `devtools seed` returns once the alias is set (`up --wait` does not wait for one-shot jobs).
    subprocess.run([devtools, "up", "mlflow", "training"], env=env, check=True, capture_output=True)
    subprocess.run([devtools, "seed"], env=env, check=True, capture_output=True)
    return devtools, env


def main() -> int:
    if not shutil.which("wrk"):
        print("bench_serving: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    devtools, env = seeded_bench_stack()
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    body_file, script = wrk_inputs(work, ROWS)
    server_env = {
        **os.environ,
        # `mlflow models serve` starts `uvicorn` by name: the venv's bin must be on PATH.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": MLFLOW,
        "MODEL_CACHE_DIR": str(work / "cache"),
        "SERVING_WORKERS": "1",
        "MODEL_POLL_INTERVAL_S": "0.5",
        "OMP_NUM_THREADS": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    ours = subprocess.Popen(
        [sys.executable, "-m", "serving"], cwd=REPO / "services", env={**server_env, "SERVING_PORT": str(OURS)},
        stdout=subprocess.DEVNULL, stderr=open(work / "ours.log", "w"),
    )  # fmt: skip
    theirs = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", MODEL_URI, "--env-manager", "local",
         "-p", str(THEIRS), "-h", "127.0.0.1", "-w", "1"],
        env=server_env, stdout=subprocess.DEVNULL, stderr=open(work / "theirs.log", "w"), start_new_session=True,
    )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{OURS}/ready")
        wait_ready(f"http://127.0.0.1:{THEIRS}/ping")
        results = {}
        for _name, port in (("ours", OURS), ("mlflow models serve", THEIRS)):
            wrk(port, 3, 8, body_file, script)  # warm-up
        for name, port in (("ours", OURS), ("mlflow models serve", THEIRS)):
            results[name] = wrk(port, 15, 8, body_file, script)
        swap_s = measure_swap(devtools, env)
    finally:
        ours.send_signal(signal.SIGTERM)
        os.killpg(theirs.pid, signal.SIGTERM)
        ours.wait(timeout=30)
        theirs.wait(timeout=30)
        subprocess.run([devtools, "down", "-v"], env=env, check=False, capture_output=True)
    a, b = results["ours"], results["mlflow models serve"]
    ratio = a["rps"] / b["rps"]
    ok = ratio >= 2.0 and a["p99_ms"] <= b["p99_ms"] and a["errors"] == 0
    for name, r in results.items():
        print(
            f"  {name:20s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  "
            f"p99 {r['p99_ms']:7.2f} ms  non-2xx {r['errors']:.0f}"
        )
    print(
        f"serving: throughput {ratio:.2f}x mlflow models serve (target >= 2x) at p99 {a['p99_ms']:.1f} vs "
        f"{b['p99_ms']:.1f} ms (target <=) {'PASS' if ok else 'FAIL'}; swap: alias move -> first response "
        f"from the new version {swap_s:.1f}s (poll 0.5 s)"
    )
    return 0 if ok else 1


def measure_swap(devtools: str, env: dict[str, str]) -> float:
    """Seconds from moving the alias to a new version to our server answering with that version."""
    from mlflow import MlflowClient

    body = json.dumps({"inputs": ROWS}).encode()

    def served() -> str:
        request = urllib.request.Request(
            f"http://127.0.0.1:{OURS}/predict", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["model_version"])

    # A new version that does not take the alias; the bench moves the alias itself, so the clock
    # starts exactly at the move.
    subprocess.run(
        [devtools, "train", "--", "--epochs", "1", "--promote", "never"], env=env, check=True, capture_output=True
    )
    client = MlflowClient(MLFLOW)
    newest = max(int(v.version) for v in client.search_model_versions("name='digits-classifier'"))
    moved = time.monotonic()
    client.set_registered_model_alias("digits-classifier", "champion", str(newest))
    while served() != str(newest):
        time.sleep(0.02)
    return time.monotonic() - moved


if __name__ == "__main__":
    sys.exit(main())
