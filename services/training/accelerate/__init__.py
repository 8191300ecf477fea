"""A registered version's accelerated artifact: ONNX exported beside the pyfunc, behind the equivalence
gate (gate.py), written into the version's artifacts (contract.accelerated says where and in what form).

    export.py   the model to ONNX (torch's exporter, skl2onnx)
    gate.py     when its answers count as the pyfunc's

The reference is the pyfunc as MLflow stores it, loaded back from the registry: the gate compares what
serving would answer with each, on the recipe's validation split, in the form serving hands them (the
signature's tensor, or its columns). Nothing here fails the training: a model that does not export or
does not match gets a verdict that says why, and serving answers with the pyfunc.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.accelerated import (
    ACCELERATED_DIR,
    ONNX_FILE,
    RUNTIME_TAG,
    VERDICT_FILE,
    OnnxInput,
    OnnxOutput,
    Tolerance,
    Verdict,
    tag_text,
)

from training.accelerate.export import NotExportable, export_onnx
from training.accelerate.gate import DEFAULT_TOLERANCE, compare

# Enough rows to see a real difference, few enough that the gate takes a second or two.
GATE_ROWS = 512


@dataclass(frozen=True)
class GateRows:
    """The validation rows in both forms: what the pyfunc is given (as serving gives it), and the one
    2-D tensor the graph takes."""

    for_pyfunc: Any  # numpy array (tensor signature) or DataFrame (columns)
    for_graph: Any  # numpy array, rows first
    columns: list[str] | None


def gate_rows(signature: Any, x: Any) -> GateRows:
    """`x` (the validation split's features) in the signature's form; NotExportable when the graph cannot
    take them as one numeric tensor (string or mixed columns)."""
    import numpy as np
    import pandas as pd

    schema = signature.inputs
    rows = np.asarray(x)[:GATE_ROWS]
    if schema.is_tensor_spec():
        tensor = rows.astype(schema.inputs[0].type, copy=False)
        return GateRows(tensor, tensor, None)
    names = list(schema.input_names())
    types = {np.dtype(spec.type.to_numpy()) for spec in schema.inputs}
    if len(types) != 1 or next(iter(types)).kind != "f":
        raise NotExportable(f"the graph takes one float tensor; the signature's columns are {sorted(map(str, types))}")
    (dtype,) = types
    tensor = rows.astype(dtype, copy=False)
    return GateRows(pd.DataFrame(tensor, columns=names), tensor, names)


def build_verdict(
    model: Any, pyfunc: Any, signature: Any, x: Any, folder: Path, tolerance: Tolerance = DEFAULT_TOLERANCE
) -> Verdict:
    """Export `model` into folder/model.onnx and judge it against `pyfunc` on `x`; the verdict."""
    import numpy as np

    verdict: Verdict = {
        "usable": False,
        "reason": None,
        "exporter": "none",
        "input": None,
        "output": None,
        "tolerance": tolerance,
        "rows_compared": 0,
        "max_abs_diff": None,
        "top_class_agreement": None,
    }
    graph_path = folder / Path(ONNX_FILE).name
    try:
        rows = gate_rows(signature, x)
        verdict["exporter"] = export_onnx(model, rows.for_graph, graph_path)
        reference = np.asarray(pyfunc.predict(rows.for_pyfunc))
        session = _session(graph_path)
        graph_input, graph_output = session.get_inputs()[0].name, session.get_outputs()[0].name
        verdict["input"] = OnnxInput(name=graph_input, dtype=str(rows.for_graph.dtype), columns=rows.columns)
        tail = list(reference.shape[1:])
        verdict["output"] = OnnxOutput(name=graph_output, dtype=str(reference.dtype), shape_tail=tail)
        answered = session.run([graph_output], {graph_input: rows.for_graph})[0]
        # One row alone too: serving's commonest batch, and the one a traced batch axis gets wrong.
        alone = session.run([graph_output], {graph_input: rows.for_graph[:1]})[0]
        candidate = _as_pyfunc_answers(answered, reference)
        if candidate is None or _as_pyfunc_answers(alone, reference[:1]) is None:
            verdict["reason"] = f"the graph answers shape {np.shape(answered)}, the pyfunc {reference.shape}"
            return verdict
    except NotExportable as error:
        verdict["reason"] = str(error)
        return verdict
    except Exception as error:  # ONNX Runtime refusing the graph, a pyfunc that fails on its own rows
        verdict["reason"] = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
        return verdict
    comparison = compare(reference, candidate, tolerance)
    single = compare(reference[:1], _as_pyfunc_answers(alone, reference[:1]), tolerance)
    verdict["usable"] = comparison.usable and single.usable
    verdict["reason"] = comparison.reason or (f"one row alone: {single.reason}" if single.reason else None)
    verdict["rows_compared"] = comparison.rows
    verdict["max_abs_diff"] = comparison.max_abs_diff
    verdict["top_class_agreement"] = comparison.top_class_agreement
    return verdict


def _session(path: Path) -> Any:
    import onnxruntime  # type: ignore[import-untyped]

    # The CPU provider: the gate judges the export, not the hardware (serving picks its provider).
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _as_pyfunc_answers(answered: Any, reference: Any) -> Any:
    """The graph's answer in the pyfunc's shape and dtype (skl2onnx answers (rows, 1) where the pyfunc
    answers (rows,)); None when it holds another number of values."""
    import numpy as np

    answered = np.asarray(answered)
    if answered.size != reference.size:
        return None
    return answered.reshape(reference.shape).astype(reference.dtype, copy=False)


def accelerate_version(
    model: Any,
    pyfunc: Any,
    model_id: str,
    x: Any,
    client: Any,
    name: str,
    version: str,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
) -> Verdict:
    """Export, judge and record the accelerated artifact of version `version` of `name`, whose pyfunc (as
    the registry serves it) is `pyfunc`, logged as MLflow's logged model `model_id`: the files go into its
    artifacts under accelerated/, the verdict's line into the version's RUNTIME_TAG. After training, call
    it before the alias moves, so serving never loads the version without."""
    with tempfile.TemporaryDirectory(prefix="accelerated-") as scratch:
        folder = Path(scratch) / ACCELERATED_DIR
        folder.mkdir()
        verdict = build_verdict(model, pyfunc, pyfunc.metadata.signature, x, folder, tolerance)
        (folder / Path(VERDICT_FILE).name).write_text(json.dumps(verdict, indent=2) + "\n", encoding="utf-8")
        client.log_model_artifacts(model_id, str(folder), ACCELERATED_DIR)
    client.set_model_version_tag(name, version, RUNTIME_TAG, tag_text(verdict))
    return verdict
