"""A column-signature model (scikit-learn, as the diabetes recipe logs it) behind the app, and the
refusal of a version whose signature /predict cannot type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serving.app import create_app
from serving.model_store import AliasTarget, UntypableSignature, smoke_test
from serving.request_schema import untypable_reason
from serving.settings import Settings
from serving.slot import LoadedModel, ModelSlot
from serving.watcher import AliasWatcher

pytest.importorskip("sklearn")

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, DataType, Schema, TensorSpec
from mlflow.types.schema import Array

COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def _settings(tmp_path: Path) -> Settings:
    return Settings("diabetes-regressor", "champion", "http://unused:5000", 1.0, tmp_path, 2.0, 8.0)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    return pd.DataFrame(load_diabetes().data[:3], columns=COLUMNS)


@pytest.fixture(scope="module")
def sklearn_model(tmp_path_factory: pytest.TempPathFactory, rows: pd.DataFrame) -> Any:
    """A real scikit-learn pyfunc with named double columns, saved and loaded as the diabetes recipe's."""
    import mlflow.pyfunc
    import mlflow.sklearn
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    x, y = load_diabetes(return_X_y=True)
    frame = pd.DataFrame(x, columns=COLUMNS)
    model = Ridge().fit(frame, y)
    path = tmp_path_factory.mktemp("model") / "ridge"
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(rows, model.predict(rows)),
        input_example=rows,
        serialization_format="skops",
        pip_requirements=["scikit-learn"],
    )
    return mlflow.pyfunc.load_model(str(path))


@pytest.fixture
def client(tmp_path: Path, sklearn_model: Any) -> TestClient:
    app = create_app(_settings(tmp_path), watch=False)
    app.state.slot.swap(
        LoadedModel("diabetes-regressor", "2", "champion", "run-2", sklearn_model, sklearn_model.input_example)
    )
    return TestClient(app)


def test_predict_takes_rows_keyed_by_column(client: TestClient, sklearn_model: Any, rows: pd.DataFrame) -> None:
    response = client.post("/predict", json={"inputs": rows.to_dict(orient="records")})

    assert response.status_code == 200, response.text
    assert response.headers["X-Model-Version"] == "2"
    expected = sklearn_model.predict(rows).tolist()
    assert response.json() == {"predictions": pytest.approx(expected), "model_version": "2"}
    signature = client.get("/model").json()["signature"]
    assert [column["name"] for column in signature["inputs"]] == COLUMNS


def test_concurrent_column_requests_keep_their_columns(client: TestClient, rows: pd.DataFrame) -> None:
    from concurrent.futures import ThreadPoolExecutor

    body = {"inputs": rows.to_dict(orient="records")}
    expected = client.post("/predict", json=body).json()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.post("/predict", json=body).json(), range(32)))
    assert all(answer == expected for answer in answers)


@pytest.mark.parametrize(
    ("row", "loc", "message"),
    [
        ({name: 0.0 for name in COLUMNS if name != "bmi"}, ["body", "inputs", 0, "bmi"], "field required"),
        ({**dict.fromkeys(COLUMNS, 0.0), "bp": "high"}, ["body", "inputs", 0, "bp"], "expected a number"),
        ({**dict.fromkeys(COLUMNS, 0.0), "sex": True}, ["body", "inputs", 0, "sex"], "expected a number"),
        ([0.0] * len(COLUMNS), ["body", "inputs", 0], "expected an object keyed by column name"),
    ],
)
def test_bad_column_rows_are_a_422_naming_the_field(client: TestClient, row: Any, loc: list, message: str) -> None:  # type: ignore[type-arg]
    response = client.post("/predict", json={"inputs": [row]})

    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == loc and message in detail["msg"]


def _invocations_bodies(rows: pd.DataFrame) -> dict[str, Any]:
    records = rows.to_dict(orient="records")
    return {
        "dataframe_split": {"dataframe_split": {"columns": COLUMNS, "data": rows.to_numpy().tolist()}},
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs": {"inputs": records},
    }


@pytest.mark.parametrize("form", ["dataframe_split", "dataframe_records", "instances", "inputs"])
def test_invocations_takes_each_mlflow_format_with_the_same_predictions(
    client: TestClient, sklearn_model: Any, rows: pd.DataFrame, form: str
) -> None:
    body = _invocations_bodies(rows)[form]
    response = client.post("/invocations", content=json.dumps(body), headers={"Content-Type": "application/json"})

    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": pytest.approx(sklearn_model.predict(rows).tolist())}
    assert response.headers["X-Model-Version"] == "2"
    predicted = client.post("/predict", json={"inputs": rows.to_dict(orient="records")}).json()["predictions"]
    assert response.json()["predictions"] == pytest.approx(predicted)


@pytest.fixture(scope="module")
def typed_columns_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A pyfunc whose columns are float32, int32, bool and string: /predict must hand it those dtypes."""
    import mlflow.pyfunc

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


def test_predict_types_each_column_as_the_signature_declares(tmp_path: Path, typed_columns_model: Any) -> None:
    app = create_app(_settings(tmp_path), watch=False)
    app.state.slot.swap(LoadedModel("typed", "1", "champion", "run-1", typed_columns_model, None))
    client = TestClient(app)

    response = client.post("/predict", json={"inputs": [{"x": 0.25, "n": 3, "flag": False, "word": "hi"}]})

    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == ["0.2 3 False hi"]
    bad = client.post("/predict", json={"inputs": [{"x": 0.25, "n": 3.5, "flag": False, "word": "hi"}]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "inputs", 0, "n"]


def _tensor(*shape: int, dtype: str = "float32") -> Schema:
    return Schema([TensorSpec(np.dtype(dtype), shape)])


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        (_tensor(-1, 64), None),
        (_tensor(-1, -1, dtype="int64"), None),
        (Schema([ColSpec(DataType.double, name) for name in COLUMNS]), None),
        (Schema([ColSpec(DataType.long, "n"), ColSpec(DataType.string, "s"), ColSpec(DataType.boolean, "b")]), None),
        (_tensor(-1, 8, 8), "a tensor of shape (-1, 8, 8)"),
        (_tensor(4, 64), "a tensor of shape (4, 64)"),
        (_tensor(-1, 2, dtype="str"), "a tensor of dtype <U0"),
        (Schema([TensorSpec(np.dtype("float32"), (-1, 2), "a"), TensorSpec(np.dtype("float32"), (-1, 2), "b")]),
         "2 tensor inputs"),
        (Schema([ColSpec(DataType.double), ColSpec(DataType.double)]), "unnamed columns"),
        (Schema([ColSpec(DataType.double, "x"), ColSpec(Array(DataType.string), "tags")]),
         "column 'tags' of type Array(string)"),
        (Schema([ColSpec(DataType.binary, "image")]), "column 'image' of type binary"),
    ],
)  # fmt: skip
def test_which_signatures_predict_can_type(inputs: Schema, reason: str | None) -> None:
    assert untypable_reason(ModelSignature(inputs=inputs)) == reason
    # Training refuses at registration what serving would refuse at swap: the two images each carry the
    # rule (neither ships the other's package), so this keeps the copies one rule.
    from training.recipes import untypable_reason as refused_at_registration

    assert refused_at_registration(ModelSignature(inputs=inputs)) == reason


def test_a_model_without_a_signature_is_still_served() -> None:
    assert untypable_reason(None) is None


@pytest.fixture(scope="module")
def untypable_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A pyfunc that predicts fine on its example but takes (-1, 8, 8) images: /predict cannot type it."""
    import mlflow.pyfunc

    class Images(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return np.asarray(model_input).reshape(len(model_input), -1).sum(axis=1)

    path = tmp_path_factory.mktemp("model") / "images"
    mlflow.pyfunc.save_model(
        str(path),
        python_model=Images(),
        signature=ModelSignature(inputs=_tensor(-1, 8, 8)),
        input_example=np.ones((1, 8, 8), dtype=np.float32),
    )
    return mlflow.pyfunc.load_model(str(path))


UNTYPABLE = (
    "UntypableSignature: its signature (a tensor of shape (-1, 8, 8)) cannot be typed by /predict: "
    "log the model with one 2-D tensor (-1, N) or named scalar columns (double, float, long, integer, boolean, string)"
)


def test_smoke_test_refuses_an_untypable_signature(untypable_model: Any) -> None:
    model = LoadedModel("m", "1", "champion", "run-1", untypable_model, untypable_model.input_example)
    with pytest.raises(UntypableSignature, match=r"a tensor of shape \(-1, 8, 8\)"):
        smoke_test(model)


class _Store:
    """The registry as the watcher sees it: version 1 is the sklearn model, version 2 the untypable one."""

    def __init__(self, models: dict[str, Any]) -> None:
        self.models = models
        self.alias_version = "1"

    def resolve_alias(self, alias: str | None = None) -> AliasTarget:
        return AliasTarget(self.alias_version, f"run-{self.alias_version}", "models:/m")

    def load(self, target: AliasTarget) -> LoadedModel:
        model = self.models[target.version]
        return LoadedModel("diabetes-regressor", target.version, "champion", target.run_id, model, model.input_example)


def test_an_untypable_version_is_not_swapped_in_and_says_why_in_one_line(
    tmp_path: Path, sklearn_model: Any, untypable_model: Any, rows: pd.DataFrame
) -> None:
    store, slot = _Store({"1": sklearn_model, "2": untypable_model}), ModelSlot()
    watcher = AliasWatcher(store, slot, _settings(tmp_path))  # type: ignore[arg-type]
    watcher.poll_once()
    assert slot.current is not None and slot.current.version == "1"

    store.alias_version = "2"
    watcher.poll_once()

    assert slot.current.version == "1"  # the old version keeps serving
    assert slot.status.last_swap_error == f"version 2 not swapped in: {UNTYPABLE}"
    assert slot.status.last_swap_error_version == "2"


def test_model_endpoint_shows_the_refusal(tmp_path: Path, sklearn_model: Any, untypable_model: Any) -> None:
    app = create_app(_settings(tmp_path), watch=False)
    slot: ModelSlot = app.state.slot
    store = _Store({"1": sklearn_model, "2": untypable_model})
    watcher = AliasWatcher(store, slot, _settings(tmp_path))  # type: ignore[arg-type]
    watcher.poll_once()
    store.alias_version = "2"
    watcher.poll_once()
    client = TestClient(app)

    info = client.get("/model").json()

    assert (info["version"], info["last_swap_error_version"]) == ("1", "2")
    assert info["last_swap_error"] == f"version 2 not swapped in: {UNTYPABLE}"
    assert client.post("/predict", json={"inputs": [dict.fromkeys(COLUMNS, 0.0)]}).json()["model_version"] == "1"
