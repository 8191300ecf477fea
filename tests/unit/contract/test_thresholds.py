"""contract.thresholds: the promotion limits, one frozen value with `devtools promote`'s defaults."""

from __future__ import annotations

import dataclasses

import pytest
from contract.thresholds import Thresholds


def test_the_defaults_are_the_promote_commands() -> None:
    limits = Thresholds()
    assert (limits.min_requests, limits.min_agreement, limits.max_error_rate, limits.max_p99_ratio) == (
        200, 0.95, 0.01, 1.5,
    )  # fmt: skip


def test_limits_are_values_changed_only_by_copying() -> None:
    limits = Thresholds()
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.min_requests = 1  # type: ignore[misc]
    stricter = dataclasses.replace(limits, min_agreement=0.99)
    assert stricter.min_agreement == 0.99 and limits.min_agreement == 0.95
    assert Thresholds(10, 0.5, 0.1, 2.0) == Thresholds(
        min_requests=10, min_agreement=0.5, max_error_rate=0.1, max_p99_ratio=2.0
    )
