"""serving.model.batch_window: the micro-batcher's row limit follows the latency target and the learnt pass
cost; no wait unless one is pinned. Every time is given (a simulated clock), nothing sleeps."""

from __future__ import annotations

import pytest
from serving.model.batch_window import BatchWindow
from serving.settings import Settings, SettingsError


def costs(window: BatchWindow, fixed_s: float, per_row_s: float, sizes: tuple[int, ...] = (1, 4, 16, 64)) -> None:
    for _ in range(30):
        for rows in sizes:
            window.computed(rows, fixed_s + per_row_s * rows)


def test_the_cost_line_is_learnt_from_passes_of_several_sizes() -> None:
    window = BatchWindow(target_s=0.050)
    costs(window, fixed_s=0.004, per_row_s=0.0001)
    fixed, per_row = window.cost_line()
    assert fixed == pytest.approx(0.004, rel=1e-6) and per_row == pytest.approx(0.0001, rel=1e-6)


def test_no_wait_unless_one_is_pinned() -> None:
    """The queue is the window: what is there goes now, idle or busy (what arrives during a pass is the
    next batch)."""
    window = BatchWindow(target_s=0.050)
    costs(window, fixed_s=0.004, per_row_s=0.0001)
    assert window.wait_s(10.0, oldest=10.0) == 0.0


def test_a_new_cost_takes_over_within_a_few_dozen_passes() -> None:
    window = BatchWindow(target_s=0.050)
    costs(window, fixed_s=0.004, per_row_s=0.0001)
    assert window.rows_limit() in (209, 210)  # (25 - 4) ms / 0.1 ms, floored
    costs(window, fixed_s=0.005, per_row_s=0.0004)  # a heavier version now answers
    assert window.rows_limit() == 50


def test_the_row_limit_is_what_fits_the_budget() -> None:
    window = BatchWindow(target_s=0.050, max_rows=512)
    assert window.rows_limit() == 512  # nothing measured yet
    costs(window, fixed_s=0.005, per_row_s=0.0004)
    # (25 ms budget - 5 ms fixed) / 0.4 ms per row = 50 rows.
    assert window.rows_limit() == 50
    tight = BatchWindow(target_s=0.004)
    costs(tight, fixed_s=0.005, per_row_s=0.0004)
    assert tight.rows_limit() == 1  # the target cannot be met: one request per pass, never zero


def test_a_pinned_window_waits_from_the_oldest_request() -> None:
    window = BatchWindow(fixed_wait_s=0.010)
    assert window.wait_s(100.004, oldest=100.0) == pytest.approx(0.006)
    assert window.wait_s(100.020, oldest=100.0) == 0.0


@pytest.mark.parametrize(
    ("env", "target", "wait"),
    [({}, None, None), ({"SERVING_P99_TARGET_MS": "80", "SERVING_BATCH_WAIT_MS": "0"}, 80.0, 0.0)],
)
def test_settings(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], target: float | None, wait: float | None
) -> None:
    for name in ("SERVING_P99_TARGET_MS", "SERVING_BATCH_WAIT_MS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert (settings.p99_target_ms, settings.batch_wait_ms) == (target, wait)
    window = BatchWindow.configured(settings.p99_target_ms, settings.batch_wait_ms)
    assert window.target_s == (target or 50.0) / 1000


@pytest.mark.parametrize(("name", "value"), [("SERVING_P99_TARGET_MS", "0"), ("SERVING_BATCH_WAIT_MS", "soon")])
def test_bad_settings_are_one_line(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"{name}='{value}': expected milliseconds"):
        Settings.from_env()
