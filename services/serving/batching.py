"""Micro-batching: concurrent tensor requests for the same model version share one forward pass.

A forward pass of 64 rows costs a fraction of 8 passes of 8 rows, so under concurrency the worker
thread drains what is waiting (up to MAX_BATCH_ROWS, waiting at most MAX_WAIT_S for company) and
predicts once. Requests are grouped by model object: a swap never mixes versions within a batch,
and a request still answers with the version it started with.
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
        self._held: _Item | None = None  # the first item of the next batch (another model's)
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()

    def predict(self, model: Any, rows: Any) -> Any:
        """model.predict(rows), possibly computed together with other requests' rows."""
        item = _Item(model, rows, Future())
        self._queue.put(item)
        return item.result.result()

    def _next(self, timeout: float | None) -> _Item | None:
        if self._held is not None:
            item, self._held = self._held, None
            return item
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _run(self) -> None:
        import numpy as np

        while True:
            first = self._next(timeout=None)
            assert first is not None
            batch, rows = [first], len(first.rows)
            deadline = time.monotonic() + self.max_wait_s
            while rows < self.max_rows:
                item = self._next(timeout=max(0.0, deadline - time.monotonic()))
                if item is None:
                    break
                if item.model is not first.model:
                    self._held = item
                    break
                batch.append(item)
                rows += len(item.rows)
            try:
                stacked = batch[0].rows if len(batch) == 1 else np.concatenate([i.rows for i in batch])
                out = np.asarray(first.model.predict(stacked))
            except Exception as error:
                for item in batch:
                    item.result.set_exception(error)
                continue
            start = 0
            for item in batch:
                item.result.set_result(out[start : start + len(item.rows)])
                start += len(item.rows)
