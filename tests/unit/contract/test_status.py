"""contract.status: the /model and /comparison shapes and the challenger modes. serving is held to the
keys by the type checker and by tests/unit/serving/http/test_routes.py; here, what the shapes
promise a reader."""

from __future__ import annotations

import json
from typing import get_args

from contract.status import (
    MODES,
    ChallengerMode,
    ChallengerStatus,
    Comparison,
    ComparisonKind,
    ModelStatus,
    SideFigures,
)


def test_the_modes_are_the_literal_type() -> None:
    assert MODES == get_args(ChallengerMode) == ("shadow", "canary", "off")
    assert get_args(ComparisonKind) == ("classification", "regression")


def test_only_the_challengers_side_has_routing_keys() -> None:
    assert SideFigures.__optional_keys__ == {"routed", "state_reason"}
    assert {"alias", "version", "requests", "errors", "p50_ms", "p99_ms"} <= SideFigures.__required_keys__


def test_every_other_key_is_always_answered() -> None:
    for shape in (ModelStatus, ChallengerStatus, Comparison):
        assert shape.__optional_keys__ == set(), shape.__name__
    assert {
        "name",
        "alias",
        "version",
        "not_ready_reason",
        "last_swap_error",
        "challenger",
    } <= ModelStatus.__required_keys__
    assert {"model", "mode", "since", "champion", "challenger", "compared", "agreement"} <= Comparison.__required_keys__


def test_an_answer_in_the_shape_is_plain_json() -> None:
    side: SideFigures = {
        "alias": "champion", "version": "3", "run_id": "r3", "requests": 2, "errors": 0, "p50_ms": 1.0, "p99_ms": 2.0,
    }  # fmt: skip
    figures: Comparison = {
        "model": "demo", "mode": "shadow", "canary_share": 0.1, "since": "2026-12-07T10:00:00+00:00",
        "champion": side, "challenger": {**side, "alias": "challenger", "routed": False, "state_reason": None},
        "compared": 4, "agreed": 3, "agreement": 0.75, "kind": "regression", "shadow_dropped": 0, "shadow_queued": 0,
    }  # fmt: skip
    assert json.loads(json.dumps(figures)) == figures
