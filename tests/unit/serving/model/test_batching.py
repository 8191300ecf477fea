"""serving.model.batching: concurrent requests share forward passes, never across model versions."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from serving.model.batch_window import BatchWindow
from serving.model.batching import MicroBatcher


class CountingModel:
    """Doubles its input and records the batch sizes it was called with."""

    def __init__(self, slow_s: float = 0.0) -> None:
        self.calls: list[int] = []
        self.slow_s = slow_s
        self.gate = threading.Event()

    def predict(self, rows: Any) -> Any:
        self.calls.append(len(rows))
        if self.slow_s:
            self.gate.wait(self.slow_s)
        return rows * 2


def _concurrently(batcher: MicroBatcher, model: Any, inputs: list[np.ndarray]) -> list[np.ndarray]:
    results: list[Any] = [None] * len(inputs)

    def one(i: int) -> None:
        results[i] = batcher.predict(model, inputs[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


def test_each_request_gets_exactly_its_own_rows_back() -> None:
    batcher, model = MicroBatcher(BatchWindow(fixed_wait_s=0.02)), CountingModel(slow_s=0.05)
    inputs = [np.full((i + 1, 3), float(i)) for i in range(12)]
    results = _concurrently(batcher, model, inputs)
    for given, got in zip(inputs, results, strict=True):
        assert np.array_equal(got, given * 2)
    assert sum(model.calls) == sum(len(x) for x in inputs)
    assert len(model.calls) < len(inputs)  # concurrent requests shared forward passes


def test_batches_never_mix_model_versions() -> None:
    batcher = MicroBatcher(BatchWindow(fixed_wait_s=0.02))
    old, new = CountingModel(), CountingModel()
    results: dict[str, Any] = {}

    def run(name: str, model: CountingModel) -> None:
        results[name] = batcher.predict(model, np.ones((2, 2)))

    threads = [threading.Thread(target=run, args=(f"{n}{i}", m)) for i in range(5) for n, m in (("o", old), ("n", new))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sum(old.calls) == 10 and sum(new.calls) == 10
    assert all(np.array_equal(r, np.full((2, 2), 2.0)) for r in results.values())


def test_a_failing_forward_pass_fails_its_requests_and_the_batcher_goes_on() -> None:
    class Broken:
        def predict(self, rows: Any) -> Any:
            raise ValueError("bad batch")

    batcher = MicroBatcher()
    with pytest.raises(ValueError, match="bad batch"):
        batcher.predict(Broken(), np.ones((1, 2)))
    assert np.array_equal(batcher.predict(CountingModel(), np.ones((1, 2))), np.full((1, 2), 2.0))


def test_interleaved_models_still_share_forward_passes() -> None:
    """A canary interleaves two versions: what arrives together is one window, one pass per model."""
    batcher = MicroBatcher(BatchWindow(fixed_wait_s=0.05))
    champion, challenger = CountingModel(), CountingModel()
    results: dict[str, Any] = {}

    def run(name: str, model: CountingModel, value: float) -> None:
        results[name] = batcher.predict(model, np.full((1, 2), value))

    threads = [
        threading.Thread(target=run, args=(f"{i}", model, float(i)))
        for i, model in enumerate([champion, challenger] * 4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sum(champion.calls) == 4 and sum(challenger.calls) == 4
    assert len(champion.calls) + len(challenger.calls) < 8  # not one pass per request
    assert all(np.array_equal(results[str(i)], np.full((1, 2), 2.0 * i)) for i in range(8))


def test_the_adaptive_window_batches_a_burst_and_learns_the_pass_cost() -> None:
    """The default window: a burst behind a slow pass shares the next pass (the queue filled meanwhile),
    and each pass's cost is fed back to the window."""
    batcher, model = MicroBatcher(), CountingModel(slow_s=0.05)
    inputs = [np.full((2, 3), float(i)) for i in range(10)]
    results = _concurrently(batcher, model, inputs)
    for given, got in zip(inputs, results, strict=True):
        assert np.array_equal(got, given * 2)
    assert len(model.calls) < len(inputs)
    fixed, per_row = batcher.window.cost_line()
    assert fixed + per_row * 2 >= 0.04  # it measured the slow passes
