"""The alias watcher's decisions, with a fake registry and a fake clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from serving import metrics
from serving.model_store import AliasTarget
from serving.settings import Settings
from serving.slot import LoadedModel, ModelSlot
from serving.watcher import AliasWatcher


class FakeStore:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.alias_version: str | None = None
        self.unreachable = False
        self.broken: set[str] = set()
        self.loads: list[str] = []

    def resolve_alias(self, alias: str | None = None) -> AliasTarget:
        if self.unreachable or self.alias_version is None:
            raise ConnectionError("Connection refused")
        return AliasTarget(self.alias_version, f"run-{self.alias_version}", "models:/m")

    def load(self, target: AliasTarget) -> LoadedModel:
        self.loads.append(target.version)
        if target.version in self.broken:
            raise OSError(f"artifact of version {target.version} is corrupt")
        return LoadedModel("demo", target.version, "champion", target.run_id, self.model, self.model.input_example)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _watcher(tmp_path: Path, model: Any) -> tuple[AliasWatcher, FakeStore, ModelSlot, Clock]:
    store, slot, clock = FakeStore(model), ModelSlot(), Clock()
    settings = Settings("demo", "champion", "http://mlflow:5000", 1.0, tmp_path, 2.0, 8.0)
    return AliasWatcher(store, slot, settings, clock=clock), store, slot, clock  # type: ignore[arg-type]


def test_cold_start_with_mlflow_down_is_not_ready_with_the_reason(tmp_path: Path, row_sum_model: Any) -> None:
    watcher, store, slot, _ = _watcher(tmp_path, row_sum_model)
    store.unreachable = True
    watcher.poll_once()
    assert slot.current is None
    assert "cannot resolve demo@champion" in (slot.status.not_ready_reason or "")
    assert "Connection refused" in (slot.status.not_ready_reason or "")


def test_loads_then_swaps_when_the_alias_moves(tmp_path: Path, row_sum_model: Any) -> None:
    watcher, store, slot, _ = _watcher(tmp_path, row_sum_model)
    store.alias_version = "1"
    watcher.poll_once()
    assert slot.current is not None and slot.current.version == "1"
    swaps = metrics.SWAPS._value.get()
    watcher.poll_once()
    assert store.loads == ["1"]  # unchanged alias: nothing reloaded
    store.alias_version = "2"
    watcher.poll_once()
    assert slot.current.version == "2"
    assert metrics.SWAPS._value.get() == swaps + 1


def test_broken_version_keeps_the_old_model_and_retries_with_backoff(tmp_path: Path, row_sum_model: Any) -> None:
    watcher, store, slot, clock = _watcher(tmp_path, row_sum_model)
    store.alias_version = "1"
    watcher.poll_once()
    store.alias_version, store.broken = "2", {"2"}
    failures = metrics.SWAP_FAILURES._value.get()
    watcher.poll_once()
    assert slot.current is not None and slot.current.version == "1"
    assert slot.status.last_swap_error_version == "2"
    assert "corrupt" in (slot.status.last_swap_error or "")
    assert metrics.SWAP_FAILURES._value.get() == failures + 1
    clock.now = 1.0
    watcher.poll_once()
    assert store.loads == ["1", "2"]  # within the 2 s backoff: not retried
    clock.now = 2.5
    watcher.poll_once()
    assert store.loads == ["1", "2", "2"]  # retried, failed again: the backoff doubles to 4 s
    clock.now = 6.0
    watcher.poll_once()
    assert store.loads == ["1", "2", "2"]
    store.broken = set()
    clock.now = 7.0
    watcher.poll_once()
    assert slot.current.version == "2" and slot.status.last_swap_error is None


def test_failed_smoke_test_is_not_swapped_in(tmp_path: Path, row_sum_model: Any) -> None:
    watcher, store, slot, _ = _watcher(tmp_path, row_sum_model)
    store.alias_version = "1"
    watcher.poll_once()

    class Exploding:
        metadata = row_sum_model.metadata

        def predict(self, data: Any) -> Any:
            raise ValueError("shape mismatch")

    store.model = Exploding()
    store.model.input_example = row_sum_model.input_example  # type: ignore[attr-defined]
    store.alias_version = "2"
    watcher.poll_once()
    assert slot.current is not None and slot.current.version == "1"
    assert "shape mismatch" in (slot.status.last_swap_error or "")


def test_mlflow_unreachable_keeps_serving_the_last_good_model(tmp_path: Path, row_sum_model: Any) -> None:
    watcher, store, slot, _ = _watcher(tmp_path, row_sum_model)
    store.alias_version = "1"
    watcher.poll_once()
    store.unreachable = True
    watcher.poll_once()
    assert slot.current is not None and slot.current.version == "1"
    assert slot.status.not_ready_reason is None
