"""The challenger on live traffic: a second alias of the same model, compared with the champion on the
requests clients send, without ever costing a client its answer.

- Shadow: the champion answers; a copy of the request waits in a bounded queue and one background
  thread scores it with the challenger, busy at most `shadow_max_busy` of the time. A full queue drops
  the copy (counted); a challenger that throws, hangs or answers another shape is counted: the client's
  answer never depends on it.
- Canary: `canary_share` of the requests are answered by the challenger (a client that sends the key
  header always gets the same version); its errors are the client's and counted, and a run of them drops
  it from routing until a new version holds the alias.
- The comparison (requests, errors and latency per version; agreement in shadow mode) is for one pair of
  versions: it starts over when either alias moves. /comparison shows it, Prometheus counts it, and it is
  logged periodically as metrics on the challenger's MLflow run.
"""

from __future__ import annotations

import hashlib
import logging
import math
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from serving import metrics
from serving.periodic import Periodic
from serving.settings import Settings
from serving.slot import LoadedModel

log = logging.getLogger("serving.challenger")

T = TypeVar("T")

CHAMPION = "champion"
CHALLENGER = "challenger"
LATENCY_SAMPLES = 10_000  # per version: enough for a p99 over the recent traffic


class ShapeMismatch(ValueError):
    """The challenger answered with another shape than the champion: nothing to compare."""


def agreement(champion: Any, challenger: Any, tolerance: float) -> tuple[str, int, int]:
    """(kind, rows that agree, rows compared). Scores per class (2-D, several columns): the same top
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

    def figures(self, alias: str) -> dict[str, Any]:
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


class Comparison:
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
        self.kind: str | None = None
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
        with self._lock:
            self._follow(champion, challenger)
            (self.challenger if role == CHALLENGER else self.champion).record(seconds, ok)

    def shadowed(
        self,
        champion: LoadedModel,
        challenger: LoadedModel,
        seconds: float,
        outcome: tuple[str, int, int] | None,
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

    def snapshot(self, champion: LoadedModel | None, challenger: LoadedModel | None) -> dict[str, Any]:
        with self._lock:
            self._follow(champion, challenger)
            return {
                "since": _iso(self.since) if self.since else None,
                "champion": self.champion.figures(champion.alias if champion else CHAMPION),
                "challenger": self.challenger.figures(challenger.alias if challenger else CHALLENGER),
                "compared": self.compared,
                "agreed": self.agreed,
                "agreement": round(self.agreed / self.compared, 6) if self.compared else None,
                "kind": self.kind,
                "shadow_dropped": self.dropped,
            }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat()


def _bucket(key: str) -> float:
    """A client key's fixed place in [0, 1): the same key lands on the same side of any share."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


class CanaryRouter:
    """Which version answers a request in canary mode, and when the challenger is dropped from it."""

    def __init__(self, settings: Settings, draw: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self._draw = draw
        self._lock = threading.Lock()
        self._failures = 0
        self._dropped_version: str | None = None
        self.dropped_reason: str | None = None

    def routed(self, challenger: LoadedModel | None) -> bool:
        return challenger is not None and challenger.version != self._dropped_version

    def picks_challenger(self, headers: Mapping[str, str], challenger: LoadedModel | None) -> bool:
        if self.settings.challenger_mode != "canary" or not self.routed(challenger):
            return False
        key = headers.get(self.settings.canary_key_header)
        return (_bucket(key) if key else self._draw()) < self.settings.canary_share

    def outcome(self, challenger: LoadedModel, error: BaseException | None) -> None:
        with self._lock:
            if error is None:
                self._failures = 0
                return
            self._failures += 1
            if self._failures < self.settings.challenger_max_failures or not self.routed(challenger):
                return
            self._dropped_version, self._failures = challenger.version, 0
            self.dropped_reason = (
                f"version {challenger.version} dropped from canary routing after "
                f"{self.settings.challenger_max_failures} failures in a row (last: {type(error).__name__}: "
                f"{' '.join(str(error).split())[:200]}); a new version on @{challenger.alias} is routed again"
            )
            log.warning("%s", self.dropped_reason)

    def state_reason(self, challenger: LoadedModel | None) -> str | None:
        if challenger is not None and not self.routed(challenger):
            return self.dropped_reason
        return None


@dataclass
class _ShadowCopy:
    champion: LoadedModel
    challenger: LoadedModel
    champion_answer: Any
    score: Callable[[], Any]  # the challenger's answer to the same input


class ShadowScorer:
    """Scores copies of answered requests with the challenger, on one background thread."""

    def __init__(self, settings: Settings, comparison: Comparison) -> None:
        self.settings = settings
        self.comparison = comparison
        self._queue: queue.Queue[_ShadowCopy] = queue.Queue(maxsize=max(1, settings.shadow_queue_size))
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, champion: LoadedModel, challenger: LoadedModel, answer: Any, score: Callable[[], Any]) -> None:
        """Never blocks: a full queue drops the copy and counts it."""
        self._ensure_thread()
        try:
            self._queue.put_nowait(_ShadowCopy(champion, challenger, answer, score))
        except queue.Full:
            metrics.SHADOW_DROPPED.inc()
            self.comparison.dropped_one(champion, challenger)

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="shadow-scorer", daemon=True)
                self._thread.start()

    def queued(self) -> int:
        """Copies waiting or being scored."""
        return self._queue.unfinished_tasks

    def drain(self, timeout_s: float) -> bool:
        """Wait until every queued copy is scored (tests, shutdown); False when time ran out."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _run(self) -> None:
        while True:
            copy = self._queue.get()
            started = time.monotonic()
            try:
                self.score(copy)
            finally:
                self._queue.task_done()
            self._rest(time.monotonic() - started)

    def _rest(self, busy_s: float) -> None:
        """Keep the shadow's share of the time at most `shadow_max_busy`: after scoring for busy_s, wait
        (GIL released) long enough that requests get the CPU back; copies that arrive meanwhile queue, and
        past the queue's size are dropped. A lower OS priority for this thread would not do: it would hold
        the GIL while descheduled, and the requests would wait for it."""
        share = self.settings.shadow_max_busy
        if 0 < share < 1:
            time.sleep(busy_s * (1 - share) / share)

    def score(self, copy: _ShadowCopy) -> None:
        started = time.perf_counter()
        version = copy.challenger.version
        try:
            answer = copy.score()
            outcome: tuple[str, int, int] | None = agreement(
                copy.champion_answer, answer, self.settings.agreement_tolerance
            )
        except Exception as error:  # a broken challenger is a figure, never a crash
            outcome = None
            log.debug("shadow: version %s failed: %s: %s", version, type(error).__name__, error)
        seconds = time.perf_counter() - started
        metrics.PREDICT_SECONDS.labels(CHALLENGER, "shadow").observe(seconds)
        metrics.PREDICTIONS.labels(CHALLENGER, version, "shadow", "ok" if outcome else "error").inc()
        if outcome is not None:
            kind, agreed, compared = outcome
            metrics.SHADOW_COMPARED.labels(kind).inc(compared)
            metrics.SHADOW_AGREED.labels(kind).inc(agreed)
        self.comparison.shadowed(copy.champion, copy.challenger, seconds, outcome)


class ComparisonLogger:
    """Every `comparison_log_interval_s`, the comparison as metrics on the challenger's MLflow run, so it
    sits next to the run's own metrics in the MLflow UI. Failures are logged and retried next time."""

    def __init__(self, settings: Settings, figures: Callable[[], dict[str, Any]]) -> None:
        self.settings = settings
        self.figures = figures
        self._last: tuple[Any, ...] | None = None
        self._step = 0
        self._loop = Periodic("comparison-logger", settings.comparison_log_interval_s, self.log_once, first_now=False)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def log_once(self) -> bool:
        """True when a new set of figures was logged."""
        figures = self.figures()
        challenger = figures["challenger"]
        if not challenger["run_id"] or not challenger["requests"]:
            return False
        values = live_metrics(figures)
        key = (challenger["run_id"], *sorted(values.items()))
        if key == self._last:
            return False
        try:
            from mlflow import MlflowClient
            from mlflow.entities import Metric

            stamp = int(time.time() * 1000)
            batch = [Metric(name, value, stamp, self._step) for name, value in values.items()]
            MlflowClient(tracking_uri=self.settings.tracking_uri).log_batch(challenger["run_id"], metrics=batch)
        except Exception as error:
            log.warning("comparison not logged to run %s: %s: %s", challenger["run_id"], type(error).__name__, error)
            return False
        self._last, self._step = key, self._step + 1
        return True


def live_metrics(figures: Mapping[str, Any]) -> dict[str, float]:
    """The comparison as MLflow metrics (numbers only; a figure not known yet is left out)."""
    challenger, champion = figures["challenger"], figures["champion"]
    values: dict[str, float | None] = {
        "live_requests": challenger["requests"],
        "live_errors": challenger["errors"],
        "live_error_rate": challenger["errors"] / challenger["requests"] if challenger["requests"] else None,
        "live_p99_ms": challenger["p99_ms"],
        "live_champion_p99_ms": champion["p99_ms"],
        "live_agreement": figures["agreement"],
        "live_compared": figures["compared"] or None,
        "live_shadow_dropped": figures["shadow_dropped"],
    }
    return {name: float(value) for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class Pick:
    """Who answers one request: `model` (champion or challenger, `role`), and the pair it was picked
    from, taken once so a swap mid-request changes nothing for it."""

    model: LoadedModel
    role: str
    champion: LoadedModel
    challenger: LoadedModel | None


class LiveTraffic:
    """The one place requests meet the challenger: routing, timing, counting, shadow copies, figures."""

    def __init__(self, settings: Settings, champion: Any, challenger: Any) -> None:
        self.settings = settings
        self.champion_slot = champion  # ModelSlot
        self.challenger_slot = challenger  # ModelSlot
        self.comparison = Comparison()
        self.router = CanaryRouter(settings)
        self.shadow = ShadowScorer(settings, self.comparison)
        metrics.CHALLENGER_ROUTED.set_function(lambda: float(self._routed(self._challenger())))

    def pick(self, headers: Mapping[str, str]) -> Pick | None:
        champion: LoadedModel | None = self.champion_slot.current
        if champion is None:
            return None
        challenger = self._challenger()
        if self.router.picks_challenger(headers, challenger):
            assert challenger is not None
            return Pick(challenger, CHALLENGER, champion, challenger)
        return Pick(champion, CHAMPION, champion, challenger)

    def answer(self, pick: Pick, predict: Callable[[], T]) -> T:
        """predict(), timed and counted for the version that answers; its exception is the client's."""
        started = time.perf_counter()
        try:
            result = predict()
        except Exception as error:
            self._answered(pick, time.perf_counter() - started, error)
            raise
        self._answered(pick, time.perf_counter() - started, None)
        return result

    def _answered(self, pick: Pick, seconds: float, error: Exception | None) -> None:
        metrics.PREDICT_SECONDS.labels(pick.role, "answered").observe(seconds)
        metrics.PREDICTIONS.labels(pick.role, pick.model.version, "answered", "error" if error else "ok").inc()
        self.comparison.answered(pick.champion, pick.challenger, pick.role, seconds, error is None)
        if pick.role == CHALLENGER:
            self.router.outcome(pick.model, error)

    def shadows(self, pick: Pick) -> bool:
        """Whether this request's answer gets a shadow copy (shadow mode, a challenger, the champion answered)."""
        return self.settings.challenger_mode == "shadow" and pick.challenger is not None and pick.role == CHAMPION

    def shadow_copy(self, pick: Pick, answer: Any, score: Callable[[LoadedModel], Any]) -> None:
        """In shadow mode, after the champion answered: score(challenger) off the response path."""
        challenger = pick.challenger
        if not self.shadows(pick) or challenger is None:
            return
        self.shadow.submit(pick.champion, challenger, answer, lambda: score(challenger))

    def figures(self) -> dict[str, Any]:
        """GET /comparison."""
        champion, challenger = self.champion_slot.current, self._challenger()
        snapshot = self.comparison.snapshot(champion, challenger)
        snapshot["challenger"].update(routed=self._routed(challenger), state_reason=self._state_reason(challenger))
        snapshot["shadow_queued"] = self.shadow.queued()
        return {
            "model": self.settings.model_name,
            "mode": self.settings.challenger_mode if self.settings.follows_challenger else "off",
            "canary_share": self.settings.canary_share,
            **snapshot,
        }

    def challenger_status(self) -> dict[str, Any] | None:
        """The challenger's part of GET /model; None when no challenger is followed."""
        if not self.settings.follows_challenger:
            return None
        challenger, status = self._challenger(), self.challenger_slot.status
        return {
            "alias": self.settings.challenger_alias,
            "mode": self.settings.challenger_mode,
            "canary_share": self.settings.canary_share if self.settings.challenger_mode == "canary" else None,
            "version": challenger.version if challenger else None,
            "run_id": challenger.run_id if challenger else None,
            "loaded_at": _iso(challenger.loaded_at) if challenger else None,
            "routed": self._routed(challenger),
            "state_reason": self._state_reason(challenger),
            "last_swap_error": status.last_swap_error,
            "last_swap_error_version": status.last_swap_error_version,
        }

    def _challenger(self) -> LoadedModel | None:
        current: LoadedModel | None = self.challenger_slot.current
        return current if self.settings.follows_challenger else None

    def _routed(self, challenger: LoadedModel | None) -> bool:
        return self.settings.challenger_mode == "canary" and self.router.routed(challenger)

    def _state_reason(self, challenger: LoadedModel | None) -> str | None:
        if not self.settings.follows_challenger:
            return "no challenger followed (MODEL_CHALLENGER_MODE=off or MODEL_CHALLENGER_ALIAS empty)"
        if challenger is None:
            return self.challenger_slot.status.not_ready_reason or "no challenger loaded"
        return self.router.state_reason(challenger)
