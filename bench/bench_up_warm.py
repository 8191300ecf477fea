"""`devtools up` on a warm cache against plain `docker compose up --wait` with the same files
(target: at most 1.1x). Warm: images built, stack stopped (`down` without -v) before every start."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from timing import Comparison, compare, timed

REPO = Path(__file__).resolve().parents[1]
PROJECT = "mlstack-bench"


def run(runs: int = 5) -> Comparison:
    devtools = shutil.which("devtools") or f"{sys.prefix}/bin/devtools"
    uid = os.getuid() or 1000
    gid = os.getgid() if os.getuid() else 1000
    # The env devtools itself passes, so both sides use the same images.
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "MLFLOW_PORT": "25000",
        "SERVING_PORT": "28080",
        "DEVTOOLS_UID": str(uid),
        "DEVTOOLS_GID": str(gid),
        "COMPOSE_BAKE": "false",
    }
    compose = [
        "docker",
        "compose",
        "-p",
        PROJECT,
        "-f",
        str(REPO / "docker-compose.yml"),
        "-f",
        str(REPO / "docker-compose.dev.yml"),
    ]

    def stop() -> None:
        subprocess.run([*compose, "down"], env=env, check=True, capture_output=True)

    subprocess.run([devtools, "up"], env=env, check=True, capture_output=True)  # build + record state once
    try:
        return compare(
            "up (warm cache)",
            ("devtools up", lambda: timed([devtools, "up"], env, before=stop)),
            ("docker compose up -d --wait", lambda: timed([*compose, "up", "-d", "--wait"], env, before=stop)),
            runs=runs,
            target_ratio=1.1,
        )
    finally:
        subprocess.run([*compose, "down", "-v"], env=env, check=False, capture_output=True)


if __name__ == "__main__":
    result = run()
    print(result.report())
    sys.exit(0 if result.ok else 1)
