"""Exporting a fitted model to ONNX: PyTorch modules through torch's exporter (the dynamo one, torch's
maintained path), scikit-learn estimators and pipelines through skl2onnx. Anything else, or an export
that fails, is `NotExportable` with the reason in one line: the version is still registered, and serving
answers with its pyfunc.

The graph takes one 2-D tensor, rows first, with any number of rows (the batch axis is dynamic), in the
dtype of the rows it was exported with: the signature's tensor dtype, or the column signature's one
numeric dtype (the columns stacked in signature order).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

INPUT_NAME = "input"
OUTPUT_NAME = "output"


class NotExportable(RuntimeError):
    """The model has no ONNX export here; the message is the one-line reason the verdict records."""


def export_onnx(model: Any, rows: Any, path: Path) -> str:
    """Write `model` as ONNX to `path`, traced on `rows` (a numpy array); what exported it."""
    if _is_torch_module(model):
        return _export_torch(model, rows, path)
    if _is_sklearn_estimator(model):
        return _export_sklearn(model, rows, path)
    raise NotExportable(f"no ONNX exporter for a {type(model).__module__}.{type(model).__qualname__}")


def _is_torch_module(model: Any) -> bool:
    try:
        import torch
    except ImportError:
        return False
    return isinstance(model, torch.nn.Module)


def _is_sklearn_estimator(model: Any) -> bool:
    try:
        from sklearn.base import BaseEstimator  # type: ignore[import-untyped]
    except ImportError:
        return False
    return isinstance(model, BaseEstimator)


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """The exporters print their steps and warn about what they skip (torchvision's operators, deprecated
    paths): kept out of the training log, and returned for the reason when the export fails."""
    captured = io.StringIO()
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(captured):
            warnings.simplefilter("ignore")
            yield captured
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _export_torch(model: Any, rows: Any, path: Path) -> str:
    import torch

    # A copy on the CPU in eval mode: the trained model (returned to the caller) stays where it is.
    module = copy.deepcopy(getattr(model, "module", model)).to("cpu").eval()
    # Two rows or more: an axis of size 1 would be specialised to 1 by the tracer.
    sample = torch.from_numpy(rows[: max(2, min(len(rows), 8))].copy())
    rows_axis = torch.export.Dim("rows", min=1)
    try:
        with _quiet(), torch.inference_mode():
            torch.onnx.export(
                module,
                (sample,),
                str(path),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: rows_axis},),
                external_data=False,  # one file: what is signed and downloaded is the whole graph
            )
    except Exception as error:
        raise NotExportable(f"torch.onnx.export failed: {_one_line(error)}") from error
    return f"torch.onnx (dynamo) {torch.__version__}"


def _export_sklearn(model: Any, rows: Any, path: Path) -> str:
    import numpy as np

    try:
        import skl2onnx  # type: ignore[import-untyped]
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType  # type: ignore[import-untyped]
    except ImportError as error:
        raise NotExportable(f"skl2onnx is not installed: {error}") from error
    kinds = {np.dtype(np.float64): DoubleTensorType, np.dtype(np.float32): FloatTensorType}
    kind = kinds.get(rows.dtype)
    if kind is None:
        raise NotExportable(f"skl2onnx takes float32 or float64 rows, not {rows.dtype}")
    try:
        with _quiet():
            graph = skl2onnx.convert_sklearn(model, initial_types=[(INPUT_NAME, kind([None, rows.shape[1]]))])
    except Exception as error:
        raise NotExportable(f"skl2onnx cannot convert it: {_one_line(error)}") from error
    path.write_bytes(graph.SerializeToString())
    return f"skl2onnx {skl2onnx.__version__}"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
