"""`devtools repro RUN --check` against the run it reproduces (issue 26): wall time of the reproduction,
worktree, one-off container and metric check included, over the original `devtools train` of the same
command, interleaved. Also whether each reproduction matched (it must, on the CPU digits recipe).

Starts its own stack (mlstack-bench) and removes it at the end.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time

from timing import devtools, devtools_bin, stack_env

EPOCHS = "3"
ROUNDS = 3


def run(*args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([devtools_bin(), *args], env=stack_env(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"devtools {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return elapsed, done.stdout


def main() -> int:
    devtools("down", "-v")
    trained, reproduced, matched = [], [], 0
    try:
        devtools("up")
        run("train", "--", "--epochs", EPOCHS, "--promote", "never")  # warm: the data prepared, imports cached
        for _ in range(ROUNDS):
            seconds, out = run("train", "--", "--epochs", EPOCHS, "--promote", "never")
            trained.append(seconds)
            found = re.search(r"run_id=(\w+)", out)
            assert found, out
            seconds, out = run("repro", found[1], "--check")
            reproduced.append(seconds)
            matched += "every metric matches" in out
    finally:
        devtools("down", "-v")
    train_s, repro_s = statistics.median(trained), statistics.median(reproduced)
    print(
        f"repro: `devtools repro RUN --check` median {repro_s:.1f}s, the original `devtools train -- --epochs "
        f"{EPOCHS}` median {train_s:.1f}s, {repro_s / train_s:.2f}x (n={ROUNDS}, interleaved); "
        f"{matched}/{ROUNDS} reproductions matched within 1e-6"
    )
    return 0 if matched == ROUNDS else 1


if __name__ == "__main__":
    sys.exit(main())
