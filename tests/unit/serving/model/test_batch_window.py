"""serving.model.batch_window: the micro-batcher's wait and row limit follow the load and the latency
target, under a simulated clock (every time is given, nothing sleeps)."""

from __future__ import annotations

import pytest
from serving.model.batch_window import BUDGET_SHARE, WAIT_GAPS, BatchWindow
from serving.settings import Settings, SettingsError


def fed(window: BatchWindow, *, gap_s: float, arrivals: int = 50, start: float = 0.0) -> float:
    """`arrivals` requests `gap_s` apart; the time of the last one."""
    at = start
    for i in range(arrivals):
        at = start + i * gap_s
        window.arrived(at)
    return at


def costs(window: BatchWindow, fixed_s: float, per_row_s: float, sizes: tuple[int, ...] = (1, 4, 16, 64)) -> None:
    for _ in range(30):
        for rows in sizes:
            window.computed(rows, fixed_s + per_row_s * rows)


def test_the_cost_line_is_learnt_from_passes_of_several_sizes() -> None:
    window = BatchWindow(target_s=0.050)
    costs(window, fixed_s=0.004, per_row_s=0.0001)
    fixed, per_row = window.cost_line()
    assert fixed == pytest.approx(0.004, rel=1e-6) and per_row == pytest.approx(0.0001, rel=1e-6)


def test_idle_means_no_wait() -> None:
    """Requests seconds apart: the first of a batch is computed at once."""
    window = BatchWindow(target_s=0.050)
    costs(window, fixed_s=0.004, per_row_s=0.0001)
    now = fed(window, gap_s=2.0)
    assert window.wait_s(now, oldest=now, rows=1) == 0.0


def test_no_figures_yet_means_no_wait() -> None:
    window = BatchWindow(target_s=0.050)
    window.arrived(0.0)
    assert window.wait_s(0.0, oldest=0.0, rows=1) == 0.0


def test_under_load_it_waits_for_company_within_the_budget() -> None:
    """Arrivals 1 ms apart, a pass costing 4 ms fixed: one-row passes cannot keep up, so the batcher waits
    for company (a few gaps at most) until the batch is big enough, and never past what the target leaves."""
    window = BatchWindow(target_s=0.050)
    costs(window, fixed_s=0.004, per_row_s=0.0001)
    now = fed(window, gap_s=0.001)
    needed = window.rows_to_keep_up()
    # 1.5 x 1000 req/s x 4 ms / (1 - 1.5 x 1000 x 0.1 ms) = 7.06 rows
    assert needed == pytest.approx(1.5 * 1000 * 0.004 / (1 - 1.5 * 1000 * 0.0001), rel=1e-3)
    wait = window.wait_s(now, oldest=now, rows=1)
    assert 0.0 < wait <= WAIT_GAPS * 0.001 + 1e-9
    assert window.wait_s(now, oldest=now, rows=8) == 0.0  # big enough: compute
    # The oldest request already spent most of the budget: no more waiting.
    budget = 0.050 * BUDGET_SHARE
    assert window.wait_s(now, oldest=now - budget + 0.004, rows=2) == 0.0


def test_the_window_widens_with_the_load_and_closes_when_passes_keep_up_alone() -> None:
    needed, waits = [], []
    for gap in (0.0005, 0.001, 0.002, 0.003, 0.02):  # heavier to lighter load
        window = BatchWindow(target_s=0.050)
        costs(window, fixed_s=0.004, per_row_s=0.0001)
        now = fed(window, gap_s=gap)
        needed.append(window.rows_to_keep_up())
        waits.append(window.wait_s(now, oldest=now, rows=1))
    assert needed == sorted(needed, reverse=True)  # heavier load, bigger batches
    assert all(w > 0 for w in waits[:4]) and waits[4] == 0.0  # 50 req/s: one-row passes keep up


def test_overload_packs_as_many_rows_as_the_budget_allows() -> None:
    window = BatchWindow(target_s=0.050)
    costs(window, fixed_s=0.004, per_row_s=0.001)
    fed(window, gap_s=0.0002)  # 5000 req/s: 1.5 x 5000 x 1 ms per row > 1, no size keeps up
    assert window.rows_to_keep_up() == window.rows_limit() == 21  # (25 - 4) ms / 1 ms


def test_an_idle_spell_ends_the_waiting_at_once() -> None:
    window = BatchWindow(target_s=0.050)
    costs(window, fixed_s=0.004, per_row_s=0.0001)
    now = fed(window, gap_s=0.001)
    assert window.wait_s(now, oldest=now, rows=1) > 0
    later = now + 5.0  # quiet for 5 s, then one request
    window.arrived(later)
    assert window.wait_s(later, oldest=later, rows=1) == 0.0


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
    assert window.wait_s(100.004, oldest=100.0, rows=3) == pytest.approx(0.006)
    assert window.wait_s(100.020, oldest=100.0, rows=3) == 0.0


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
