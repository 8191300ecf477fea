"""A champion/challenger comparison as serving's /comparison answers it, for the tests that judge one."""

from __future__ import annotations

import copy
from typing import Any

MODEL = "digits-classifier"

PASSING: dict[str, Any] = {
    "model": MODEL, "mode": "shadow", "canary_share": 0.1, "since": "2026-12-05T18:00:00+00:00",
    "champion": {"alias": "champion", "version": "3", "run_id": "a" * 32, "requests": 1200, "errors": 0,
                 "p50_ms": 4.0, "p99_ms": 10.0},
    "challenger": {"alias": "challenger", "version": "4", "run_id": "b" * 32, "requests": 600, "errors": 3,
                   "p50_ms": 4.5, "p99_ms": 12.0, "routed": False, "state_reason": None},
    "compared": 600, "agreed": 591, "agreement": 0.985, "kind": "classification", "shadow_dropped": 2,
}  # fmt: skip


def comparison(**changes: Any) -> dict[str, Any]:
    """PASSING with some fields changed; `champion` / `challenger` dicts are merged into theirs."""
    answer = copy.deepcopy(PASSING)
    for key, value in changes.items():
        if key in ("champion", "challenger"):
            answer[key].update(value)
        else:
            answer[key] = value
    return answer
