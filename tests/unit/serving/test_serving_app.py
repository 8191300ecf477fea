from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving.app import create_app
from serving.settings import Settings
from serving.slot import LoadedModel

ROWS = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]]


def _settings(tmp_path: Path) -> Settings:
    return Settings("demo", "champion", "http://unused:5000", 1.0, tmp_path, 1.0, 8.0)


@pytest.fixture
def client(tmp_path: Path, row_sum_model) -> TestClient:  # type: ignore[no-untyped-def]
    app = create_app(_settings(tmp_path), watch=False)
    app.state.slot.swap(LoadedModel("demo", "3", "champion", "run-3", row_sum_model, row_sum_model.input_example))
    return TestClient(app)


def test_not_ready_until_a_model_is_loaded(tmp_path: Path) -> None:
    client = TestClient(create_app(_settings(tmp_path), watch=False))
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json()["reason"] == "loading the model"
    assert client.post("/predict", json={"inputs": ROWS}).status_code == 503


def test_ready_and_model_info(client: TestClient) -> None:
    assert client.get("/ready").json() == {"status": "ready", "model": "demo", "version": "3"}
    info = client.get("/model").json()
    assert info["version"] == "3" and info["run_id"] == "run-3" and info["alias"] == "champion"
    assert info["loaded_at"] and info["last_swap_error"] is None
    assert info["signature"]["inputs"]


def test_predict_matches_the_pyfunc_and_names_the_version(client: TestClient, row_sum_model) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    response = client.post("/predict", json={"inputs": ROWS})
    assert response.status_code == 200
    assert response.headers["X-Model-Version"] == "3"
    expected = row_sum_model.predict(np.asarray(ROWS, dtype=np.float32)).tolist()
    assert response.json() == {"predictions": expected, "model_version": "3"}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"inputs": [[1.0, 2.0]]}, ["body", "inputs", 0]),
        ({"inputs": [[1, 2, 3, 4], [1, 2, 3]]}, ["body", "inputs", 1]),
        ({"inputs": []}, ["body", "inputs"]),
        ({"rows": ROWS}, ["body", "inputs"]),
        ({"inputs": [["a", "b", "c", "d"]]}, ["body", "inputs"]),
    ],
)
def test_bad_predict_input_is_a_422_naming_the_field(client: TestClient, body: dict, loc: list) -> None:  # type: ignore[type-arg]
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][: len(loc)] == loc


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": ROWS},
        {"instances": ROWS},
        {"dataframe_split": {"columns": [0, 1, 2, 3], "data": ROWS}},
        {"dataframe_records": [dict(enumerate(row)) for row in ROWS]},
    ],
)
def test_invocations_accepts_each_mlflow_scoring_format(client: TestClient, body: dict) -> None:  # type: ignore[type-arg]
    response = client.post("/invocations", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [[10.0], [2.0]]}
    assert response.headers["X-Model-Version"] == "3"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ("{not json", "application/json"),
        (json.dumps({"bogus": ROWS}), "application/json"),
        (json.dumps({"inputs": [[1.0, 2.0]]}), "application/json"),
        (json.dumps({"inputs": [[1.0, 2.0, 3.0, 4.0], [1.0]]}), "application/json"),
        ("a,b\n1,2\n", "text/plain"),
    ],
)
def test_malformed_invocations_are_4xx_with_a_message(client: TestClient, content: str, content_type: str) -> None:
    response = client.post("/invocations", content=content, headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500
    assert response.text


def test_metrics_count_requests_and_show_the_version(client: TestClient) -> None:
    client.post("/predict", json={"inputs": ROWS})
    text = client.get("/metrics").text
    assert 'serving_requests_total{endpoint="/predict",status="200"}' in text
    assert "serving_request_seconds_bucket" in text


def _count(text: str, endpoint: str, status: str) -> float:
    prefix = f'serving_requests_total{{endpoint="{endpoint}",status="{status}"}} '
    return sum(float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix))


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


def test_the_last_log_line_at_shutdown_counts_what_was_answered(
    tmp_path: Path, row_sum_model, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """The totals a stopped server leaves behind (its /metrics is gone with it): per route and status."""
    app = create_app(_settings(tmp_path), watch=False)
    app.state.slot.swap(LoadedModel("demo", "3", "champion", "run-3", row_sum_model, row_sum_model.input_example))
    before = _count(TestClient(app).get("/metrics").text, "/predict", "200")  # the registry is per process
    with caplog.at_level("INFO", logger="serving"), TestClient(app) as client:
        for _ in range(3):
            assert client.post("/predict", json={"inputs": ROWS}).status_code == 200
    [line] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("serving stopped:")]
    stopped = json.loads(line.removeprefix("serving stopped:"))
    assert stopped["in_progress"] == 0
    assert stopped["requests"]["/predict"]["200"] == before + 3
