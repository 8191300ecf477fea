"""The champion's throughput and p99 with a challenger on live traffic: alone (no challenger followed), with
a shadow challenger, and with a 10% canary; same registered versions, same machine, same client (wrk) and
concurrency, one run. The three servers run on the host from .venv (one process each, OMP_NUM_THREADS=1,
as bench_serving.py) against the bench stack's MLflow, all up and measured one at a time, in ROUNDS
interleaved rounds (medians reported, each round's p99 shown: this machine is noisy). Besides wrk's
figures (every request), serving's own /comparison: the model time p99 per version, what the shadow
compared and dropped, and the share the canary answered.

Needs wrk (Debian: apt-get install wrk); starts the bench project's MLflow + seed, removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench_serving import MLFLOW, REPO, ROWS, seeded_bench_stack, wait_ready, wrk, wrk_inputs

PORTS = {"champion alone": 18183, "with a shadow challenger": 18184, "with a 10% canary": 18185}
SECONDS, CONNECTIONS, ROUNDS = 15, 8, 3
CANDIDATES = {
    "champion alone": {"MODEL_CHALLENGER_MODE": "off"},
    "with a shadow challenger": {"MODEL_CHALLENGER_MODE": "shadow"},
    "with a 10% canary": {"MODEL_CHALLENGER_MODE": "canary", "MODEL_CANARY_SHARE": "0.1"},
}


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


def start(label: str, work: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": MLFLOW,
        "MODEL_CACHE_DIR": str(work / "cache"),
        "SERVING_PORT": str(PORTS[label]),
        "OMP_NUM_THREADS": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        **CANDIDATES[label],
    }
    return subprocess.Popen(
        [sys.executable, "-m", "serving"], cwd=REPO / "services", env=env,
        stdout=subprocess.DEVNULL, stderr=open(work / f"{PORTS[label]}.log", "w"),
    )  # fmt: skip


def ready(label: str) -> None:
    base = f"http://127.0.0.1:{PORTS[label]}"
    wait_ready(f"{base}/ready")
    deadline = time.monotonic() + 120
    while (
        CANDIDATES[label]["MODEL_CHALLENGER_MODE"] != "off"
        and get_json(f"{base}/model")["challenger"]["version"] is None
    ):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{label}: the challenger was not loaded in 120 s")
        time.sleep(0.5)


def per_round(runs: list[dict[str, float]]) -> str:
    return ", ".join(f"{run['p99_ms']:.1f}" for run in runs)


def main() -> int:
    if not shutil.which("wrk"):
        print("bench_challenger: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    devtools, env = seeded_bench_stack()
    work = Path(tempfile.mkdtemp(prefix="bench-challenger-"))
    body_file, script = wrk_inputs(work, ROWS)
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in CANDIDATES}
    servers: list[subprocess.Popen[bytes]] = []
    try:
        # A real challenger: the same recipe trained shorter, registered under @challenger.
        train = [devtools, "train", "--", "--promote", "challenger", "--epochs", "3"]
        subprocess.run(train, env=env, check=True, capture_output=True)
        servers = [start(label, work) for label in CANDIDATES]
        for label in CANDIDATES:
            ready(label)
            wrk(PORTS[label], 3, CONNECTIONS, body_file, script)  # warm-up
        # All three up, measured one at a time (an idle server only polls MLflow), interleaved in rounds
        # so the machine's drift hits each alike; the medians are reported.
        for _ in range(ROUNDS):
            for label in CANDIDATES:
                runs[label].append(wrk(PORTS[label], SECONDS, CONNECTIONS, body_file, script))
                time.sleep(1)
        figures = {label: get_json(f"http://127.0.0.1:{PORTS[label]}/comparison") for label in CANDIDATES}
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        subprocess.run([devtools, "down", "-v"], env=env, check=False, capture_output=True)
    median = {label: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for label, rs in runs.items()}
    for label, r in median.items():
        c = figures[label]
        champion, challenger = c["champion"], c["challenger"]
        print(
            f"  {label:26s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
            f"non-2xx {r['errors']:.0f}  (median of {ROUNDS}; p99 per round "
            f"{per_round(runs[label])} ms)\n"
            f"    over the whole run: champion answered {champion['requests']} (model p99 {champion['p99_ms']} ms); "
            f"challenger {challenger['requests']} ({challenger['errors']} errors, model p99 {challenger['p99_ms']} "
            f"ms); shadow compared {c['compared']} rows, dropped {c['shadow_dropped']}"
        )
    alone = median["champion alone"]
    for label in ("with a shadow challenger", "with a 10% canary"):
        r = median[label]
        print(
            f"{label}: {r['rps'] / alone['rps']:.2f}x the throughput of the champion alone, "
            f"p99 {r['p99_ms'] / alone['p99_ms']:.2f}x, p50 {r['p50_ms'] / alone['p50_ms']:.2f}x"
        )
    canary = figures["with a 10% canary"]
    answered = canary["challenger"]["requests"] + canary["champion"]["requests"]
    print(f"canary share answered by the challenger: {canary['challenger']['requests'] / max(1, answered):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
