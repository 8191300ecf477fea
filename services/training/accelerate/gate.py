"""The equivalence gate's rule: when an accelerated artifact's answers count as the pyfunc's.

Every value within a tolerance of the pyfunc's (|onnx - pyfunc| <= atol + rtol * |pyfunc|, numpy's
`allclose` rule, with no NaN or infinity in either), the same shape, and for class scores (a 2-D answer
of two columns or more: logits, probabilities) the same top class on every row: a value within the
tolerance can still swap two near-equal classes, and a classifier's answer is its class.

numpy only: the unit tier checks the rule without torch or ONNX Runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contract.accelerated import Tolerance

# float32 graphs reorder sums (fused attention, other kernels): about 1e-6 relative here; a thousand
# times that is still far below any difference a caller could act on, and far above rounding.
DEFAULT_TOLERANCE: Tolerance = {"rtol": 1e-3, "atol": 1e-5}
# A team that needs its answers closer sets these in the training container's environment (0 and 0:
# only bit-identical answers pass, which float32 graphs rarely give).
RTOL_ENV, ATOL_ENV = "TRAINING_ONNX_RTOL", "TRAINING_ONNX_ATOL"


def configured_tolerance(env: Mapping[str, str]) -> Tolerance:
    """The gate's tolerance: DEFAULT_TOLERANCE, or what RTOL_ENV and ATOL_ENV say; UsageError (exit 2)
    for a value that is not a number of 0 or more (checked before anything is trained)."""
    from training.errors import UsageError

    tolerance = {"rtol": DEFAULT_TOLERANCE["rtol"], "atol": DEFAULT_TOLERANCE["atol"]}
    for key, variable in (("rtol", RTOL_ENV), ("atol", ATOL_ENV)):
        text = env.get(variable, "").strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0.0 <= value < float("inf"):
            raise UsageError(f"{variable}={text!r}: expected a number of 0 or more")
        tolerance[key] = value
    return Tolerance(rtol=tolerance["rtol"], atol=tolerance["atol"])


@dataclass(frozen=True)
class Comparison:
    usable: bool
    reason: str | None  # why not, in one line; None when usable
    rows: int
    max_abs_diff: float | None  # None when the shapes differ or a value is not finite
    top_class_agreement: float | None  # None: not class scores


def is_class_scores(reference: Any) -> bool:
    return bool(reference.ndim == 2 and reference.shape[1] >= 2)


def compare(reference: Any, candidate: Any, tolerance: Tolerance = DEFAULT_TOLERANCE) -> Comparison:
    """The gate's verdict on `candidate` (the accelerated artifact's answers) against `reference` (the
    pyfunc's, on the same rows), both numpy arrays whose first axis is the rows."""
    import numpy as np

    rows = int(reference.shape[0]) if reference.ndim else 0
    if rows == 0:
        return Comparison(False, "no validation rows to compare on", 0, None, None)
    if candidate.shape != reference.shape:
        return Comparison(
            False, f"answers of shape {candidate.shape}, the pyfunc's {reference.shape}", rows, None, None
        )
    if not np.issubdtype(reference.dtype, np.number) or not np.issubdtype(candidate.dtype, np.number):
        return Comparison(
            False, f"non-numeric answers ({candidate.dtype}, the pyfunc's {reference.dtype})", rows, None, None
        )
    expected, got = reference.astype(np.float64), candidate.astype(np.float64)
    if not np.isfinite(expected).all():
        return Comparison(False, "the pyfunc's own answers are not all finite", rows, None, None)
    if not np.isfinite(got).all():
        return Comparison(False, "answers that are not finite (NaN or infinity)", rows, None, None)
    difference = np.abs(got - expected)
    max_abs_diff = float(difference.max())
    agreement = None
    if is_class_scores(expected):
        agreement = float(np.mean(np.argmax(got, axis=1) == np.argmax(expected, axis=1)))
    allowed = tolerance["atol"] + tolerance["rtol"] * np.abs(expected)
    outside = int(np.count_nonzero(difference > allowed))
    if outside:
        reason = (
            f"{outside} of {difference.size} values outside the tolerance (rtol {tolerance['rtol']:g}, atol "
            f"{tolerance['atol']:g}; max |diff| {max_abs_diff:.3g})"
        )
        return Comparison(False, reason, rows, max_abs_diff, agreement)
    if agreement is not None and agreement < 1.0:
        differing = rows - round(agreement * rows)
        return Comparison(False, f"another top class on {differing} of {rows} rows", rows, max_abs_diff, agreement)
    return Comparison(True, None, rows, max_abs_diff, agreement)
