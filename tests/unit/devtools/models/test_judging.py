"""devtools.models.judging: the comparison judged (canary, unknown p99, inclusive thresholds, nothing compared
yet, when there is nothing to judge), pure."""

from __future__ import annotations

from devtools.models import judging
from devtools.models.judging import Thresholds
from testing.comparisons import MODEL, comparison


def test_canary_mode_has_no_agreement_and_names_the_share() -> None:
    canary = comparison(mode="canary", canary_share=0.25, compared=0, agreed=0, agreement=None,
                        challenger={"routed": False, "state_reason": "5 failures in a row"})  # fmt: skip

    results = judging.checks(canary, Thresholds())
    lines = judging.table(canary)

    assert (results[-1].passed, results[-1].shown) == (None, "n/a (canary)")
    assert lines[0].startswith(f"{MODEL}: canary mode (the challenger answers 25% of the requests)")
    assert "  the challenger is out of canary routing: 5 failures in a row" in lines
    assert lines[-1].strip().startswith("agreement (classification): n/a (canary)")
    assert judging.verdicts(results)[-1] == "  skip  agreement   n/a (canary)"


def test_p99_is_skipped_while_either_is_unknown() -> None:
    results = judging.checks(comparison(champion={"p99_ms": None}), Thresholds())

    assert (results[2].name, results[2].passed) == ("p99_ratio", None)
    assert results[2].shown == "n/a (the champion's p99 is not known yet)"
    assert judging.failures(results) == []


def test_thresholds_are_inclusive() -> None:
    edge = comparison(challenger={"requests": 200, "errors": 2, "p99_ms": 15.0}, compared=200, agreed=190,
                      agreement=0.95)  # fmt: skip

    results = judging.checks(edge, Thresholds())

    assert [check.passed for check in results] == [True, True, True, True]
    assert [check.value for check in results] == [200, 0.01, 1.5, 0.95]


def test_shadow_with_nothing_compared_yet_is_not_judged_on_agreement() -> None:
    results = judging.checks(comparison(compared=0, agreed=0, agreement=None), Thresholds())

    assert (results[-1].passed, results[-1].shown) == (None, "n/a (no answers compared yet)")


def test_refusal_only_without_a_challenger_or_its_data() -> None:
    assert judging.refusal(comparison()) is None
    off = comparison(mode="off", challenger={"version": None, "state_reason": "no challenger followed"})
    assert "(no challenger followed)" in str(judging.refusal(off))
    assert "has scored no requests" in str(judging.refusal(comparison(challenger={"requests": 0})))
