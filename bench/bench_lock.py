"""`devtools lock` (issue 26): resolving every lock (the joint stack resolution, then each image's and
the host's, with hashes; PyPI through uv's cache) against `devtools lock --check` (offline: the inputs'
digests only), interleaved. The locks' contents must not change: an existing lock keeps its versions.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from timing import compare, timed

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    before = subprocess.run(["git", "-C", str(REPO), "diff", "--stat", "--", "locks"], capture_output=True, text=True)
    lock = [f"{sys.prefix}/bin/devtools", "lock"]
    result = compare(
        "lock",
        ("devtools lock (resolve every lock)", lambda: timed(lock)),
        ("devtools lock --check (offline)", lambda: timed([*lock, "--check"])),
        runs=3,
        target_ratio=float("inf"),
    )
    print(result.report())
    after = subprocess.run(["git", "-C", str(REPO), "diff", "--stat", "--", "locks"], capture_output=True, text=True)
    locks = len(list((REPO / "locks").glob("*.txt")))
    print(f"lock: {locks} lock files; locks/ unchanged by relocking: {before.stdout == after.stdout}")
    return 0 if before.stdout == after.stdout else 1


if __name__ == "__main__":
    sys.exit(main())
