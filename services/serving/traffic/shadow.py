"""Shadow scoring: the champion answers; a copy of the request waits in a bounded queue and one
background thread scores it with the challenger, busy at most `shadow_max_busy` of the time. A full
queue drops the copy (counted); a challenger that throws, hangs or answers another shape is counted:
the client's answer never depends on it."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contract.aliases import CHALLENGER

from serving import metrics
from serving.model.slot import LoadedModel
from serving.settings import Settings
from serving.traffic.comparison import Agreement, LiveComparison, agreement

log = logging.getLogger("serving.challenger")


@dataclass
class _ShadowCopy:
    champion: LoadedModel
    challenger: LoadedModel
    champion_answer: Any
    score: Callable[[], Any]  # the challenger's answer to the same input


class ShadowScorer:
    """Scores copies of answered requests with the challenger, on one background thread."""

    def __init__(self, settings: Settings, comparison: LiveComparison) -> None:
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
        # Started by the first copy, not with the app: a server without a challenger never runs it.
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
            outcome: Agreement | None = agreement(copy.champion_answer, answer, self.settings.agreement_tolerance)
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
