"""serving.traffic.comparison: how two answers agree, and the figures of one pair of versions."""

from __future__ import annotations

import numpy as np
import pytest
from serving.model.slot import LoadedModel
from serving.traffic.comparison import LiveComparison, ShapeMismatch, agreement


def test_agreement_by_kind() -> None:
    scores = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert agreement(scores, np.array([[0.3, 0.7], [0.1, 0.9]]), 0.05) == ("classification", 1, 2)
    assert agreement(np.array([100.0, 1.0]), np.array([104.0, 1.2]), 0.05) == ("regression", 1, 2)
    assert agreement(np.array(["a", "b"]), np.array(["a", "a"]), 0.05) == ("classification", 1, 2)
    with pytest.raises(ShapeMismatch):
        agreement(scores, np.array([1.0, 2.0]), 0.05)


def test_a_new_pair_of_versions_starts_the_figures_over() -> None:
    clock = iter([1000.0, 2000.0])
    comparison = LiveComparison(clock=lambda: next(clock))
    three, four, five = (LoadedModel("demo", v, "a", f"run-{v}", None, None) for v in ("3", "4", "5"))
    comparison.answered(three, four, "champion", 0.002, True)
    comparison.shadowed(three, four, 0.004, ("regression", 1, 2))
    comparison.dropped_one(three, four)

    first = comparison.snapshot(three, four)
    assert (first.champion["requests"], first.challenger["requests"], first.compared, first.agreed) == (1, 1, 2, 1)
    assert (first.agreement, first.kind, first.dropped) == (0.5, "regression", 1)
    assert first.champion["p99_ms"] == 2.0 and first.challenger["run_id"] == "run-4"
    assert first.since == "1970-01-01T00:16:40+00:00"

    moved = comparison.snapshot(three, five)
    assert (moved.challenger["version"], moved.challenger["requests"], moved.compared, moved.agreement) == (
        "5", 0, 0, None,
    )  # fmt: skip
    assert moved.since == "1970-01-01T00:33:20+00:00" and moved.champion["p50_ms"] is None
