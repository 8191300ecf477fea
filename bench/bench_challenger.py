"""The champion's throughput and p99 with a challenger on live traffic: alone (no challenger followed), with
a shadow challenger, and with a 10% canary; same registered versions, same machine, same client (wrk) and
concurrency, one run. Each server runs on the host from .venv (one process, OMP_NUM_THREADS=1, as
bench_serving.py) against the bench stack's MLflow, one at a time so they never share the CPU while
measured. Besides wrk's figures (every request), serving's own /comparison: the champion's and the
challenger's model time p99, what the shadow compared and dropped, and the share the canary answered.

Needs wrk (Debian: apt-get install wrk); starts the bench project's MLflow + seed, removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_serving import MLFLOW, REPO, ROWS, seeded_bench_stack, wait_ready, wrk, wrk_inputs

PORT = 18183
SECONDS, CONNECTIONS = 15, 8
CANDIDATES = {
    "champion alone": {"MODEL_CHALLENGER_MODE": "off"},
    "with a shadow challenger": {"MODEL_CHALLENGER_MODE": "shadow"},
    "with a 10% canary": {"MODEL_CHALLENGER_MODE": "canary", "MODEL_CANARY_SHARE": "0.1"},
}


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as answer:
        result: dict[str, object] = json.loads(answer.read())
        return result


def measure(label: str, extra: dict[str, str], work: Path, body_file: Path, script: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": MLFLOW,
        "MODEL_CACHE_DIR": str(work / "cache"),
        "SERVING_PORT": str(PORT),
        "OMP_NUM_THREADS": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        **extra,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "serving"], cwd=REPO / "services", env=env,
        stdout=subprocess.DEVNULL, stderr=open(work / f"{label.replace(' ', '-')}.log", "w"),
    )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{PORT}/ready")
        if extra["MODEL_CHALLENGER_MODE"] != "off":
            deadline = time.monotonic() + 120
            while get_json(f"http://127.0.0.1:{PORT}/comparison")["challenger"]["version"] is None:  # type: ignore[index]
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{label}: the challenger was not loaded in 120 s")
                time.sleep(0.5)
        wrk(PORT, 3, CONNECTIONS, body_file, script)  # warm-up
        result: dict[str, object] = dict(wrk(PORT, SECONDS, CONNECTIONS, body_file, script))
        time.sleep(2)  # the shadow queue drains (or is dropped) before the figures are read
        result["comparison"] = get_json(f"http://127.0.0.1:{PORT}/comparison")
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main() -> int:
    if not shutil.which("wrk"):
        print("bench_challenger: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    devtools, env = seeded_bench_stack()
    work = Path(tempfile.mkdtemp(prefix="bench-challenger-"))
    body_file, script = wrk_inputs(work, ROWS)
    results: dict[str, dict[str, object]] = {}
    try:
        # A real challenger: the same recipe trained shorter, registered under @challenger.
        train = [devtools, "train", "--", "--promote", "challenger", "--epochs", "3"]
        subprocess.run(train, env=env, check=True, capture_output=True)
        for label, extra in CANDIDATES.items():
            results[label] = measure(label, extra, work, body_file, script)
    finally:
        subprocess.run([devtools, "down", "-v"], env=env, check=False, capture_output=True)
    for label, r in results.items():
        c = r["comparison"]
        assert isinstance(c, dict)
        champion, challenger = c["champion"], c["challenger"]
        print(
            f"  {label:26s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
            f"non-2xx {r['errors']:.0f}\n    champion answered {champion['requests']} (model p99 "
            f"{champion['p99_ms']} ms); challenger {challenger['requests']} ({challenger['errors']} errors, model p99 "
            f"{challenger['p99_ms']} ms); shadow compared {c['compared']} rows, dropped {c['shadow_dropped']}"
        )
    alone = results["champion alone"]
    for label in ("with a shadow challenger", "with a 10% canary"):
        r = results[label]
        print(
            f"{label}: {float(r['rps']) / float(alone['rps']):.2f}x the throughput of the champion alone, "  # type: ignore[arg-type]
            f"p99 {float(r['p99_ms']) / float(alone['p99_ms']):.2f}x"  # type: ignore[arg-type]
        )
    canary = results["with a 10% canary"]["comparison"]
    assert isinstance(canary, dict)
    answered = canary["challenger"]["requests"] + canary["champion"]["requests"]
    print(f"canary share answered by the challenger: {canary['challenger']['requests'] / max(1, answered):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
