"""The /predict request, checked against the loaded model's signature: bad input is a 422 naming the field."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

MAX_ROWS = 4096


class PredictRequest(BaseModel):
    """Rows to predict: lists of numbers for tensor signatures, objects keyed by column for column ones."""

    inputs: list[list[float]] | list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ROWS)


def _invalid(loc: tuple[str | int, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", *loc), "msg": message, "type": "value_error"}])


def describe_signature(signature: Any) -> dict[str, Any] | None:
    if signature is None or signature.inputs is None:
        return None
    return {"inputs": signature.inputs.to_dict(), "outputs": signature.outputs.to_dict() if signature.outputs else None}


def to_model_input(request: PredictRequest, signature: Any) -> Any:
    """numpy for a single-tensor signature, a DataFrame for a column signature; shape and names checked."""
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

    names = schema.input_names() if schema is not None else None
    rows = request.inputs
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise _invalid(("inputs", i), "expected an object keyed by column name")
        if names:
            missing = [name for name in names if name not in row]
            if missing:
                raise _invalid(("inputs", i, missing[0]), "field required by the model signature")
    return pd.DataFrame(rows, columns=names)
