"""/predict (serving.http.predict): rows typed by the served version's signature, a tensor's or named
columns'; bad input is a 422 naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serving.app import create_app
from serving.model.slot import LoadedModel
from serving.settings import Settings

ROWS = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]]


@pytest.fixture
def client(serve_model: Callable[..., TestClient], row_sum_model: Any) -> TestClient:
    return serve_model(row_sum_model)


@pytest.fixture
def column_client(serve_model: Callable[..., TestClient], sklearn_model: Any) -> TestClient:
    return serve_model(sklearn_model)


def test_predict_matches_the_pyfunc_and_names_the_version(client: TestClient, row_sum_model: Any) -> None:
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


def test_predict_takes_rows_keyed_by_column(column_client: TestClient, sklearn_model: Any, diabetes_rows: Any) -> None:
    response = column_client.post("/predict", json={"inputs": diabetes_rows.to_dict(orient="records")})

    assert response.status_code == 200, response.text
    assert response.headers["X-Model-Version"] == "3"
    expected = sklearn_model.predict(diabetes_rows).tolist()
    assert response.json() == {"predictions": pytest.approx(expected), "model_version": "3"}


def test_concurrent_column_requests_keep_their_columns(column_client: TestClient, diabetes_rows: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    body = {"inputs": diabetes_rows.to_dict(orient="records")}
    expected = column_client.post("/predict", json=body).json()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: column_client.post("/predict", json=body).json(), range(32)))
    assert all(answer == expected for answer in answers)


COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


@pytest.mark.parametrize(
    ("row", "loc", "message"),
    [
        ({name: 0.0 for name in COLUMNS if name != "bmi"}, ["body", "inputs", 0, "bmi"], "field required"),
        ({**dict.fromkeys(COLUMNS, 0.0), "bp": "high"}, ["body", "inputs", 0, "bp"], "expected a number"),
        ({**dict.fromkeys(COLUMNS, 0.0), "sex": True}, ["body", "inputs", 0, "sex"], "expected a number"),
        ([0.0] * len(COLUMNS), ["body", "inputs", 0], "expected an object keyed by column name"),
    ],
)
def test_bad_column_rows_are_a_422_naming_the_field(
    column_client: TestClient,
    row: Any,
    loc: list,
    message: str,  # type: ignore[type-arg]
) -> None:
    response = column_client.post("/predict", json={"inputs": [row]})

    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == loc and message in detail["msg"]


@pytest.fixture(scope="module")
def typed_columns_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A pyfunc whose columns are float32, int32, bool and string: /predict must hand it those dtypes."""
    import mlflow.pyfunc
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema

    class Describe(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return [f"{row.x:.1f} {row.n} {row.flag} {row.word}" for row in model_input.itertuples()]

    schema = Schema(
        [
            ColSpec(DataType.float, "x"),
            ColSpec(DataType.integer, "n"),
            ColSpec(DataType.boolean, "flag"),
            ColSpec(DataType.string, "word"),
        ]
    )
    path = tmp_path_factory.mktemp("model") / "typed"
    example = pd.DataFrame({"x": [1.5], "n": [2], "flag": [True], "word": ["a"]}).astype({"x": "float32", "n": "int32"})
    mlflow.pyfunc.save_model(
        str(path), python_model=Describe(), signature=ModelSignature(inputs=schema), input_example=example
    )
    return mlflow.pyfunc.load_model(str(path))


def test_predict_types_each_column_as_the_signature_declares(
    make_settings: Callable[..., Settings], typed_columns_model: Any
) -> None:
    app = create_app(make_settings(), watch=False)
    app.state.slot.swap(LoadedModel("typed", "1", "champion", "run-1", typed_columns_model, None))
    client = TestClient(app)

    response = client.post("/predict", json={"inputs": [{"x": 0.25, "n": 3, "flag": False, "word": "hi"}]})

    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == ["0.2 3 False hi"]
    bad = client.post("/predict", json={"inputs": [{"x": 0.25, "n": 3.5, "flag": False, "word": "hi"}]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "inputs", 0, "n"]


def test_the_column_dtypes_cover_exactly_the_contracts_column_types() -> None:
    from contract.signature import COLUMN_TYPES
    from serving.http.predict import COLUMN_DTYPES

    assert tuple(COLUMN_DTYPES) == COLUMN_TYPES
