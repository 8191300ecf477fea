"""training.accelerate.gate: when an accelerated artifact's answers count as the pyfunc's."""

from __future__ import annotations

import pytest

from testing.training_helpers import require

require("numpy")

import numpy as np  # noqa: E402
from training.accelerate.gate import DEFAULT_TOLERANCE, compare  # noqa: E402

RNG = np.random.default_rng(3)
LOGITS = RNG.normal(0.0, 3.0, (64, 10)).astype(np.float32)
TARGETS = RNG.normal(150.0, 50.0, 64)


def test_rounding_differences_pass_and_are_measured() -> None:
    nudged = LOGITS + np.float32(2e-6)

    verdict = compare(LOGITS, nudged)

    assert verdict.usable and verdict.reason is None and verdict.rows == 64
    assert verdict.max_abs_diff == pytest.approx(2e-6, rel=0.1)
    assert verdict.top_class_agreement == 1.0  # (64, 10) answers are class scores


def test_a_value_outside_the_relative_and_absolute_tolerance_fails_naming_how_many() -> None:
    off = TARGETS.copy()
    off[5] *= 1 + 3 * DEFAULT_TOLERANCE["rtol"]  # three times the relative tolerance, on one value

    verdict = compare(TARGETS, off)

    assert not verdict.usable and verdict.top_class_agreement is None  # a regression: no classes
    assert verdict.reason is not None and verdict.reason.startswith("1 of 64 values outside the tolerance")


def test_the_tolerance_is_relative_to_the_reference_so_large_targets_keep_their_share() -> None:
    within = TARGETS * (1 + 0.5 * DEFAULT_TOLERANCE["rtol"])

    assert compare(TARGETS, within).usable


def test_a_swapped_top_class_fails_even_within_the_tolerance() -> None:
    tied = LOGITS.copy()
    tied[7] = -5.0
    tied[7, :2] = [1.0, 1.0 + 1e-6]  # class 1 wins by a hair
    flipped = tied.copy()
    flipped[7, :2] = [1.0 + 1e-6, 1.0]  # and class 0 here, well within the tolerance

    verdict = compare(tied, flipped)

    assert not verdict.usable
    assert verdict.reason == "another top class on 1 of 64 rows"
    assert verdict.top_class_agreement == pytest.approx(63 / 64)


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (LOGITS[:, :9], "answers of shape (64, 9), the pyfunc's (64, 10)"),
        (np.where(np.eye(64, 10) > 0, np.nan, LOGITS), "answers that are not finite (NaN or infinity)"),
        (LOGITS.astype(str), "non-numeric answers (<U"),
    ],
)
def test_what_is_not_comparable_fails_with_its_reason(candidate: object, reason: str) -> None:
    verdict = compare(LOGITS, np.asarray(candidate))

    assert not verdict.usable and verdict.reason is not None and verdict.reason.startswith(reason)


def test_no_rows_is_not_a_pass() -> None:
    assert compare(LOGITS[:0], LOGITS[:0]).reason == "no validation rows to compare on"


def test_the_tolerance_comes_from_the_environment_and_a_bad_value_is_a_usage_error() -> None:
    from training.accelerate.gate import configured_tolerance
    from training.errors import UsageError

    assert configured_tolerance({}) == DEFAULT_TOLERANCE
    assert configured_tolerance({"TRAINING_ONNX_RTOL": "0", "TRAINING_ONNX_ATOL": " 1e-7 "}) == {
        "rtol": 0.0,
        "atol": 1e-7,
    }
    for bad in ("-1", "nan", "inf", "tight"):
        with pytest.raises(UsageError, match=f"^TRAINING_ONNX_ATOL='{bad}': expected a number of 0 or more$"):
            configured_tolerance({"TRAINING_ONNX_ATOL": bad})


def test_zero_tolerance_refuses_any_difference_at_all() -> None:
    exact = {"rtol": 0.0, "atol": 0.0}

    assert compare(TARGETS, TARGETS.copy(), exact).usable
    assert not compare(LOGITS, np.nextafter(LOGITS, np.float32(np.inf)), exact).usable
