"""/invocations (serving.http.invocations): MLflow's scoring protocol in each of its forms, the tensor
fast path and MLflow's own parser giving the same answers, malformed bodies as 4xx."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

ROWS = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]]


@pytest.fixture
def client(serve_model: Callable[..., TestClient], row_sum_model: Any) -> TestClient:
    return serve_model(row_sum_model)


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


@pytest.mark.parametrize("form", ["dataframe_split", "dataframe_records", "instances", "inputs"])
def test_invocations_takes_each_mlflow_format_of_column_rows_with_the_same_predictions(
    serve_model: Callable[..., TestClient], sklearn_model: Any, diabetes_rows: Any, form: str
) -> None:
    client = serve_model(sklearn_model)
    records = diabetes_rows.to_dict(orient="records")
    body = {
        "dataframe_split": {
            "dataframe_split": {"columns": list(diabetes_rows), "data": diabetes_rows.to_numpy().tolist()}
        },
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs": {"inputs": records},
    }[form]
    response = client.post("/invocations", content=json.dumps(body), headers={"Content-Type": "application/json"})

    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": pytest.approx(sklearn_model.predict(diabetes_rows).tolist())}
    assert response.headers["X-Model-Version"] == "3"
    predicted = client.post("/predict", json={"inputs": records}).json()["predictions"]
    assert response.json()["predictions"] == pytest.approx(predicted)
