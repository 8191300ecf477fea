"""Serving unit tier: the app, the alias watcher and the live traffic with real (tiny) MLflow pyfunc models;
the run's one MLflow server (shared with the training tests) where a test logs to MLflow. services/ is on
sys.path (pyproject's pytest pythonpath), as /app is in the container."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow", reason="serving tests need mlflow (pip install -e '.[test]')")
pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

from fastapi.testclient import TestClient
from serving.app import create_app
from serving.model.slot import LoadedModel
from serving.settings import Settings

from testing.training_helpers import mlflow_server

__all__ = ["mlflow_server"]  # a fixture, used by name


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for model `demo`@champion with the cache in tmp; keyword arguments override fields."""

    def make(**overrides: Any) -> Settings:
        return replace(Settings("demo", "champion", "http://unused:5000", 1.0, tmp_path, 1.0, 8.0), **overrides)

    return make


@pytest.fixture
def serve_model(make_settings: Callable[..., Settings]) -> Callable[..., TestClient]:
    """A TestClient for an app (not watching the registry) whose champion slot holds `pyfunc` as version 3."""

    def serve(pyfunc: Any, **overrides: Any) -> TestClient:
        app = create_app(make_settings(**overrides), watch=False)
        app.state.slot.swap(LoadedModel("demo", "3", "champion", "run-3", pyfunc, pyfunc.input_example))
        return TestClient(app)

    return serve


@pytest.fixture(scope="session")
def row_sum_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real pyfunc with a (-1, 4) float32 tensor signature that returns each row's sum."""
    import mlflow.pyfunc
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    class RowSum(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return np.asarray(model_input, dtype=np.float32).sum(axis=1, keepdims=True)

    path = tmp_path_factory.mktemp("model") / "row_sum"
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 4))]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 1))]),
    )
    mlflow.pyfunc.save_model(
        str(path), python_model=RowSum(), signature=signature, input_example=np.ones((2, 4), dtype=np.float32)
    )
    return mlflow.pyfunc.load_model(str(path))


DIABETES_COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


@pytest.fixture(scope="session")
def diabetes_rows() -> Any:
    """Three rows of scikit-learn's diabetes data as a DataFrame, named as the diabetes recipe names them."""
    pytest.importorskip("sklearn")
    import pandas as pd
    from sklearn.datasets import load_diabetes

    return pd.DataFrame(load_diabetes().data[:3], columns=DIABETES_COLUMNS)


@pytest.fixture(scope="session")
def sklearn_model(tmp_path_factory: pytest.TempPathFactory, diabetes_rows: Any) -> Any:
    """A real scikit-learn pyfunc with named double columns, saved and loaded as the diabetes recipe's."""
    import mlflow.pyfunc
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    x, y = load_diabetes(return_X_y=True)
    model = Ridge().fit(pd.DataFrame(x, columns=DIABETES_COLUMNS), y)
    path = tmp_path_factory.mktemp("model") / "ridge"
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(diabetes_rows, model.predict(diabetes_rows)),
        input_example=diabetes_rows,
        serialization_format="skops",
        pip_requirements=["scikit-learn"],
    )
    return mlflow.pyfunc.load_model(str(path))


@pytest.fixture(scope="session")
def untypable_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A pyfunc that predicts fine on its example but takes (-1, 8, 8) images: /predict cannot type it."""
    import mlflow.pyfunc
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    class Images(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return np.asarray(model_input).reshape(len(model_input), -1).sum(axis=1)

    path = tmp_path_factory.mktemp("model") / "images"
    mlflow.pyfunc.save_model(
        str(path),
        python_model=Images(),
        signature=ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 8, 8))])),
        input_example=np.ones((1, 8, 8), dtype=np.float32),
    )
    return mlflow.pyfunc.load_model(str(path))


@pytest.fixture(scope="session")
def untypable_refusal() -> str:
    """How serving refuses untypable_model's signature, as the watcher records it (/model's last_swap_error)."""
    return (
        "UntypableSignature: its signature (a tensor of shape (-1, 8, 8)) cannot be typed by /predict: log the "
        "model with one 2-D tensor (-1, N) or named scalar columns (double, float, long, integer, boolean, string)"
    )
