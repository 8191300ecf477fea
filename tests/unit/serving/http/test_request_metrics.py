"""serving.http.request_metrics: every request counted and timed per route template, never per raw path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

ROWS = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]]


@pytest.fixture
def client(serve_model: Callable[..., TestClient], row_sum_model: Any) -> TestClient:
    return serve_model(row_sum_model)


def _count(text: str, endpoint: str, status: str) -> float:
    prefix = f'serving_requests_total{{endpoint="{endpoint}",status="{status}"}} '
    return sum(float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix))


def test_metrics_count_requests_and_show_the_version(client: TestClient) -> None:
    client.post("/predict", json={"inputs": ROWS})
    text = client.get("/metrics").text
    assert 'serving_requests_total{endpoint="/predict",status="200"}' in text
    assert "serving_request_seconds_bucket" in text


def test_metric_labels_are_route_templates_not_raw_paths(client: TestClient) -> None:
    """Any URL a client sends must not create a time series: unknown paths share one label."""
    before = client.get("/metrics").text
    for path in ("/nope", "/nope/1", "/predict/../../etc/passwd", "/a?b=c"):
        assert client.get(path).status_code == 404
    text = client.get("/metrics").text
    assert _count(text, "unmatched", "404") - _count(before, "unmatched", "404") == 4
    assert "/nope" not in text and "passwd" not in text
    client.post("/predict", json={"inputs": ROWS})
    assert _count(client.get("/metrics").text, "/predict", "200") >= 1
