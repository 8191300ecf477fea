"""Serving unit tier: the app and the alias watcher with a real (tiny) MLflow pyfunc, no server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[3] / "services"
if str(SERVICES) not in sys.path:
    sys.path.insert(0, str(SERVICES))

pytest.importorskip("mlflow", reason="serving tests need mlflow (pip install -e '.[test]')")
pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")


@pytest.fixture(scope="session")
def row_sum_model(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
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
