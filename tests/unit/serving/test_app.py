"""serving.app: the assembled app before a model is loaded, liveness, and its last word at shutdown."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serving.app import create_app
from serving.settings import Settings

MakeSettings = Callable[..., Settings]

ROWS = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]]


def test_not_ready_until_a_model_is_loaded(make_settings: MakeSettings) -> None:
    client = TestClient(create_app(make_settings(), watch=False))
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json() == {"status": "not ready", "reason": "loading the model"}
    # Both prediction routes answer through the one serve path: the same 503, before reading the model.
    for path, body in (("/predict", {"inputs": ROWS}), ("/invocations", {"inputs": ROWS})):
        answer = client.post(path, json=body)
        assert answer.status_code == 503, path
        assert answer.json() == ready.json(), path


def _count(text: str, endpoint: str, status: str) -> float:
    prefix = f'serving_requests_total{{endpoint="{endpoint}",status="{status}"}} '
    return sum(float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix))


def test_the_last_log_line_at_shutdown_counts_what_was_answered(
    serve_model: Callable[..., TestClient], row_sum_model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The totals a stopped server leaves behind (its /metrics is gone with it): per route and status."""
    client = serve_model(row_sum_model)
    before = _count(client.get("/metrics").text, "/predict", "200")  # the registry is per process
    with caplog.at_level("INFO", logger="serving"), client:
        for _ in range(3):
            assert client.post("/predict", json={"inputs": ROWS}).status_code == 200
    [line] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("serving stopped:")]
    stopped = json.loads(line.removeprefix("serving stopped:"))
    assert stopped["in_progress"] == 0
    assert stopped["requests"]["/predict"]["200"] == before + 3
