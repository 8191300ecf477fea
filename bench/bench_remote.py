"""Edit-to-live over a remote engine (issue 16) vs the local stack: the same serving edits, one run.

Remote: testing/remote_engine.py (a second dockerd that cannot see the checkout, reached as
ssh://root@127.0.0.1:PORT), the dev images pulled from the team registry (scripts/provision's,
127.0.0.1:5001; published first by `devtools release --dev`), `devtools watch` copying each change
over SSH and signalling the reloader. Local: the same checkout's stack on this machine's engine, bind
mount and signal. Each edit writes a new marker into serving's /health handler; the time is from the
write to /health answering it (over the SSH tunnel for the remote stack). Target: remote median
<= 0.5 s over SSH on loopback.

    .venv/bin/python bench/bench_remote.py [--edits N]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from timing import edit_latencies, median_p90  # noqa: E402

from testing import remote_engine  # noqa: E402  (after the path it lives on)
from testing.stack_harness import copy_checkout, free_port  # noqa: E402

REGISTRY = "127.0.0.1:5001"


def devtools(root: Path, env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "devtools", *args], cwd=root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"devtools {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")


def measure(root: Path, env: dict[str, str], edits: int) -> list[float]:
    """`up`, `watch`, then the edits; the stack is removed afterwards."""
    devtools(root, env, "up")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "devtools", "watch"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        time.sleep(3)
        health = f"http://127.0.0.1:{env['SERVING_PORT']}/health"
        return edit_latencies(root / "services" / "serving" / "app.py", health, edits, 60)
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
        devtools(root, env, "down", "-v")


def stack_env(base: dict[str, str], project: str) -> dict[str, str]:
    env = {**base, "COMPOSE_PROJECT_NAME": project, "MLFLOW_PORT": str(free_port()), "SERVING_PORT": str(free_port())}
    env.pop("DEVTOOLS_ROOT", None)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=10)
    edits = parser.parse_args().edits
    with tempfile.TemporaryDirectory(prefix="remote-bench-") as tmp:
        local_root, remote_root = Path(tmp) / "local", Path(tmp) / "remote"
        copy_checkout(local_root)
        copy_checkout(remote_root)
        devtools(local_root, dict(os.environ), "release", "--dev", "--registry", REGISTRY)
        local = measure(local_root, stack_env(dict(os.environ), "mlstack-rbench-local"), edits)
        with remote_engine.running() as engine:
            env = stack_env({**engine.env, "DEVTOOLS_REGISTRY": REGISTRY}, "mlstack-rbench-remote")
            remote = measure(remote_root, env, edits)
    (local_median, local_p90), (remote_median, remote_p90) = median_p90(local), median_p90(remote)
    print(f"  local stack (bind mount)        median {local_median:.3f}s  p90 {local_p90:.3f}s  (n={len(local)})")
    print(f"  remote engine over SSH (sync)   median {remote_median:.3f}s  p90 {remote_p90:.3f}s  (n={len(remote)})")
    ok = remote_median <= 0.5
    print(
        f"edit-to-live over SSH: median {remote_median:.3f}s vs local {local_median:.3f}s, "
        f"ratio {remote_median / local_median:.2f}x (target <= 0.5 s) {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
