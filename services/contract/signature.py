"""The one rule for which model signatures serving's /predict can type, on MLmodel's JSON form.

/predict turns a request into what the model takes: one 2-D tensor input becomes a numpy array of its
dtype, named scalar columns a DataFrame with each column's dtype. Any other input schema (several
tensors, another rank, nested or binary columns, unnamed columns, none at all) would reach the model
untyped. Training refuses to register a version whose signature breaks the rule; serving refuses to
swap one in. Both call `untypable_reason` with the input schema as MLflow writes it into MLmodel
(`signature.inputs.to_dict()`), so the rule needs no MLflow, no numpy and nothing of either image:

    [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 64]}}]
    [{"type": "double", "name": "age", "required": true}, ...]
"""

from __future__ import annotations

import re
from typing import Any, Literal, Protocol, TypeGuard, get_args

# The reason for a model logged without a signature (or without inputs in it). Training refuses such a
# model like any other untypable one; serving lets it through as it always did (see serving's smoke test).
NO_INPUT_SCHEMA = "no input schema"

# The scalar column types /predict converts JSON values to (MLflow DataType names).
ColumnType = Literal["double", "float", "long", "integer", "boolean", "string"]
COLUMN_TYPES: tuple[ColumnType, ...] = get_args(ColumnType)

# What a typable signature is, for the messages that refuse one ("declare ...", "log the model with ...").
TYPABLE = f"one 2-D tensor (-1, N) or named scalar columns ({', '.join(COLUMN_TYPES)})"

# Tensor dtypes /predict builds an array of: numpy's boolean, integer and float names, as MLmodel writes
# them (numpy's dtype.name: float32, int64, uint8, bool).
_NUMERIC_DTYPE = re.compile(r"bool|u?int\d+|float\d+")


class _Schema(Protocol):
    def to_dict(self) -> list[dict[str, Any]]: ...


class Signature(Protocol):
    """What the rule needs of an MLflow ModelSignature (the contract imports no MLflow)."""

    @property
    def inputs(self) -> _Schema | None: ...


def input_schema(signature: Signature | None) -> list[dict[str, Any]] | None:
    """A signature's inputs in MLmodel's JSON form, as untypable_reason reads them; None without any."""
    if signature is None or signature.inputs is None:
        return None
    return signature.inputs.to_dict()


def untypable_reason(inputs: list[dict[str, Any]] | None) -> str | None:
    """Why /predict could not type requests for a model with this input schema; None when it can.

    Typable: one tensor input of shape (-1, N) with a boolean or numeric dtype, or columns that all
    have names and scalar types (COLUMN_TYPES). `inputs` is None (or empty) for a model without a
    signature: NO_INPUT_SCHEMA.
    """
    if not inputs:
        return NO_INPUT_SCHEMA
    if inputs[0].get("type") == "tensor":
        if len(inputs) != 1:
            return f"{len(inputs)} tensor inputs"
        spec = inputs[0].get("tensor-spec") or {}
        shape = tuple(spec.get("shape") or ())
        if len(shape) != 2 or shape[0] != -1:
            return f"a tensor of shape {shape}"
        dtype = str(spec.get("dtype"))
        if not _NUMERIC_DTYPE.fullmatch(dtype):
            return f"a tensor of dtype {dtype}"
        return None
    # MLflow names every column or none of them.
    if "name" not in inputs[0]:
        return "unnamed columns"
    for column in inputs:
        kind = column_type(column)
        if not is_column_type(kind):
            return f"column {column['name']!r} of type {kind}"
    return None


def is_column_type(kind: str) -> TypeGuard[ColumnType]:
    """Whether a column type (column_type's answer) is one /predict converts JSON values to."""
    return kind in COLUMN_TYPES


def column_type(spec: dict[str, Any]) -> str:
    """A column's type (or a nested one's) as MLflow names it in messages, from its JSON form: a scalar's
    DataType name (double, binary...), else MLflow's repr of the nested type (Array(string),
    Map(str -> DataType.double), {a: long (required)}, Any)."""
    kind = str(spec.get("type"))
    if kind == "array":
        return f"Array({column_type(spec['items'])})"
    if kind == "object":
        properties = sorted((spec.get("properties") or {}).items())
        described = (f"{name}: {column_type(prop)} ({_required(prop)})" for name, prop in properties)
        return "{" + ", ".join(described) + "}"
    if kind == "map":
        return f"Map(str -> {_str(spec['values'])})"
    if kind == "sparkml_vector":
        return "SparkML vector"
    if kind == "any":
        return "Any"
    return kind  # a DataType: its repr is its name


def _str(spec: dict[str, Any]) -> str:
    """MLflow's str() of a type: a DataType is an Enum there, so its str is DataType.<name>."""
    kind = str(spec.get("type"))
    if kind in ("array", "object", "map", "sparkml_vector", "any"):
        return column_type(spec)
    return f"DataType.{kind}"


def _required(spec: dict[str, Any]) -> str:
    return "required" if spec.get("required", True) else "optional"
