"""Micro-batching: concurrent tensor requests for the same model version share one forward pass.

A forward pass of 64 rows costs a fraction of 8 passes of 8 rows, so under concurrency the worker
thread drains what is waiting and predicts once: what arrived during a pass is the next batch, so
batches grow with the load and an idle request is computed at once; the most rows one pass may hold
follow the latency target and the pass cost learnt as requests flow (serving/model/batch_window.py).
Requests are grouped by model object: a swap never mixes versions within a batch, and a request still
answers with the version it started with. What arrives together is collected together whatever its
model (a canary interleaves two), then predicted once per model.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from serving.model.batch_window import BatchWindow


@dataclass
class _Item:
    model: Any
    rows: Any  # numpy array, first axis = rows
    arrived: float
    result: Future[Any] = field(default_factory=Future)


class MicroBatcher:
    def __init__(self, window: BatchWindow | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window or BatchWindow()  # read and updated by the batcher thread only
        self.clock = clock
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()

    def predict(self, model: Any, rows: Any) -> Any:
        """model.predict(rows), possibly computed together with other requests' rows."""
        item = _Item(model, rows, self.clock())
        self._queue.put(item)
        return item.result.result()

    def _collect(self) -> list[_Item]:
        """The next batch: the first item waited for, then what is queued (and what arrives within a
        pinned wait), up to the window's row limit."""
        first = self._queue.get()
        window, rows, limit = [first], len(first.rows), self.window.rows_limit()
        while rows < limit:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                wait = self.window.wait_s(self.clock(), first.arrived)
                if wait <= 0.0:
                    break
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    break
            window.append(item)
            rows += len(item.rows)
        return window

    def _run(self) -> None:
        while True:
            window = self._collect()
            by_model: dict[int, list[_Item]] = {}
            for item in window:
                by_model.setdefault(id(item.model), []).append(item)
            for batch in by_model.values():
                self._predict(batch)

    def _predict(self, batch: list[_Item]) -> None:
        import numpy as np

        try:
            stacked = batch[0].rows if len(batch) == 1 else np.concatenate([i.rows for i in batch])
            started = self.clock()
            out = np.asarray(batch[0].model.predict(stacked))
            self.window.computed(len(stacked), self.clock() - started)
        except Exception as error:
            for item in batch:
                item.result.set_exception(error)
            return
        start = 0
        for item in batch:
            item.result.set_result(out[start : start + len(item.rows)])
            start += len(item.rows)
