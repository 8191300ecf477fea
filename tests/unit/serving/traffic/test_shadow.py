"""serving.traffic.shadow: a full shadow queue drops copies and counts them, never the request."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from serving import metrics
from serving.app import create_app
from serving.model.slot import LoadedModel
from serving.settings import Settings

ROWS = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5], [9.0, 0.0, 0.0, 1.0]]


class Slow:
    """The row-sum model, taking 0.3 s per answer: a challenger slower than requests arrive."""

    def __init__(self, inner: Any) -> None:
        self.metadata, self.input_example = inner.metadata, inner.input_example

    def predict(self, data: Any, params: Any = None) -> Any:
        time.sleep(0.3)
        return np.asarray(data, dtype=np.float32).sum(1, keepdims=True)


def test_a_full_shadow_queue_drops_copies_and_counts_them_never_the_request(
    make_settings: Callable[..., Settings], row_sum_model: Any
) -> None:
    app = create_app(make_settings(shadow_queue_size=1), watch=False)
    app.state.slot.swap(LoadedModel("demo", "3", "champion", "run-3", row_sum_model, row_sum_model.input_example))
    app.state.challenger_slot.swap(LoadedModel("demo", "4", "challenger", "run-4", Slow(row_sum_model), None))
    client = TestClient(app)
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
