"""serving.traffic.router: the canary share is kept, and a client key always lands on the same side."""

from __future__ import annotations

from collections.abc import Callable

from serving.model.slot import LoadedModel
from serving.settings import Settings
from serving.traffic.router import CanaryRouter


def test_canary_share_is_kept_and_a_key_is_sticky(make_settings: Callable[..., Settings]) -> None:
    router = CanaryRouter(make_settings(challenger_mode="canary", canary_share=0.1))
    challenger = LoadedModel("demo", "4", "challenger", "run-4", None, None)
    picked = sum(router.picks_challenger({}, challenger) for _ in range(20_000))
    assert abs(picked / 20_000 - 0.1) < 0.01
    by_key = {key: router.picks_challenger({"X-Canary-Key": key}, challenger) for key in map(str, range(5000))}
    assert all(router.picks_challenger({"X-Canary-Key": k}, challenger) == v for k, v in list(by_key.items())[:500])
    assert abs(sum(by_key.values()) / 5000 - 0.1) < 0.02
    assert not router.picks_challenger({}, None)
    shadow = CanaryRouter(make_settings(challenger_mode="shadow", canary_share=1.0))
    assert not shadow.picks_challenger({}, challenger)


def test_a_run_of_failures_drops_the_version_until_a_new_one_comes(make_settings: Callable[..., Settings]) -> None:
    router = CanaryRouter(make_settings(challenger_mode="canary", canary_share=1.0, challenger_max_failures=2))
    four, five = (LoadedModel("demo", v, "challenger", f"run-{v}", None, None) for v in ("4", "5"))
    router.outcome(four, RuntimeError("bug"))
    router.outcome(four, None)  # a success ends the run
    router.outcome(four, RuntimeError("bug"))
    assert router.routed(four) and router.state_reason(four) is None
    router.outcome(four, RuntimeError("bug\nwith  lines"))
    assert not router.routed(four) and not router.picks_challenger({}, four)
    assert router.state_reason(four) == (
        "version 4 dropped from canary routing after 2 failures in a row (last: RuntimeError: bug with lines); "
        "a new version on @challenger is routed again"
    )
    assert router.routed(five) and router.picks_challenger({}, five)
