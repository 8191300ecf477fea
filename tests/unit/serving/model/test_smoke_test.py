"""serving.model.smoke_test: a version serves only with a signature /predict can type (the contract's
rule, with serving's one legacy exception) and a prediction on its own input example."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from contract.signature import NO_INPUT_SCHEMA, input_schema, untypable_reason
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema, TensorSpec
from mlflow.types.schema import Array
from serving.model.slot import LoadedModel
from serving.model.smoke_test import UntypableSignature, refusal, smoke_test


def _tensor(*shape: int, dtype: str = "float32") -> Schema:
    return Schema([TensorSpec(np.dtype(dtype), shape)])


# Real MLflow signatures, one per case of the contract's rule (tests/unit/contract covers the rule itself).
SIGNATURES = [
    (_tensor(-1, 64), None),
    (Schema([ColSpec(DataType.double, "age"), ColSpec(DataType.string, "s")]), None),
    (_tensor(-1, 8, 8), "a tensor of shape (-1, 8, 8)"),
    (Schema([ColSpec(DataType.double), ColSpec(DataType.double)]), "unnamed columns"),
    (Schema([ColSpec(DataType.double, "x"), ColSpec(Array(DataType.string), "tags")]),
     "column 'tags' of type Array(string)"),
]  # fmt: skip


@pytest.mark.parametrize(("inputs", "reason"), SIGNATURES)
def test_the_refusal_is_the_contracts_rule_on_mlmodels_json(inputs: Schema, reason: str | None) -> None:
    signature = ModelSignature(inputs=inputs)
    assert input_schema(signature) == inputs.to_dict()
    assert refusal(signature) == untypable_reason(inputs.to_dict()) == reason


def test_a_model_without_a_signature_is_still_served() -> None:
    """The legacy case the contract names: training never registers one, serving keeps serving one."""
    assert untypable_reason(input_schema(None)) == NO_INPUT_SCHEMA
    assert refusal(None) is None
    assert refusal(ModelSignature(inputs=None, outputs=_tensor(-1, 1))) is None


def test_an_unsigned_model_passes_the_smoke_test(tmp_path_factory: pytest.TempPathFactory) -> None:
    import mlflow.pyfunc

    class Echo(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return model_input

    path = tmp_path_factory.mktemp("model") / "unsigned"
    mlflow.pyfunc.save_model(str(path), python_model=Echo())
    pyfunc = mlflow.pyfunc.load_model(str(path))
    assert pyfunc.metadata.signature is None

    smoke_test(LoadedModel("m", "1", "champion", "run-1", pyfunc, [[1.0]]))


def test_smoke_test_refuses_an_untypable_signature(untypable_model: Any, untypable_refusal: str) -> None:
    model = LoadedModel("m", "1", "champion", "run-1", untypable_model, untypable_model.input_example)
    with pytest.raises(UntypableSignature) as refused:
        smoke_test(model)
    assert f"UntypableSignature: {refused.value}" == untypable_refusal


def test_smoke_test_needs_an_input_example(row_sum_model: Any) -> None:
    # A failing prediction on the example: tests/unit/serving/model/test_watcher.py.
    with pytest.raises(RuntimeError, match="version 1 has no input example to smoke-test"):
        smoke_test(LoadedModel("m", "1", "champion", "run-1", row_sum_model, None))
