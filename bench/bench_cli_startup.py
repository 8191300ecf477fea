"""`devtools --help` wall time against `python -c "import typer"` (target: at most 1.3x)."""

from __future__ import annotations

import shutil
import sys

from timing import Comparison, compare, timed


def run(runs: int = 15) -> Comparison:
    devtools = shutil.which("devtools") or f"{sys.prefix}/bin/devtools"
    # One warm-up each so the first run's page-cache misses count for neither.
    timed([devtools, "--help"])
    timed([sys.executable, "-c", "import typer"])
    return compare(
        "cli startup",
        ("devtools --help", lambda: timed([devtools, "--help"])),
        ('python -c "import typer"', lambda: timed([sys.executable, "-c", "import typer"])),
        runs=runs,
        target_ratio=1.3,
    )


if __name__ == "__main__":
    result = run()
    print(result.report())
    sys.exit(0 if result.ok else 1)
