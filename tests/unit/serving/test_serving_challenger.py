"""The challenger on live traffic: shadow scoring, canary routing, the comparison, and the challenger's
alias followed (and let go) by its own watcher. Real pyfunc models, the real app through TestClient."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from serving import metrics
from serving.app import create_app
from serving.challenger import CanaryRouter, ComparisonLogger, ShapeMismatch, agreement, live_metrics
from serving.model_store import AliasNotSet, AliasTarget
from serving.settings import Settings, SettingsError
from serving.slot import LoadedModel, ModelSlot
from serving.watcher import AliasWatcher

ROWS = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5], [9.0, 0.0, 0.0, 1.0]]


class Variant:
    """The row-sum model's signature and example, with other answers: a challenger."""

    def __init__(self, inner: Any, answer: Callable[[Any], Any]) -> None:
        self.metadata = inner.metadata
        self.input_example = inner.input_example
        self._answer = answer

    def predict(self, data: Any, params: Any = None) -> Any:
        return self._answer(np.asarray(data, dtype=np.float32))


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return replace(Settings("demo", "champion", "http://unused:5000", 1.0, tmp_path, 1.0, 8.0), **overrides)


def _app(settings: Settings, champion: Any, challenger: Any | None) -> tuple[TestClient, Any]:
    app = create_app(settings, watch=False)
    app.state.slot.swap(LoadedModel("demo", "3", "champion", "run-3", champion, champion.input_example))
    if challenger is not None:
        app.state.challenger_slot.swap(LoadedModel("demo", "4", "challenger", "run-4", challenger, None))
    return TestClient(app, raise_server_exceptions=False), app


def _row_sums(rows: list[list[float]]) -> list[list[float]]:
    return np.asarray(rows, dtype=np.float32).sum(axis=1, keepdims=True).tolist()


def test_shadow_answers_with_the_champion_and_counts_agreement_per_row(tmp_path: Path, row_sum_model: Any) -> None:
    # Agrees on rows whose sum is at most 5 (the second: 2.0), not on the others (10 -> 20).
    challenger = Variant(row_sum_model, lambda x: np.where(x.sum(1, keepdims=True) > 5, 2, 1) * x.sum(1, keepdims=True))
    client, app = _app(_settings(tmp_path), row_sum_model, challenger)
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
    tmp_path: Path, row_sum_model: Any, broken: Callable[[Any], Any], why: str
) -> None:
    client, app = _app(_settings(tmp_path), row_sum_model, Variant(row_sum_model, broken))
    answers = [client.post("/predict", json={"inputs": ROWS}) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5, why
    assert all(a.json()["predictions"] == _row_sums(ROWS) for a in answers)
    assert app.state.live.shadow.drain(10)
    figures = client.get("/comparison").json()
    assert figures["challenger"]["requests"] == 5 and figures["challenger"]["errors"] == 5, why
    assert figures["compared"] == 0 and figures["agreement"] is None


def test_a_full_shadow_queue_drops_copies_and_counts_them_never_the_request(tmp_path: Path, row_sum_model: Any) -> None:
    def slow(x: Any) -> Any:
        time.sleep(0.3)
        return x.sum(1, keepdims=True)

    client, app = _app(_settings(tmp_path, shadow_queue_size=1), row_sum_model, Variant(row_sum_model, slow))
    dropped_before = metrics.SHADOW_DROPPED._value.get()
    started = time.monotonic()
    answers = [client.post("/predict", json={"inputs": ROWS}) for _ in range(10)]
    assert time.monotonic() - started < 2.5  # ten requests never waited for ten 0.3 s shadow scores
    assert all(a.status_code == 200 for a in answers)
    assert app.state.live.shadow.drain(10)
    figures = client.get("/comparison").json()
    assert figures["shadow_dropped"] >= 1 and figures["shadow_queued"] == 0
    assert figures["challenger"]["requests"] + figures["shadow_dropped"] == 10
    assert metrics.SHADOW_DROPPED._value.get() - dropped_before == figures["shadow_dropped"]


def test_no_challenger_serves_the_champion_alone_and_says_why(tmp_path: Path, row_sum_model: Any) -> None:
    client, _ = _app(_settings(tmp_path), row_sum_model, None)
    assert client.post("/predict", json={"inputs": ROWS}).headers["X-Model-Version"] == "3"
    challenger = client.get("/model").json()["challenger"]
    assert challenger["version"] is None and challenger["state_reason"] == "not resolved @challenger yet"
    off, _ = _app(_settings(tmp_path, challenger_mode="off"), row_sum_model, None)
    assert off.get("/model").json()["challenger"] is None
    assert off.get("/comparison").json()["challenger"]["state_reason"].startswith("no challenger followed")


def test_canary_share_is_kept_and_a_key_is_sticky(tmp_path: Path) -> None:
    router = CanaryRouter(_settings(tmp_path, challenger_mode="canary", canary_share=0.1))
    challenger = LoadedModel("demo", "4", "challenger", "run-4", None, None)
    picked = sum(router.picks_challenger({}, challenger) for _ in range(20_000))
    assert abs(picked / 20_000 - 0.1) < 0.01
    by_key = {key: router.picks_challenger({"X-Canary-Key": key}, challenger) for key in map(str, range(5000))}
    assert all(router.picks_challenger({"X-Canary-Key": k}, challenger) == v for k, v in list(by_key.items())[:500])
    assert abs(sum(by_key.values()) / 5000 - 0.1) < 0.02
    assert not router.picks_challenger({}, None)
    shadow = CanaryRouter(_settings(tmp_path, challenger_mode="shadow", canary_share=1.0))
    assert not shadow.picks_challenger({}, challenger)


def test_canary_errors_are_the_clients_and_a_run_of_them_drops_the_challenger(
    tmp_path: Path, row_sum_model: Any
) -> None:
    broken = Variant(row_sum_model, lambda x: (_ for _ in ()).throw(RuntimeError("challenger bug")))
    settings = _settings(tmp_path, challenger_mode="canary", canary_share=1.0, challenger_max_failures=3)
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


def test_canary_answers_name_the_version_that_answered(tmp_path: Path, row_sum_model: Any) -> None:
    doubled = Variant(row_sum_model, lambda x: 2 * x.sum(1, keepdims=True))
    settings = _settings(tmp_path, challenger_mode="canary", canary_share=0.5)
    client, _ = _app(settings, row_sum_model, doubled)
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


def test_agreement_by_kind() -> None:
    scores = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert agreement(scores, np.array([[0.3, 0.7], [0.1, 0.9]]), 0.05) == ("classification", 1, 2)
    assert agreement(np.array([100.0, 1.0]), np.array([104.0, 1.2]), 0.05) == ("regression", 1, 2)
    assert agreement(np.array(["a", "b"]), np.array(["a", "a"]), 0.05) == ("classification", 1, 2)
    with pytest.raises(ShapeMismatch):
        agreement(scores, np.array([1.0, 2.0]), 0.05)


def test_the_comparison_starts_over_when_either_alias_moves(tmp_path: Path, row_sum_model: Any) -> None:
    client, app = _app(_settings(tmp_path), row_sum_model, Variant(row_sum_model, lambda x: x.sum(1, keepdims=True)))
    client.post("/predict", json={"inputs": ROWS})
    assert app.state.live.shadow.drain(10)
    assert client.get("/comparison").json()["compared"] == 3
    app.state.challenger_slot.swap(LoadedModel("demo", "5", "challenger", "run-5", row_sum_model, None))
    figures = client.get("/comparison").json()
    assert figures["challenger"]["version"] == "5" and figures["compared"] == 0
    assert figures["champion"]["requests"] == 0


class Registry:
    """resolve_alias/load as ModelStore answers them, per alias."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.aliases: dict[str, str] = {}
        self.loads: list[str] = []

    def resolve_alias(self, alias: str | None = None) -> AliasTarget:
        if alias not in self.aliases:
            raise AliasNotSet(f"no version of demo holds @{alias}")
        return AliasTarget(self.aliases[alias], f"run-{self.aliases[alias]}", "models:/demo", alias)

    def load(self, target: AliasTarget) -> LoadedModel:
        self.loads.append(target.version)
        return LoadedModel("demo", target.version, target.alias, target.run_id, self.model, self.model.input_example)


def test_the_challengers_alias_is_followed_let_go_and_reused_on_promotion(tmp_path: Path, row_sum_model: Any) -> None:
    registry, settings = Registry(row_sum_model), _settings(tmp_path)
    champion_slot, challenger_slot = ModelSlot(), ModelSlot()
    champion = AliasWatcher(registry, champion_slot, settings, peer=challenger_slot)  # type: ignore[arg-type]
    challenger = AliasWatcher(  # type: ignore[arg-type]
        registry, challenger_slot, settings, alias="challenger", optional=True, peer=champion_slot
    )
    registry.aliases = {"champion": "3", "challenger": "4"}
    champion.poll_once()
    challenger.poll_once()
    assert champion_slot.current and champion_slot.current.version == "3"
    assert challenger_slot.current and challenger_slot.current.alias == "challenger"
    assert registry.loads == ["3", "4"]
    registry.aliases = {"champion": "4"}  # what `devtools promote` does
    challenger.poll_once()
    champion.poll_once()
    assert challenger_slot.current is None
    assert challenger_slot.status.not_ready_reason == "no version of demo holds @challenger"
    assert champion_slot.current.version == "4" and champion_slot.current.alias == "champion"
    registry.aliases = {"champion": "4"}
    champion.poll_once()
    assert registry.loads == ["3", "4"]  # version 4 was already loaded as the challenger: not loaded again


def test_a_missing_champion_alias_keeps_the_champion(tmp_path: Path, row_sum_model: Any) -> None:
    registry, slot = Registry(row_sum_model), ModelSlot()
    watcher = AliasWatcher(registry, slot, _settings(tmp_path))  # type: ignore[arg-type]
    registry.aliases = {"champion": "3"}
    watcher.poll_once()
    registry.aliases = {}
    watcher.poll_once()
    assert slot.current is not None and slot.current.version == "3"


def test_the_comparison_is_logged_on_the_challengers_run(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    # The client, not mlflow's fluent API: that keeps an active experiment across tests.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("live"))
    client.log_metric(run.info.run_id, "val_accuracy", 0.9)
    figures: dict[str, Any] = {
        "champion": {"p99_ms": 2.0},
        "challenger": {"run_id": run.info.run_id, "requests": 50, "errors": 1, "p99_ms": 3.0},
        "agreement": 0.96,
        "compared": 50,
        "shadow_dropped": 0,
    }
    logger = ComparisonLogger(_settings(tmp_path, tracking_uri=uri), lambda: figures)
    assert logger.log_once() is True
    assert logger.log_once() is False  # nothing new: not logged again
    logged = client.get_run(run.info.run_id).data.metrics
    assert logged["live_agreement"] == 0.96 and logged["live_error_rate"] == 0.02
    assert logged["live_requests"] == 50 and logged["live_champion_p99_ms"] == 2.0
    assert logged["val_accuracy"] == 0.9
    assert live_metrics({**figures, "agreement": None, "compared": 0}).keys().isdisjoint({"live_agreement"})


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("MODEL_CHALLENGER_MODE", "mirror", "expected one of shadow, canary, off"),
        ("MODEL_CANARY_SHARE", "10", "a fraction between 0 and 1"),
        ("MODEL_CANARY_SHARE", "ten", "a fraction between 0 and 1"),
        ("MODEL_SHADOW_MAX_BUSY", "-1", "MODEL_SHADOW_MAX_BUSY='-1': expected a fraction between 0 and 1"),
    ],
)
def test_bad_challenger_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=says):
        Settings.from_env()
