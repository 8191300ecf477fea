"""contract.signature: the one rule for which input schemas serving's /predict can type, on MLmodel's JSON
form. Every case training's and serving's copies of the rule were checked to agree on, and more."""

from __future__ import annotations

from typing import Any

import pytest
from contract.signature import (
    COLUMN_TYPES,
    NO_INPUT_SCHEMA,
    TYPABLE,
    column_type,
    input_schema,
    is_column_type,
    untypable_reason,
)


def _tensor(*shape: int, dtype: str = "float32", name: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": list(shape)}}
    return spec if name is None else {"name": name, **spec}


def _column(kind: str, name: str | None = None, **nested: Any) -> dict[str, Any]:
    column: dict[str, Any] = {"type": kind, **nested, "required": True}
    return column if name is None else {**column, "name": name}


DIABETES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        ([_tensor(-1, 64)], None),  # the digits recipe
        ([_tensor(-1, -1, dtype="int64")], None),
        ([_tensor(-1, 3, dtype="bool")], None),
        ([_tensor(-1, 3, dtype="uint8")], None),
        ([_column("double", name) for name in DIABETES], None),  # the diabetes recipe
        ([_column("long", "n"), _column("string", "s"), _column("boolean", "b")], None),
        ([_column("float", "x"), _column("integer", "n")], None),
        ([_tensor(-1, 8, 8)], "a tensor of shape (-1, 8, 8)"),
        ([_tensor(4, 64)], "a tensor of shape (4, 64)"),
        ([_tensor(64)], "a tensor of shape (64,)"),
        ([_tensor(-1, 2, dtype="str")], "a tensor of dtype str"),
        ([_tensor(-1, 2, dtype="complex64")], "a tensor of dtype complex64"),
        ([_tensor(-1, 2, name="a"), _tensor(-1, 2, name="b")], "2 tensor inputs"),
        ([_column("double"), _column("double")], "unnamed columns"),
        ([_column("double", "x"), _column("array", "tags", items={"type": "string"})],
         "column 'tags' of type Array(string)"),
        ([_column("binary", "image")], "column 'image' of type binary"),
        ([_column("datetime", "at")], "column 'at' of type datetime"),
    ],
)  # fmt: skip
def test_which_input_schemas_predict_can_type(inputs: list[dict[str, Any]], reason: str | None) -> None:
    assert untypable_reason(inputs) == reason


def test_no_input_schema_is_named() -> None:
    assert untypable_reason(None) == untypable_reason([]) == NO_INPUT_SCHEMA == "no input schema"


def test_a_shape_read_back_from_mlmodel_is_a_list_and_counts_the_same() -> None:
    as_logged = [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": (-1, 8, 8)}}]
    assert untypable_reason(as_logged) == untypable_reason([_tensor(-1, 8, 8)]) == "a tensor of shape (-1, 8, 8)"


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"type": "double"}, "double"),
        ({"type": "array", "items": {"type": "array", "items": {"type": "long"}}}, "Array(Array(long))"),
        ({"type": "map", "values": {"type": "double"}}, "Map(str -> DataType.double)"),
        ({"type": "map", "values": {"type": "array", "items": {"type": "long"}}}, "Map(str -> Array(long))"),
        (
            {"type": "object", "properties": {"z": {"type": "long", "required": True},
                                              "a": {"type": "string", "required": False}}},
            "{a: string (optional), z: long (required)}",
        ),
        ({"type": "array", "items": {"type": "map", "values": {"type": "string"}}},
         "Array(Map(str -> DataType.string))"),
        ({"type": "any"}, "Any"),
        ({"type": "sparkml_vector"}, "SparkML vector"),
    ],
)  # fmt: skip
def test_column_types_are_named_as_mlflow_names_them(spec: dict[str, Any], named: str) -> None:
    assert column_type(spec) == named
    assert untypable_reason([{**spec, "name": "c"}]) == (None if named == "double" else f"column 'c' of type {named}")


def test_the_column_types_are_the_scalar_ones_and_the_message_lists_them() -> None:
    assert COLUMN_TYPES == ("double", "float", "long", "integer", "boolean", "string")
    assert all(is_column_type(kind) for kind in COLUMN_TYPES)
    assert not is_column_type("binary") and not is_column_type("Array(double)")
    assert TYPABLE == "one 2-D tensor (-1, N) or named scalar columns (double, float, long, integer, boolean, string)"


def test_a_signatures_input_schema_is_its_inputs_json() -> None:
    """The call sites hand MLflow's ModelSignature; the contract reads `inputs.to_dict()` and nothing else."""

    class Schema:
        def to_dict(self) -> list[dict[str, Any]]:
            return [_tensor(-1, 4)]

    class Signed:
        inputs = Schema()

    class WithoutInputs:
        inputs = None

    assert input_schema(Signed()) == [_tensor(-1, 4)]
    assert input_schema(WithoutInputs()) is None and input_schema(None) is None
