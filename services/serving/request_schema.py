"""The /predict request, checked against the loaded model's signature: bad input is a 422 naming the field.

/predict types what it receives by the signature: one 2-D tensor input becomes a numpy array of its
dtype, named scalar columns a DataFrame with each column's dtype. A version whose signature is
neither (`untypable_reason`) is refused before it serves (serving.model_store.smoke_test); training
checks the same rule before it registers a version (training/recipes/__init__.py).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

MAX_ROWS = 4096

# MLflow column type -> the numpy dtype /predict builds the column with, and the JSON values it takes.
_INTEGRAL = "a whole number"
COLUMN_TYPES: dict[str, tuple[str, str]] = {
    "double": ("float64", "a number"),
    "float": ("float32", "a number"),
    "long": ("int64", _INTEGRAL),
    "integer": ("int32", _INTEGRAL),
    "boolean": ("bool", "true or false"),
    "string": ("object", "a string"),
}
HOW_TO_TYPE = f"log the model with one 2-D tensor (-1, N) or named scalar columns ({', '.join(COLUMN_TYPES)})"


class PredictRequest(BaseModel):
    """Rows to predict: lists of numbers for tensor signatures, objects keyed by column for column ones."""

    inputs: list[list[float]] | list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ROWS)


def _invalid(loc: tuple[str | int, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", *loc), "msg": message, "type": "value_error"}])


def describe_signature(signature: Any) -> dict[str, Any] | None:
    if signature is None or signature.inputs is None:
        return None
    return {"inputs": signature.inputs.to_dict(), "outputs": signature.outputs.to_dict() if signature.outputs else None}


def untypable_reason(signature: Any) -> str | None:
    """Why /predict could not type requests for a model with this signature; None when it can.

    Typable: one tensor input of shape (-1, N) with a numeric or boolean dtype, or columns that all
    have names and scalar types (COLUMN_TYPES). A model without a signature is let through as before
    (its rows reach it as an unchecked DataFrame); training never registers one.
    """
    schema = signature.inputs if signature is not None else None
    if schema is None:
        return None
    if schema.is_tensor_spec():
        if len(schema.inputs) != 1:
            return f"{len(schema.inputs)} tensor inputs"
        spec = schema.inputs[0]
        shape = tuple(spec.shape or ())
        if len(shape) != 2 or shape[0] != -1:
            return f"a tensor of shape {shape}"
        if spec.type.kind not in "biuf":
            return f"a tensor of dtype {spec.type}"
        return None
    if not schema.has_input_names():
        return "unnamed columns"
    for column in schema.inputs:
        kind = _column_type(column)
        if kind not in COLUMN_TYPES:
            return f"column {column.name!r} of type {kind}"
    return None


def _column_type(column: Any) -> str:
    """An MLflow ColSpec's type by name: a DataType's name (double, long...), else how MLflow writes it."""
    from mlflow.types import DataType

    return column.type.name if isinstance(column.type, DataType) else str(column.type)


def _accepts(kind: str, value: Any) -> bool:
    if kind in ("double", "float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("long", "integer"):
        whole = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())
        return whole and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


def to_model_input(request: PredictRequest, signature: Any) -> Any:
    """numpy for a single-tensor signature, a DataFrame for a column signature; shape, names and types checked."""
    import numpy as np

    schema = signature.inputs if signature is not None else None
    if schema is not None and schema.is_tensor_spec():
        spec = schema.inputs[0]
        width = spec.shape[-1] if spec.shape and len(spec.shape) == 2 else None
        for i, row in enumerate(request.inputs):
            if not isinstance(row, list):
                raise _invalid(("inputs", i), "expected a list of numbers (the model takes a tensor)")
            if width is not None and width > 0 and len(row) != width:
                raise _invalid(("inputs", i), f"expected {width} values, got {len(row)}")
        return np.asarray(request.inputs, dtype=spec.type)
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for i, row in enumerate(request.inputs):
        if not isinstance(row, dict):
            raise _invalid(("inputs", i), "expected an object keyed by column name")
        rows.append(row)
    if schema is None or not schema.has_input_names():
        return pd.DataFrame(rows)
    columns = [c for c in schema.inputs if c.required or any(c.name in row for row in rows)]
    for i, row in enumerate(rows):
        for column in columns:
            kind = _column_type(column)
            value = row.get(column.name)
            if value is None:
                if column.required:
                    raise _invalid(("inputs", i, column.name), "field required by the model signature")
                continue
            if kind in COLUMN_TYPES and not _accepts(kind, value):
                raise _invalid(("inputs", i, column.name), f"expected {COLUMN_TYPES[kind][1]} ({kind} column)")
    frame = pd.DataFrame(rows, columns=[c.name for c in columns])
    # JSON numbers arrive as int64 or float64: each column gets the dtype the signature declares (MLflow
    # refuses float64 for a float column, and int64 for an integer one), unless a value is missing.
    dtypes = {
        c.name: COLUMN_TYPES[_column_type(c)][0]
        for c in columns
        if _column_type(c) in COLUMN_TYPES and not frame[c.name].isna().any()
    }
    return frame.astype(dtypes)
