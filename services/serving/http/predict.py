"""The /predict request, typed by the served version's signature: bad input is a 422 naming the field.

One 2-D tensor input becomes a numpy array of its dtype, named scalar columns a DataFrame with each
column's dtype. Which signatures can be typed at all is the contract's rule (contract.signature); a
version breaking it never serves (serving.model.smoke_test).
"""

from __future__ import annotations

import math
from typing import Any

from contract.signature import ColumnType, column_type, is_column_type
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from serving.http.serve import ModelRows
from serving.model.slot import LoadedModel

MAX_ROWS = 4096

# A scalar column type -> the numpy dtype /predict builds the column with, and the JSON values it takes.
_INTEGRAL = "a whole number"
COLUMN_DTYPES: dict[ColumnType, tuple[str, str]] = {
    "double": ("float64", "a number"),
    "float": ("float32", "a number"),
    "long": ("int64", _INTEGRAL),
    "integer": ("int32", _INTEGRAL),
    "boolean": ("bool", "true or false"),
    "string": ("object", "a string"),
}


class PredictRequest(BaseModel):
    """Rows to predict: lists of numbers for tensor signatures, objects keyed by column for column ones."""

    inputs: list[list[float]] | list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ROWS)


class PredictRows(ModelRows):
    """/predict's answer: the predictions and the version that made them (also as X-Model-Version)."""

    def respond(self, answer: Any, model: LoadedModel) -> Response:
        predictions = answer.tolist() if hasattr(answer, "tolist") else answer
        return JSONResponse(
            {"predictions": predictions, "model_version": model.version}, headers={"X-Model-Version": model.version}
        )


def _invalid(loc: tuple[str | int, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", *loc), "msg": message, "type": "value_error"}])


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
        return pd.DataFrame(rows)  # a version without a signature: its rows go unchecked, as they always did
    columns = [c for c in schema.inputs if c.required or any(c.name in row for row in rows)]
    kinds = {c.name: column_type(c.to_dict()) for c in columns}
    for i, row in enumerate(rows):
        for column in columns:
            kind, value = kinds[column.name], row.get(column.name)
            if value is None:
                if column.required:
                    raise _invalid(("inputs", i, column.name), "field required by the model signature")
                continue
            if is_column_type(kind) and not _accepts(kind, value):
                raise _invalid(("inputs", i, column.name), f"expected {COLUMN_DTYPES[kind][1]} ({kind} column)")
    frame = pd.DataFrame(rows, columns=[c.name for c in columns])
    # JSON numbers arrive as int64 or float64: each column gets the dtype the signature declares (MLflow
    # refuses float64 for a float column, and int64 for an integer one), unless a value is missing.
    dtypes = {
        name: COLUMN_DTYPES[kind][0]
        for name, kind in kinds.items()
        if is_column_type(kind) and not frame[name].isna().any()
    }
    return frame.astype(dtypes)
