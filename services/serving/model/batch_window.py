"""How long the micro-batcher waits for company and how many rows it packs, from live figures.

A fixed window is wrong both ways: idle, every wait is pure latency; busy, it is too short to matter.
What a wait buys is fewer passes: at an arrival rate r, passes of b rows keep up only while
r * (fixed + per_row * b) <= b, i.e. b >= r * fixed / (1 - r * per_row). So the batcher waits for company
only while the batch is smaller than that size (with HEADROOM, so the queue drains rather than merely
keeps level), never longer than a few mean gaps at a time, and never past the latency budget. Idle, that
size is below one row: no wait. The window follows two figures measured as requests flow, and one setting:

- the forward pass's cost as `fixed + per_row * rows`, a least-squares line over recent passes
  (exponentially weighted, so a new version's cost takes over within a few dozen passes);
- the gap between arrivals (exponentially weighted: after an idle spell one arrival makes it large,
  so the first request after it is computed at once);
- the latency target, SERVING_P99_TARGET_MS: BUDGET_SHARE of it is what the oldest request of a batch
  may spend waiting plus being computed; the rest is left to HTTP, parsing and scheduling. The row
  limit is the most rows whose pass fits that budget.

SERVING_BATCH_WAIT_MS pins the window instead (wait that long after the first request, as Triton's
`max_queue_delay` does): for comparing, or for a model whose cost the line does not describe.
All times come from the caller (`now`), so the rules run under a simulated clock in the unit tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_P99_TARGET_MS = 50.0
BUDGET_SHARE = 0.5
MAX_ROWS = 512
SMOOTHING = 0.1  # the weight of the newest observation in each moving figure
WAIT_GAPS = 2.0  # one wait lasts at most this many mean gaps: the next arrival is late, compute
HEADROOM = 1.5  # batches sized for this multiple of the arrival rate


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
    fixed_wait_s: float | None = None  # SERVING_BATCH_WAIT_MS: a pinned window instead of the adaptive one
    _gap_s: float | None = None
    _last_arrival: float | None = None
    _cost: _Moments = field(default_factory=_Moments)

    @classmethod
    def configured(cls, target_ms: float | None, wait_ms: float | None) -> BatchWindow:
        """SERVING_P99_TARGET_MS (None: the default) and SERVING_BATCH_WAIT_MS (None: adaptive)."""
        target = (target_ms if target_ms is not None else DEFAULT_P99_TARGET_MS) / 1000
        return cls(target_s=target, fixed_wait_s=None if wait_ms is None else wait_ms / 1000)

    @property
    def budget_s(self) -> float:
        return self.target_s * BUDGET_SHARE

    @property
    def gap_s(self) -> float | None:
        """The mean gap between arrivals; None until two requests came."""
        return self._gap_s

    def arrived(self, at: float) -> None:
        """A request entered the queue at `at` (arrival order; the batcher reports them as it takes them)."""
        if self._last_arrival is not None:
            gap = max(0.0, at - self._last_arrival)
            self._gap_s = gap if self._gap_s is None else self._gap_s + SMOOTHING * (gap - self._gap_s)
        self._last_arrival = at if self._last_arrival is None else max(at, self._last_arrival)

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

    def rows_to_keep_up(self) -> float:
        """The batch size at which passes keep up with HEADROOM times the arrival rate; 0 before the
        figures exist, the row limit when no size can."""
        if self._gap_s is None or not self._cost.passes:
            return 0.0
        fixed, per_row = self.cost_line()
        rate = HEADROOM / max(self._gap_s, 1e-9)
        spare = 1.0 - rate * per_row
        return float(self.rows_limit()) if spare <= 0.0 else min(float(self.rows_limit()), rate * fixed / spare)

    def wait_s(self, now: float, oldest: float, rows: int) -> float:
        """How long to wait, from `now`, for one more request to join a batch of `rows` rows whose oldest
        request arrived at `oldest`; 0: compute now."""
        if self.fixed_wait_s is not None:
            return max(0.0, oldest + self.fixed_wait_s - now)
        if rows >= self.rows_to_keep_up():
            return 0.0  # idle or light, or big enough already: compute now
        gap = self._gap_s or 0.0
        fixed, per_row = self.cost_line()
        slack = self.budget_s - (now - oldest) - (fixed + per_row * (rows + 1))
        return max(0.0, min(slack, WAIT_GAPS * gap))
