"""Seed time: from a healthy, empty MLflow to the alias set (target: under 60 s on this machine).

Baseline in the same run: `devtools seed` on an already seeded MLflow, the fixed cost of starting the
job (container exec, Python imports, one registry lookup) that any seed pays.
"""

from __future__ import annotations

import sys

from timing import devtools

BUDGET_S = 60.0


def main() -> int:
    devtools("down", "-v")
    try:
        devtools("up", "mlflow", "training")  # healthy MLflow, empty volumes, no seed yet
        seed_s = devtools("seed")
        noop_s = min(devtools("seed") for _ in range(3))
    finally:
        devtools("down", "-v")
    ok = seed_s < BUDGET_S
    print(
        f"seed: fresh seed {seed_s:.1f}s (healthy MLflow -> alias set), already-seeded no-op {noop_s:.1f}s, "
        f"seed work {seed_s - noop_s:.1f}s; budget {BUDGET_S:.0f}s {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
