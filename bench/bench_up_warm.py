"""`devtools up` on a warm cache against plain `docker compose up --wait` with the same files
(target: at most 1.1x). Warm: images built, stack stopped (`down` without -v) before every start."""

from __future__ import annotations

import os
import subprocess
import sys

from timing import Comparison, compare, compose_argv, devtools, devtools_bin, stack_env, timed


def run(runs: int = 5) -> Comparison:
    uid = os.getuid() or 1000
    gid = os.getgid() if os.getuid() else 1000
    # The env devtools itself passes, so both sides use the same images.
    env = stack_env(DEVTOOLS_UID=str(uid), DEVTOOLS_GID=str(gid), COMPOSE_BAKE="false")
    compose = compose_argv()

    def stop() -> None:
        subprocess.run([*compose, "down"], env=env, check=True, capture_output=True)

    devtools("up", env=env)  # build + record state once
    try:
        return compare(
            "up (warm cache)",
            ("devtools up", lambda: timed([devtools_bin(), "up"], env, before=stop)),
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
