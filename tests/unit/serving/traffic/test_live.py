"""serving.traffic.live: the challenger on live traffic through the real app (TestClient, real pyfunc
models): shadow answers and agreement, a broken challenger never costing a client its answer, canary
answers naming their version, a failing canary dropped from routing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from serving.app import create_app
from serving.model.slot import LoadedModel
from serving.settings import Settings

ROWS = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5], [9.0, 0.0, 0.0, 1.0]]


class Variant:
    """The row-sum model's signature and example, with other answers: a challenger."""

    def __init__(self, inner: Any, answer: Callable[[Any], Any]) -> None:
        self.metadata = inner.metadata
        self.input_example = inner.input_example
        self._answer = answer

    def predict(self, data: Any, params: Any = None) -> Any:
        return self._answer(np.asarray(data, dtype=np.float32))


def _app(settings: Settings, champion: Any, challenger: Any | None) -> tuple[TestClient, Any]:
    app = create_app(settings, watch=False)
    app.state.slot.swap(LoadedModel("demo", "3", "champion", "run-3", champion, champion.input_example))
    if challenger is not None:
        app.state.challenger_slot.swap(LoadedModel("demo", "4", "challenger", "run-4", challenger, None))
    return TestClient(app, raise_server_exceptions=False), app


def _row_sums(rows: list[list[float]]) -> list[list[float]]:
    return np.asarray(rows, dtype=np.float32).sum(axis=1, keepdims=True).tolist()


def test_shadow_answers_with_the_champion_and_counts_agreement_per_row(
    make_settings: Callable[..., Settings], row_sum_model: Any
) -> None:
    # Agrees on rows whose sum is at most 5 (the second: 2.0), not on the others (10 -> 20).
    challenger = Variant(row_sum_model, lambda x: np.where(x.sum(1, keepdims=True) > 5, 2, 1) * x.sum(1, keepdims=True))
    client, app = _app(make_settings(), row_sum_model, challenger)
    for _ in range(4):
        answer = client.post("/predict", json={"inputs": ROWS})
        assert answer.status_code == 200 and answer.headers["X-Model-Version"] == "3"
        assert answer.json()["predictions"] == _row_sums(ROWS)
    invoked = client.post("/invocations", json={"instances": ROWS})  # the tensor fast path
    split = client.post("/invocations", json={"dataframe_split": {"data": ROWS}})  # MLflow's parser
    assert invoked.status_code == split.status_code == 200
    assert app.state.live.shadow.drain(10)
    figures = client.get("/comparison").json()
    assert figures["mode"] == "shadow" and figures["kind"] == "regression"
    assert figures["compared"] == 6 * len(ROWS) and figures["agreed"] == 6
    assert figures["agreement"] == pytest.approx(1 / 3, abs=1e-6)
    assert figures["champion"]["version"] == "3" and figures["champion"]["requests"] == 6
    assert figures["challenger"]["version"] == "4" and figures["challenger"]["requests"] == 6
    assert figures["challenger"]["errors"] == 0 and figures["challenger"]["p99_ms"] is not None
    assert figures["shadow_dropped"] == 0 and figures["challenger"]["routed"] is False


@pytest.mark.parametrize(
    ("broken", "why"),
    [
        (lambda x: (_ for _ in ()).throw(RuntimeError("challenger bug")), "throws"),
        (lambda x: np.zeros((len(x), 3), dtype=np.float32), "answers another shape"),
    ],
)
def test_a_broken_challenger_never_changes_a_clients_answer_in_shadow_mode(
    make_settings: Callable[..., Settings], row_sum_model: Any, broken: Callable[[Any], Any], why: str
) -> None:
    client, app = _app(make_settings(), row_sum_model, Variant(row_sum_model, broken))
    answers = [client.post("/predict", json={"inputs": ROWS}) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5, why
    assert all(a.json()["predictions"] == _row_sums(ROWS) for a in answers)
    assert app.state.live.shadow.drain(10)
    figures = client.get("/comparison").json()
    assert figures["challenger"]["requests"] == 5 and figures["challenger"]["errors"] == 5, why
    assert figures["compared"] == 0 and figures["agreement"] is None


def test_no_challenger_serves_the_champion_alone_and_says_why(
    make_settings: Callable[..., Settings], row_sum_model: Any
) -> None:
    client, _ = _app(make_settings(), row_sum_model, None)
    assert client.post("/predict", json={"inputs": ROWS}).headers["X-Model-Version"] == "3"
    challenger = client.get("/model").json()["challenger"]
    assert challenger["version"] is None and challenger["state_reason"] == "not resolved @challenger yet"
    off, _ = _app(make_settings(challenger_mode="off"), row_sum_model, None)
    assert off.get("/model").json()["challenger"] is None
    assert off.get("/comparison").json()["challenger"]["state_reason"].startswith("no challenger followed")


def test_canary_errors_are_the_clients_and_a_run_of_them_drops_the_challenger(
    make_settings: Callable[..., Settings], row_sum_model: Any
) -> None:
    broken = Variant(row_sum_model, lambda x: (_ for _ in ()).throw(RuntimeError("challenger bug")))
    settings = make_settings(challenger_mode="canary", canary_share=1.0, challenger_max_failures=3)
    client, _ = _app(settings, row_sum_model, broken)
    assert client.get("/model").json()["challenger"]["routed"] is True
    failed = [client.post("/predict", json={"inputs": ROWS}).status_code for _ in range(3)]
    assert failed == [500, 500, 500]
    after = client.post("/predict", json={"inputs": ROWS})
    assert after.status_code == 200 and after.headers["X-Model-Version"] == "3"
    status = client.get("/model").json()["challenger"]
    assert status["routed"] is False and "dropped from canary routing after 3 failures" in status["state_reason"]
    figures = client.get("/comparison").json()
    assert figures["challenger"]["errors"] == 3 and figures["champion"]["requests"] == 1


def test_canary_answers_name_the_version_that_answered(
    make_settings: Callable[..., Settings], row_sum_model: Any
) -> None:
    doubled = Variant(row_sum_model, lambda x: 2 * x.sum(1, keepdims=True))
    client, _ = _app(make_settings(challenger_mode="canary", canary_share=0.5), row_sum_model, doubled)
    seen = {}
    for key in map(str, range(40)):
        answer = client.post("/predict", json={"inputs": ROWS}, headers={"X-Canary-Key": key})
        version = answer.headers["X-Model-Version"]
        expected = _row_sums(ROWS) if version == "3" else (2 * np.asarray(_row_sums(ROWS))).tolist()
        assert answer.json()["predictions"] == expected and answer.json()["model_version"] == version
        seen[key] = version
    assert set(seen.values()) == {"3", "4"}
    again = client.post("/invocations", json={"inputs": ROWS}, headers={"X-Canary-Key": "7"})
    assert again.headers["X-Model-Version"] == seen["7"]


def test_the_comparison_starts_over_when_either_alias_moves(
    make_settings: Callable[..., Settings], row_sum_model: Any
) -> None:
    same = Variant(row_sum_model, lambda x: x.sum(1, keepdims=True))
    client, app = _app(make_settings(), row_sum_model, same)
    client.post("/predict", json={"inputs": ROWS})
    assert app.state.live.shadow.drain(10)
    assert client.get("/comparison").json()["compared"] == 3
    app.state.challenger_slot.swap(LoadedModel("demo", "5", "challenger", "run-5", row_sum_model, None))
    figures = client.get("/comparison").json()
    assert figures["challenger"]["version"] == "5" and figures["compared"] == 0
    assert figures["champion"]["requests"] == 0
