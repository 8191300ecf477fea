"""Micro-batching: concurrent tensor requests for the same model version share one forward pass.

A forward pass of 64 rows costs a fraction of 8 passes of 8 rows, so under concurrency the worker
thread drains what is waiting (up to MAX_BATCH_ROWS, waiting at most MAX_WAIT_S for company) and
predicts once. Requests are grouped by model object: a swap never mixes versions within a batch,
and a request still answers with the version it started with. What arrives together is collected
together whatever its model (a canary interleaves two), then predicted once per model.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

MAX_BATCH_ROWS = 512
MAX_WAIT_S = 0.001


@dataclass
class _Item:
    model: Any
    rows: Any  # numpy array, first axis = rows
    result: Future[Any]


class MicroBatcher:
    def __init__(self, max_rows: int = MAX_BATCH_ROWS, max_wait_s: float = MAX_WAIT_S) -> None:
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()

    def predict(self, model: Any, rows: Any) -> Any:
        """model.predict(rows), possibly computed together with other requests' rows."""
        item = _Item(model, rows, Future())
        self._queue.put(item)
        return item.result.result()

    def _collect(self) -> list[_Item]:
        """The next batch window: the first item waited for, then what arrives within max_wait_s, up to
        max_rows rows."""
        first = self._queue.get()
        window, rows = [first], len(first.rows)
        deadline = time.monotonic() + self.max_wait_s
        while rows < self.max_rows:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
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

    @staticmethod
    def _predict(batch: list[_Item]) -> None:
        import numpy as np

        try:
            stacked = batch[0].rows if len(batch) == 1 else np.concatenate([i.rows for i in batch])
            out = np.asarray(batch[0].model.predict(stacked))
        except Exception as error:
            for item in batch:
                item.result.set_exception(error)
            return
        start = 0
        for item in batch:
            item.result.set_result(out[start : start + len(item.rows)])
            start += len(item.rows)
