"""Training image rebuild after a one-line change to training code, warm cache (target: under 10 s),
against the same build with nothing changed. Also checks that only the code layer was rebuilt."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EDITED = REPO / "services" / "training" / "train.py"
TARGET_S = 10.0


def build(devtools: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [devtools, "build", "--target", "prod", "training"], cwd=REPO, check=True, capture_output=True, text=True
    )
    return time.perf_counter() - start, done.stderr + done.stdout


def rebuilt_steps(log: str) -> list[str]:
    """BuildKit steps that ran instead of coming from cache (`#N [stage n/m] STEP` without CACHED)."""
    steps = {num: stage for num, stage, _ in re.findall(r"^(#\d+) \[training ([^\]]+)\] (.*)$", log, flags=re.M)}
    cached = set(re.findall(r"^(#\d+) CACHED$", log, flags=re.M))
    return [stage for num, stage in steps.items() if num not in cached and "internal" not in stage]


def main() -> int:
    devtools = shutil.which("devtools") or f"{sys.prefix}/bin/devtools"
    build(devtools)  # warm the cache
    unchanged_s, _ = build(devtools)
    original = EDITED.read_text()
    try:
        EDITED.write_text(original + f"\n# bench edit {time.time()}\n")
        changed_s, log = build(devtools)
    finally:
        EDITED.write_text(original)
    rebuilt = rebuilt_steps(log)
    ok = changed_s < TARGET_S and all(not step.startswith("deps") for step in rebuilt)
    print(
        f"training rebuild: one-line code change {changed_s:.1f}s, no change {unchanged_s:.1f}s, "
        f"ratio {changed_s / unchanged_s:.2f}x; rebuilt steps: {', '.join(rebuilt) or 'none'}; "
        f"target < {TARGET_S:.0f}s, deps cached {'PASS' if ok else 'FAIL'}"
    )
    build(devtools)  # leave the image matching the source again
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
