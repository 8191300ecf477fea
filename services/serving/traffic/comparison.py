"""The comparison of the champion and the challenger on live traffic, for one pair of versions: requests,
errors and latency per version, and (shadow) how often their answers agree. It starts over when either
alias moves to another version."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from contract.aliases import CHALLENGER, CHAMPION
from contract.status import ComparisonKind, SideFigures

from serving.model.slot import LoadedModel

LATENCY_SAMPLES = 10_000  # per version: enough for a p99 over the recent traffic

# What a shadow comparison found: (kind, rows that agree, rows compared).
Agreement = tuple[ComparisonKind, int, int]


class ShapeMismatch(ValueError):
    """The challenger answered with another shape than the champion: nothing to compare."""


def agreement(champion: Any, challenger: Any, tolerance: float) -> Agreement:
    """How two answers to the same rows agree. Scores per class (2-D, several columns): the same top
    class. Anything else numeric is a regression: every value within tolerance * max(1, |champion's|).
    Labels (strings): equal."""
    import numpy as np

    ours, theirs = np.asarray(champion), np.asarray(challenger)
    if ours.shape != theirs.shape:
        raise ShapeMismatch(f"the challenger answered shape {theirs.shape}, the champion {ours.shape}")
    rows = 1 if ours.ndim == 0 else ours.shape[0]
    if ours.dtype.kind not in "iufb" or theirs.dtype.kind not in "iufb":
        same = (ours == theirs).reshape(rows, -1).all(axis=1)
        return "classification", int(same.sum()), rows
    if ours.ndim == 2 and ours.shape[1] > 1:
        same = ours.argmax(axis=1) == theirs.argmax(axis=1)
        return "classification", int(same.sum()), rows
    a, b = ours.astype(float).reshape(rows, -1), theirs.astype(float).reshape(rows, -1)
    close = (np.abs(a - b) <= tolerance * np.maximum(1.0, np.abs(a))).all(axis=1)
    return "regression", int(close.sum()), rows


def iso_utc(timestamp: float) -> str:
    """A Unix time as the JSON answers give times: ISO 8601, UTC."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat()


@dataclass
class _Side:
    version: str | None = None
    run_id: str | None = None
    requests: int = 0
    errors: int = 0
    latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))

    def record(self, seconds: float, ok: bool) -> None:
        self.requests += 1
        self.errors += 0 if ok else 1
        self.latencies_s.append(seconds)

    def figures(self, alias: str) -> SideFigures:
        ordered = sorted(self.latencies_s)
        return {
            "alias": alias,
            "version": self.version,
            "run_id": self.run_id,
            "requests": self.requests,
            "errors": self.errors,
            "p50_ms": _percentile_ms(ordered, 0.50),
            "p99_ms": _percentile_ms(ordered, 0.99),
        }


def _percentile_ms(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] * 1000, 3)


@dataclass(frozen=True)
class Snapshot:
    """The figures of one pair of versions at one moment."""

    since: str | None
    champion: SideFigures
    challenger: SideFigures
    compared: int
    agreed: int
    kind: ComparisonKind | None
    dropped: int

    @property
    def agreement(self) -> float | None:
        return round(self.agreed / self.compared, 6) if self.compared else None


class LiveComparison:
    """The figures for the current champion/challenger pair; thread-safe (requests and the shadow
    thread record, /comparison and the MLflow logger read)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._pair: tuple[str | None, str | None] = (None, None)
        self._reset()

    def _reset(self) -> None:
        self.champion, self.challenger = _Side(), _Side()
        self.compared = self.agreed = self.dropped = 0
        self.kind: ComparisonKind | None = None
        self.since: float | None = None

    def _follow(self, champion: LoadedModel | None, challenger: LoadedModel | None) -> None:
        pair = (champion.version if champion else None, challenger.version if challenger else None)
        if pair != self._pair:
            self._pair = pair
            self._reset()
            self.since = self._clock()
            self.champion.version, self.champion.run_id = pair[0], champion.run_id if champion else None
            self.challenger.version, self.challenger.run_id = pair[1], challenger.run_id if challenger else None

    def answered(
        self, champion: LoadedModel, challenger: LoadedModel | None, role: str, seconds: float, ok: bool
    ) -> None:
        """A request answered by `role` (champion or challenger)."""
        with self._lock:
            self._follow(champion, challenger)
            (self.challenger if role == CHALLENGER else self.champion).record(seconds, ok)

    def shadowed(
        self, champion: LoadedModel, challenger: LoadedModel, seconds: float, outcome: Agreement | None
    ) -> None:
        """A shadow copy scored: `outcome` is agreement()'s answer, None when the challenger failed."""
        with self._lock:
            self._follow(champion, challenger)
            self.challenger.record(seconds, outcome is not None)
            if outcome is not None:
                self.kind, agreed, compared = outcome
                self.agreed += agreed
                self.compared += compared

    def dropped_one(self, champion: LoadedModel, challenger: LoadedModel) -> None:
        with self._lock:
            self._follow(champion, challenger)
            self.dropped += 1

    def snapshot(self, champion: LoadedModel | None, challenger: LoadedModel | None) -> Snapshot:
        with self._lock:
            self._follow(champion, challenger)
            return Snapshot(
                since=iso_utc(self.since) if self.since else None,
                champion=self.champion.figures(champion.alias if champion else CHAMPION),
                challenger=self.challenger.figures(challenger.alias if challenger else CHALLENGER),
                compared=self.compared,
                agreed=self.agreed,
                kind=self.kind,
                dropped=self.dropped,
            )
