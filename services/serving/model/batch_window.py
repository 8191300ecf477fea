"""The micro-batcher's window: how long it waits for company, and how many rows one pass may hold.

The window is the queue itself. A pass starts as soon as a request is there, and what arrives while it
runs forms the next batch, so batches grow with the load on their own: under an arrival rate r, a pass
of b rows gathers r * (fixed + per_row * b) rows for the next, the size at which passes keep up. Idle,
every request is computed at once. A deliberate wait adds nothing to that, only latency: measured
(bench/bench_batch_window.py, bench/RESULTS.md), the fixed 1 ms wait this replaced cost 1 ms of p50 when
idle and nothing was gained under load, and waiting until a batch reached its keep-up size doubled the
p99 at moderate loads.

What follows the latency target, SERVING_P99_TARGET_MS, is the size: BUDGET_SHARE of the target is what
one pass may take, so the row limit is the most rows whose predicted cost fits it. The cost is learnt as
`fixed + per_row * rows`, a least-squares line over recent passes (exponentially weighted, so a new
version's cost takes over within a few dozen passes). Under overload the limit keeps each pass, and so
each answer, within the budget instead of letting batches grow without end.

SERVING_BATCH_WAIT_MS pins a wait instead (after the first request, as Triton's `max_queue_delay`): for a
model whose passes compete with request handling for the CPU, where fewer, fuller passes can pay.
Times come from the caller, so the rules run under a simulated clock in the unit tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_P99_TARGET_MS = 50.0
BUDGET_SHARE = 0.5
MAX_ROWS = 512
SMOOTHING = 0.1  # the weight of the newest pass in the cost line


@dataclass
class _Moments:
    """Exponentially weighted means of rows, seconds, rows^2 and rows*seconds over forward passes."""

    n: float = 0.0
    t: float = 0.0
    nn: float = 0.0
    nt: float = 0.0
    passes: int = 0

    def add(self, rows: float, seconds: float) -> None:
        weight = SMOOTHING if self.passes else 1.0
        self.n += weight * (rows - self.n)
        self.t += weight * (seconds - self.t)
        self.nn += weight * (rows * rows - self.nn)
        self.nt += weight * (rows * seconds - self.nt)
        self.passes += 1


@dataclass
class BatchWindow:
    target_s: float = DEFAULT_P99_TARGET_MS / 1000
    max_rows: int = MAX_ROWS
    fixed_wait_s: float | None = None  # SERVING_BATCH_WAIT_MS: a pinned wait; None: none
    _cost: _Moments = field(default_factory=_Moments)

    @classmethod
    def configured(cls, target_ms: float | None, wait_ms: float | None) -> BatchWindow:
        """SERVING_P99_TARGET_MS (None: the default) and SERVING_BATCH_WAIT_MS (None: no pinned wait)."""
        target = (target_ms if target_ms is not None else DEFAULT_P99_TARGET_MS) / 1000
        return cls(target_s=target, fixed_wait_s=None if wait_ms is None else wait_ms / 1000)

    @property
    def budget_s(self) -> float:
        return self.target_s * BUDGET_SHARE

    def computed(self, rows: int, seconds: float) -> None:
        """A forward pass of `rows` rows took `seconds`."""
        self._cost.add(float(rows), max(0.0, seconds))

    def cost_line(self) -> tuple[float, float]:
        """(fixed seconds, seconds per row) of a forward pass; (0, 0) before the first pass. While every
        pass had the same size the two cannot be told apart: all of it counts as fixed."""
        c = self._cost
        if not c.passes:
            return 0.0, 0.0
        variance = c.nn - c.n * c.n
        if variance <= 1e-6 * max(1.0, c.n * c.n):
            return c.t, 0.0
        per_row = max(0.0, (c.nt - c.n * c.t) / variance)
        return max(0.0, c.t - per_row * c.n), per_row

    def rows_limit(self) -> int:
        """The most rows in one pass: those whose predicted cost fits the budget (at least 1)."""
        fixed, per_row = self.cost_line()
        if per_row <= 0.0:
            return self.max_rows
        return max(1, min(self.max_rows, int((self.budget_s - fixed) / per_row)))

    def wait_s(self, now: float, oldest: float) -> float:
        """How long to wait, from `now`, for more requests to join a batch whose oldest request arrived
        at `oldest`: 0 (what is queued goes now), or what is left of a pinned wait."""
        if self.fixed_wait_s is None:
            return 0.0
        return max(0.0, oldest + self.fixed_wait_s - now)
