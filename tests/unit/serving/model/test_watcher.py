"""serving.model.watcher: the alias watcher's decisions, with a fake registry and a fake clock: swaps,
refusals, backoff, and the challenger's alias followed, let go and reused on promotion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from serving import metrics
from serving.model.slot import LoadedModel, ModelSlot
from serving.model.store import AliasNotSet, AliasTarget
from serving.model.watcher import AliasWatcher
from serving.settings import Settings


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


def test_an_untypable_version_is_not_swapped_in_and_says_why_in_one_line(
    tmp_path: Path, row_sum_model: Any, untypable_model: Any, untypable_refusal: str
) -> None:
    watcher, store, slot, _ = _watcher(tmp_path, row_sum_model)
    store.alias_version = "1"
    watcher.poll_once()

    store.model, store.alias_version = untypable_model, "2"
    watcher.poll_once()

    assert slot.current is not None and slot.current.version == "1"  # the old version keeps serving
    assert slot.status.last_swap_error == f"version 2 not swapped in: {untypable_refusal}"
    assert slot.status.last_swap_error_version == "2"


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


def _settings(tmp_path: Path) -> Settings:
    return Settings("demo", "champion", "http://unused:5000", 1.0, tmp_path, 1.0, 8.0)


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
