"""A version's accelerated artifact: where training puts it and its verdict, and what serving reads.

When training registers a version it exports the model to ONNX beside the pyfunc and runs both on the
validation split (training/accelerate). The result is written into the version's own artifacts, so the
version's signature covers it like the rest of the model:

    accelerated/model.onnx    the exported graph (absent when the export itself failed)
    accelerated/onnx.json     the verdict: a `Verdict` below

Serving answers with ONNX Runtime only when the verdict says `usable` and its runtime loads the file;
otherwise it answers with the pyfunc and GET /model says why. The tag RUNTIME_TAG on the version repeats
the verdict in one line for people (the UI, `devtools model`); serving never trusts the tag, only the
signed file.
"""

from __future__ import annotations

from typing import Literal, TypedDict

ACCELERATED_DIR = "accelerated"
ONNX_FILE = f"{ACCELERATED_DIR}/model.onnx"
VERDICT_FILE = f"{ACCELERATED_DIR}/onnx.json"
RUNTIME_TAG = "mlstack.accelerated"  # "onnx: usable (...)" or "onnx: not usable: <reason>"

# SERVING_RUNTIME: auto answers with ONNX Runtime when the version's verdict allows it, else the pyfunc;
# pyfunc never uses the ONNX artifact; onnx (the lean image, which has no torch) refuses a version
# without a usable one.
RuntimeChoice = Literal["auto", "pyfunc", "onnx"]
RUNTIME_CHOICES: tuple[RuntimeChoice, ...] = ("auto", "pyfunc", "onnx")
PYFUNC = "pyfunc"
ONNXRUNTIME = "onnxruntime"


class Tolerance(TypedDict):
    """Outputs match when |onnx - pyfunc| <= atol + rtol * |pyfunc| for every value, and, for class
    scores (2-D outputs of two columns or more), the top class of every row is the same."""

    rtol: float
    atol: float


class OnnxInput(TypedDict):
    name: str  # the graph's input
    dtype: str  # numpy's name of its element type ("float32", "float64", ...)
    # A column signature's columns, in the order the graph reads them (stacked as one 2-D tensor);
    # None for a tensor signature, whose rows go in as they are.
    columns: list[str] | None


class OnnxOutput(TypedDict):
    name: str
    dtype: str  # what the pyfunc answers (numpy's name): the graph's output is cast to it
    shape_tail: list[int]  # the pyfunc's answer is (rows, *shape_tail): the graph's is reshaped to it


class Verdict(TypedDict):
    usable: bool
    reason: str | None  # why not usable; None when usable
    exporter: str  # what exported it ("torch.onnx (dynamo) 2.13.0", "skl2onnx 1.20.0", ...)
    input: OnnxInput | None  # None when the export failed
    output: OnnxOutput | None
    tolerance: Tolerance
    rows_compared: int
    max_abs_diff: float | None
    top_class_agreement: float | None  # the share of rows with the same top class; None: not class scores


class RuntimeStatus(TypedDict):
    """GET /model's `runtime`: what answers for the served version, and why not ONNX Runtime when not."""

    name: str  # ONNXRUNTIME or PYFUNC
    providers: list[str] | None  # ONNX Runtime's execution providers in use; None for the pyfunc
    reason: str | None  # why the pyfunc answers (no artifact, the gate's verdict, SERVING_RUNTIME=pyfunc)


def tag_text(verdict: Verdict) -> str:
    """RUNTIME_TAG's value for a verdict."""
    if verdict["usable"]:
        return f"onnx: usable ({verdict['rows_compared']} validation rows, max |diff| {verdict['max_abs_diff']:.3g})"
    return f"onnx: not usable: {verdict['reason']}"
