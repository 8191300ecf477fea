"""serving.http.serve: the one serve path of /predict and /invocations. Whatever the route, the answer is
counted for the version that gave it, a shadow copy follows a champion's answer that has predictions,
and a request refused as the client's fault is neither counted nor shadowed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from serving import metrics
from serving.model.slot import LoadedModel

ROWS = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]]


def _predictions(role: str, version: str, path: str) -> float:
    return float(metrics.PREDICTIONS.labels(role, version, path, "ok")._value.get())


@pytest.fixture
def client(serve_model: Callable[..., TestClient], row_sum_model: Any) -> TestClient:
    client = serve_model(row_sum_model)
    # The challenger: version 4, the same model (its answers agree with the champion's).
    app: Any = client.app
    app.state.challenger_slot.swap(LoadedModel("demo", "4", "challenger", "run-4", row_sum_model, None))
    return client


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", {"inputs": ROWS}),  # typed by /predict
        ("/invocations", {"inputs": ROWS}),  # the tensor fast path
        ("/invocations", {"dataframe_split": {"data": ROWS}}),  # MLflow's parser
    ],
)
def test_every_route_is_counted_for_the_version_that_answered_and_shadowed(
    client: TestClient, path: str, body: dict[str, Any]
) -> None:
    app: Any = client.app
    answered, shadowed = _predictions("champion", "3", "answered"), _predictions("challenger", "4", "shadow")

    response = client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})

    assert response.status_code == 200 and response.headers["X-Model-Version"] == "3"
    assert np.asarray(response.json()["predictions"]).tolist() == [[10.0], [2.0]]
    assert app.state.live.shadow.drain(10)
    assert _predictions("champion", "3", "answered") == answered + 1
    assert _predictions("challenger", "4", "shadow") == shadowed + 1
    figures = client.get("/comparison").json()
    assert (figures["champion"]["requests"], figures["challenger"]["requests"]) == (1, 1)
    assert (figures["compared"], figures["agreed"]) == (2, 2)


def test_a_request_the_client_got_wrong_is_neither_counted_nor_shadowed(client: TestClient) -> None:
    app: Any = client.app
    bad_predict = client.post("/predict", json={"inputs": [[1.0, 2.0]]})  # typed against the signature: 422
    bad_invocation = client.post("/invocations", json={"bogus": ROWS})  # MLflow's parser: 400, counted as answered

    assert bad_predict.status_code == 422 and 400 <= bad_invocation.status_code < 500
    assert app.state.live.shadow.drain(10)
    figures = client.get("/comparison").json()
    # The /invocations 4xx is an answer (MLflow's, with the version that gave it), but has no predictions
    # to compare; the /predict 422 never reached the model.
    assert (figures["champion"]["requests"], figures["champion"]["errors"]) == (1, 0)
    assert figures["challenger"]["requests"] == 0 and figures["compared"] == 0
